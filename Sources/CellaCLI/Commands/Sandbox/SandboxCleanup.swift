import ArgumentParser
import CellaSandbox

/// `cella sandbox cleanup`: removes what a crashed run left under Cella's cgroup root, and the
/// shared roots it left mounted under the state directory.
struct SandboxCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Kill and remove sandboxes a crashed run left behind (their cgroups and processes), and unmount its shared roots."
    )

    @Option(help: ArgumentHelp("Cella's directory in each cgroup hierarchy.", valueName: "name"))
    var cgroupRoot: String = "cella"

    @Option(help: ArgumentHelp("Host state directory.", valueName: "dir"))
    var stateDir: String = "/run/cella"

    func run() throws {
        let launcher = try SandboxLauncher(configuration: .init(cgroupRoot: cgroupRoot, stateDirectory: stateDir))
        let removed = launcher.removeStale()
        var done: [String] = []
        if !removed.sandboxes.isEmpty {
            done.append("removed \(removed.sandboxes.count) sandbox(es): \(removed.sandboxes.joined(separator: " "))")
        }
        if removed.sharedRoots > 0 { done.append("unmounted \(removed.sharedRoots) shared root(s) of a previous run") }
        print(done.isEmpty ? "nothing to clean up" : done.joined(separator: "\n"))
    }
}
