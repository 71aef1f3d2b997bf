import ArgumentParser
import CellaSandbox

/// `cella sandbox cleanup`: removes what a crashed run left under Cella's cgroup root.
struct SandboxCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Kill and remove sandboxes a crashed run left behind (their cgroups and processes)."
    )

    @Option(help: ArgumentHelp("Cella's directory in each cgroup hierarchy.", valueName: "name"))
    var cgroupRoot: String = "cella"

    @Option(help: ArgumentHelp("Host state directory.", valueName: "dir"))
    var stateDir: String = "/run/cella"

    func run() throws {
        let launcher = try SandboxLauncher(configuration: .init(cgroupRoot: cgroupRoot, stateDirectory: stateDir))
        let removed = launcher.removeStale()
        print(removed.isEmpty ? "nothing to clean up" : "removed \(removed.count) sandbox(es): \(removed.joined(separator: " "))")
    }
}
