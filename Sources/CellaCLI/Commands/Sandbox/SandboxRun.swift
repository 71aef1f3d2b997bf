import ArgumentParser
import CellaSandbox
import Dispatch
import Foundation
import Synchronization

/// `cella sandbox run`: one command in one sandbox, stdio passed through, its exit status ours.
struct SandboxRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a sandbox with everything on: namespaces, cgroups, seccomp, no capabilities.",
        discussion: """
            Exit status: the command's own status, or 128+N when signal N killed it (137 after an \
            OOM kill, which is also reported on stderr). 125: the sandbox could not be set up \
            (the stage and errno are printed). 126: the command exists but cannot be executed. \
            127: the command was not found in the sandbox.
            """
    )

    @Option(help: ArgumentHelp("Root filesystem directory (the overlay's lower layer).", valueName: "dir"))
    var rootfs: String

    @Option(help: ArgumentHelp("Extra read-only layer stacked above the rootfs (repeatable, topmost first).", valueName: "dir"))
    var layer: [String] = []

    @Option(help: ArgumentHelp("Directory mounted read-only at /var/task.", valueName: "dir"))
    var code: String?

    @Option(help: ArgumentHelp("Memory limit in MiB (no swap).", valueName: "MiB"))
    var memory: Int = 128

    @Option(help: ArgumentHelp("CPU quota in CPUs, e.g. 0.5; 0 for none.", valueName: "n"))
    var cpus: Double = 1

    @Option(help: ArgumentHelp("Maximum processes and threads.", valueName: "n"))
    var pids: Int = 128

    @Option(help: ArgumentHelp("Size of the writable /tmp in MiB.", valueName: "MiB"))
    var tmp: Int = 64

    @Option(help: ArgumentHelp("A seccomp profile (OCI JSON) applied on top of Cella's default; it can only restrict further.", valueName: "file"))
    var seccomp: String?

    @Option(name: .customLong("env"), help: ArgumentHelp("Environment variable for the command (repeatable).", valueName: "K=V"))
    var environment: [String] = []

    @Option(help: ArgumentHelp("Working directory inside the sandbox.", valueName: "dir"))
    var workdir: String = "/"

    @Option(help: "Hostname inside the sandbox.")
    var hostname: String = "cella"

    @Option(help: "uid inside the sandbox.")
    var uid: UInt32 = 1000

    @Option(help: "gid inside the sandbox.")
    var gid: UInt32 = 1000

    @Option(help: ArgumentHelp("Owner index: selects the host uid range (1000000 + 65536 × index).", valueName: "n"))
    var ownerIndex: UInt32 = 0

    @Option(help: "Sandbox id (names its cgroup); default: generated.")
    var id: String?

    @Option(help: ArgumentHelp("Cella's directory in each cgroup hierarchy.", valueName: "name"))
    var cgroupRoot: String = "cella"

    @Option(help: ArgumentHelp("Host state directory.", valueName: "dir"))
    var stateDir: String = "/run/cella"

    @Flag(help: "Print CPU time, peak memory and OOM status to stderr when the command ends.")
    var stats = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        var command = command
        if command.first == "--" { command.removeFirst() }
        guard !command.isEmpty else { throw ValidationError("Give the command to run after --, e.g. -- /bin/sh -c 'echo hi'.") }
        guard memory >= 4 else { throw ValidationError("--memory must be at least 4 (MiB).") }
        guard cpus >= 0 else { throw ValidationError("--cpus must not be negative.") }
        guard pids >= 1 else { throw ValidationError("--pids must be at least 1.") }
        guard ownerIndex <= IDMapping.maxOwnerIndex else {
            throw ValidationError("--owner-index must be at most \(IDMapping.maxOwnerIndex).")
        }
        for entry in environment where !entry.contains("=") || entry.hasPrefix("=") {
            throw ValidationError("--env takes K=V, got \"\(entry)\".")
        }
    }

    func makeSpec() throws -> SandboxSpec {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]
        for entry in environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        return SandboxSpec(
            id: id ?? "run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
            command: argv,
            rootfs: .init(layers: layer.map(absolute) + [absolute(rootfs)], code: code.map(absolute),
                          tmpMiB: tmp),
            environment: env,
            workingDirectory: workdir,
            resources: .init(memoryBytes: UInt64(memory) << 20, cpus: cpus == 0 ? nil : cpus, pids: pids),
            user: .init(uid: uid, gid: gid),
            idMapping: IDMapping(ownerIndex: ownerIndex),
            hostname: hostname,
            extraSeccompProfile: try seccomp.map { path throws(SandboxError) in try SeccompProfile(contentsOf: path) },
            dieWithParent: true
        )
    }

    func run() throws {
        let sandbox: Sandbox
        do {
            let spec = try makeSpec()
            // One launch: a shared root would gain nothing, and a killed run would leave it mounted.
            let launcher = try SandboxLauncher(configuration: .init(
                cgroupRoot: cgroupRoot, stateDirectory: stateDir, sharedRoots: false))
            sandbox = try launcher.launch(spec)
        } catch let error as SandboxError {
            FileHandle.standardError.write(Data("cella: \(error)\n".utf8))
            throw ExitCode(Self.exitCode(for: error))
        }
        let forwarder = SignalForwarder(sandbox: sandbox)
        let exit = sandbox.waitBlocking()
        withExtendedLifetime(forwarder) {}
        if exit.usage.oomKilled {
            FileHandle.standardError.write(Data("cella: the sandbox was killed by the OOM killer (memory limit \(memory) MiB)\n".utf8))
        }
        if stats {
            let u = exit.usage
            let line = String(format: "cella: status %d, cpu %.3f s, peak memory %.1f MiB, oom %@\n",
                              exit.shellStatus, Double(u.cpuNanoseconds) / 1e9,
                              Double(u.peakMemoryBytes) / 1_048_576, u.oomKilled ? "yes" : "no")
            FileHandle.standardError.write(Data(line.utf8))
        }
        throw ExitCode(exit.shellStatus)
    }

    /// 127 not found and 126 not executable, as shells report; 125 for any other setup failure.
    static func exitCode(for error: SandboxError) -> Int32 {
        guard error.code == .setupFailed, error.stage?.hasPrefix("execve") == true else { return 125 }
        switch error.errno {
        case ENOENT, ENOTDIR: return 127
        case EACCES, ENOEXEC, EPERM: return 126
        default: return 125
        }
    }
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the sandbox. Its first process is pid 1 of its
/// namespace and ignores signals it has no handler for, so a second Ctrl-C (or SIGTERM) kills it.
final class SignalForwarder {
    private let sources: [any DispatchSourceSignal]

    init(sandbox: Sandbox) {
        let received = Mutex<Int>(0)
        sources = [SIGINT, SIGTERM, SIGHUP].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let count = received.withLock { $0 += 1; return $0 }
                sandbox.signal(count > 1 ? SIGKILL : sig)
            }
            source.resume()
            return source
        }
    }

    deinit { for source in sources { source.cancel() } }
}
