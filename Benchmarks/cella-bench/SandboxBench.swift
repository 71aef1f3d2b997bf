import ArgumentParser
import CellaSandbox
import Foundation

/// Sandbox start → exec → exit of a static `true`, everything on, against runc and bwrap running
/// the same rootfs, and a plain posix_spawn of the same binary as the floor. Two more Cella series
/// time what the agent leaves on the critical path: a sandbox joining a network namespace made
/// before its timer starts (as every agent instance does: its namespace holds the Runtime API
/// listener), the rest as in the first; and a sandbox made ahead and held before its exec (the
/// agent's prepared sandboxes), timed from its release → exec → exit → cleanup. One more is the
/// first with an overlay mounted in each sandbox instead of the launcher's shared root (as
/// `cella sandbox run` does). The series take turns, one run each per round.
struct SandboxBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Start→exit latency of a sandbox vs runc run, bwrap --unshare-all and a direct spawn."
    )

    @Option(help: "A rootfs whose /bin/true is a static binary (scripts/bench/sandbox.sh makes one).")
    var rootfs: String

    @Option(help: "Measured runs per series.")
    var runs = 200

    @Option(help: "Unmeasured warm-up runs per series.")
    var warmup = 10

    @Flag(help: "Time Cella's sandbox alone (for profiling it); no peers, no ratios to them.")
    var cellaOnly = false

    @Option(help: "With --cella-only, time one of Cella's series alone (for tracing it): 1 all inline, 2 network namespace made ahead, 3 an overlay per sandbox, 4 held.")
    var only: Int?

    func run() throws {
        let launcher = try SandboxLauncher(configuration: .init(cgroupRoot: "cella-bench", stateDirectory: "/run/cella-bench"))
        launcher.removeStale()
        // As `cella sandbox run` launches: each sandbox mounts an overlay of its own.
        let ownOverlays = try SandboxLauncher(configuration: .init(
            cgroupRoot: "cella-bench", stateDirectory: "/run/cella-bench", sharedRoots: false))
        // Every sandbox removed its own cgroup; the cgroup roots and the shared root go last.
        defer {
            launcher.releaseSharedRoots()
            for directory in launcher.cgroups.rootDirectories { rmdir(directory) }
            try? FileManager.default.removeItem(atPath: "/run/cella-bench")
        }
        var counter = 0
        func spec() -> SandboxSpec {
            counter += 1
            return SandboxSpec(id: "bench-\(counter)", command: ["/bin/true"], rootfs: .init(layers: [rootfs]),
                               stdio: .fds(stdin: 0, stdout: 1, stderr: 2))
        }
        /// Nanoseconds from launch to the exit reaped and the cgroup removed.
        func launchAndWait(_ spec: SandboxSpec, by launcher: SandboxLauncher = launcher) throws -> UInt64 {
            let start = now()
            let exit = try launcher.launch(spec).waitBlocking()
            let elapsed = now() - start
            guard exit.shellStatus == 0 else { throw ValidationError("a sandbox exited \(exit.shellStatus)") }
            return elapsed
        }
        var series: [(samples: Samples, once: () throws -> UInt64)] = [
            (Samples(name: "cella sandbox (all protections)"), { try launchAndWait(spec()) }),
            (Samples(name: "cella, network namespace made ahead"), {
                var spec = spec()
                spec.network = .prepared(try NetworkNamespace())
                return try launchAndWait(spec)
            }),
            (Samples(name: "cella, an overlay per sandbox"), { try launchAndWait(spec(), by: ownOverlays) }),
            (Samples(name: "cella prepared: release→exit"), {
                let sandbox = try launcher.launch(spec(), held: true)
                let start = now()
                try sandbox.release()
                let exit = sandbox.waitBlocking()
                let elapsed = now() - start
                guard exit.shellStatus == 0 else { throw ValidationError("a held sandbox exited \(exit.shellStatus)") }
                return elapsed
            }),
        ]
        if let only {
            guard cellaOnly, series.indices.contains(only - 1) else {
                throw ValidationError("--only takes 1-\(series.count), with --cella-only")
            }
            series = [series[only - 1]]
        }
        var bundle: String?
        defer { if let bundle { try? FileManager.default.removeItem(atPath: bundle) } }
        if !cellaOnly {
            if let runc = which("runc") {
                let made = try makeRuncBundle(runc: runc)
                bundle = made
                var container = 0
                series.append((Samples(name: "runc run"), {
                    container += 1
                    return try Self.spawnTimed("runc run", [runc, "run", "--bundle", made, "cella-bench-\(getpid())-\(container)"])
                }))
            } else {
                print("runc not installed: skipped (apt-get install runc)")
            }
            if let bwrap = which("bwrap") {
                let argv = [bwrap, "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
                            "--tmpfs", "/tmp", "--die-with-parent", "/bin/true"]
                series.append((Samples(name: "bwrap --unshare-all"), { try Self.spawnTimed("bwrap", argv) }))
            } else {
                print("bwrap not installed: skipped (apt-get install bubblewrap)")
            }
            series.append((Samples(name: "posix_spawn (no sandbox)"), { try Self.spawnTimed("posix_spawn", [rootfs + "/bin/true"]) }))
        }
        // One run of each series per round, in turn, so that the host's drift over the run (these
        // machines are shared) falls on every series alike instead of on whichever ran last.
        for round in 0..<(warmup + runs) {
            for index in series.indices {
                let elapsed = try series[index].once()
                if round >= warmup { series[index].samples.values.append(elapsed) }
            }
        }
        report(series.map(\.samples), bases: only == nil ? [(0, "÷ all inline"), (1, "÷ ns ahead")] : [])
    }

    /// A runc bundle for the same rootfs: runc's own default spec, read-only root, `/bin/true`.
    func makeRuncBundle(runc: String) throws -> String {
        let bundle = "/run/cella-bench/runc-bundle-\(getpid())"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        guard spawnAndWait([runc, "spec", "--bundle", bundle]) == 0 else { throw ValidationError("runc spec failed") }
        let path = bundle + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        config["root"] = ["path": rootfs, "readonly": true]
        var process = config["process"] as! [String: Any]
        process["args"] = ["/bin/true"]
        process["terminal"] = false
        config["process"] = process
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        return bundle
    }

    /// Nanoseconds from posix_spawn of `argv` to its exit; throws unless it exited 0.
    static func spawnTimed(_ name: String, _ argv: [String]) throws -> UInt64 {
        let start = now()
        let status = spawnAndWait(argv)
        let elapsed = now() - start
        guard status == 0 else { throw ValidationError("\(name) exited with status \(status)") }
        return elapsed
    }
}

func which(_ name: String) -> String? {
    for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    where access(dir + "/" + name, X_OK) == 0 {
        return dir + "/" + name
    }
    return nil
}

/// posix_spawn + waitpid; stdio inherited. Returns the wait status.
func spawnAndWait(_ argv: [String]) -> Int32 {
    var pid: pid_t = 0
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    let rc = posix_spawn(&pid, argv[0], nil, nil, cArgs, environ)
    guard rc == 0 else { return -rc }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}
