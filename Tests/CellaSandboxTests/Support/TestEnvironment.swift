import CellaTestSupport
import Foundation
import Synchronization
import Testing

@testable import CellaSandbox

/// Shared fixtures for the privileged tests: a rootfs with busybox and the probe (Tests/Fixtures/
/// probe.c, compiled static), and a launcher on its own cgroup root so tests never touch a real
/// agent's sandboxes. Everything is removed when the test process exits.
enum TestEnvironment {
    static let isRoot = geteuid() == 0
    static let rootSkipReason: Comment = "needs root: user-namespace maps, cgroups and mounts"

    /// The mapped host id of the namespace root in the default `IDMapping`.
    static let namespaceRootHostID = IDMapping().hostBase

    static let rootfs = Result { () throws -> String in try buildRootfs() }
    static let launcher = Result { () throws -> SandboxLauncher in
        removeLeftoversOfDeadRuns()
        let launcher = try SandboxLauncher(configuration: .init(cgroupRoot: cgroupRoot, stateDirectory: stateDirectory))
        atexit { TestEnvironment.removeEverything() }
        return launcher
    }

    /// The shared launcher, or with `sharedRoots` false one on the same cgroup root and state
    /// directory whose sandboxes each mount their own overlay.
    static func launcher(sharedRoots: Bool) throws -> SandboxLauncher {
        let shared = try launcher.get()
        guard !sharedRoots else { return shared }
        var configuration = shared.configuration
        configuration.sharedRoots = false
        return try SandboxLauncher(configuration: configuration)
    }

    /// Per test process, so that two test runs on one machine never touch each other's sandboxes.
    static let cgroupRoot = "cella-test-\(getpid())"
    static let stateDirectory = "/run/cella-test-\(getpid())"
    private static let counter = Atomic<Int>(0)

    /// A fresh sandbox id.
    static func nextID(_ prefix: String = "t") -> String {
        "\(prefix)-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    /// A spec on the test rootfs with every protection on.
    static func spec(_ command: [String], configure: (inout SandboxSpec) -> Void = { _ in }) throws -> SandboxSpec {
        var spec = SandboxSpec(id: nextID(), command: command, rootfs: .init(layers: [try rootfs.get()]),
                               environment: ["PATH": "/bin"])
        configure(&spec)
        return spec
    }

    struct Output {
        var exit: SandboxExit
        var stdout: String
        var stderr: String
        /// The probe's single result line.
        var line: String { stdout.trimmingWhitespace() }
    }

    /// Runs a spec to completion with stdout and stderr captured, on the shared launcher unless
    /// given another.
    static func run(_ spec: SandboxSpec, on launcher: SandboxLauncher? = nil) throws -> Output {
        var spec = spec
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw SystemError(call: "pipe", errno: errno) }
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        spec.stdio = .fds(stdin: devnull, stdout: out[1], stderr: err[1])
        let sandbox: Sandbox
        do {
            defer { close(out[1]); close(err[1]); close(devnull) }
            sandbox = try (launcher ?? Self.launcher.get()).launch(spec)
        } catch {
            close(out[0]); close(err[0])
            throw error
        }
        let (stdout, stderr) = readBoth(out[0], err[0])
        return Output(exit: sandbox.waitBlocking(), stdout: stdout, stderr: stderr)
    }

    /// The probe's result line for one check, in a sandbox made from `configure`.
    static func probe(_ args: String..., configure: (inout SandboxSpec) -> Void = { _ in }) throws -> String {
        try run(spec(["/bin/probe"] + args, configure: configure)).line
    }

    /// Reads two pipes to EOF without letting either fill up.
    static func readBoth(_ a: Int32, _ b: Int32) -> (String, String) {
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var data = [[UInt8](), [UInt8]()]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, 2, 30_000) <= 0 { break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buffer, buffer.count)
                if n > 0 { data[i] += buffer[0..<n] } else { close(fds[i].fd); fds[i].fd = -1 }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        return (String(decoding: data[0], as: UTF8.self), String(decoding: data[1], as: UTF8.self))
    }

    private static func buildRootfs() throws -> String {
        let dir = "/tmp/cella-test-rootfs-\(getpid())"
        let probeSource = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/probe.c").path
        for sub in ["bin", "proc", "dev", "tmp", "var/task", "etc", "data"] {
            try FileIO.makeDirectories(dir + "/" + sub)
        }
        chmod(dir, 0o755)
        try sh("cp /bin/busybox \(dir)/bin/busybox")
        for tool in ["sh", "cat", "ls", "id", "env", "echo", "sleep", "true", "mkdir", "hostname", "head", "wc"] {
            symlink("busybox", dir + "/bin/" + tool)
        }
        try sh("cc -static -O2 -o \(dir)/bin/probe \(probeSource)")
        // A setuid copy owned by the sandbox's own (mapped) root: the one owner whose setuid bit the
        // kernel would honour inside, if nosuid and no_new_privs did not stop it.
        try sh("cp \(dir)/bin/probe \(dir)/bin/probe-suid")
        chown(dir + "/bin/probe-suid", namespaceRootHostID, namespaceRootHostID)
        chmod(dir + "/bin/probe-suid", 0o4755)
        try "in the rootfs\n".write(toFile: dir + "/data/visible", atomically: false, encoding: .utf8)
        return dir
    }

    static func sh(_ command: String) throws {
        let r = Command.run(["/bin/sh", "-c", command])
        guard r.status == 0 else {
            throw SandboxError(.invalidSpec, "test fixture command failed (\(r.status)): \(command): \(r.stderr.prefix(2000))")
        }
    }

    /// Cgroup roots and state directories of test processes that died without cleaning up.
    static func removeLeftoversOfDeadRuns() {
        let parents = ["/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu",
                       "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/pids", "/run"]
        for parent in parents {
            for name in (try? FileIO.list(parent)) ?? [] where name.hasPrefix("cella-test-") {
                guard let pid = Int32(name.dropFirst("cella-test-".count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
                let root = parent + "/" + name
                if parent == "/run" {
                    // The launcher's directories, and the shared roots the dead run left mounted.
                    StateDirectory.remove(root)
                    continue
                }
                for child in (try? FileIO.list(root)) ?? [] where FileIO.exists(root + "/" + child + "/cgroup.procs") {
                    let cgroup = SandboxCgroup(layout: .v2(mount: parent), directories: [root + "/" + child])
                    cgroup.killAll()
                    cgroup.destroy()
                }
                rmdir(root)
            }
        }
    }

    /// Removes the rootfs, any sandbox cgroups and the cgroup roots themselves.
    static func removeEverything() {
        if case .success(let launcher) = launcher {
            launcher.removeStale()
            launcher.releaseSharedRoots()
            for dir in launcher.cgroups.rootDirectories { rmdir(dir) }
        }
        StateDirectory.remove(stateDirectory)
        if case .success(let dir) = rootfs { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// All privileged sandbox tests, run one at a time: they measure CPU time and count the host's
/// cgroups, mounts, fds and processes, which concurrent sandboxes would disturb.
@Suite(.serialized, .enabled(if: TestEnvironment.isRoot, TestEnvironment.rootSkipReason), .timeLimit(.minutes(5)))
struct SandboxTests {}
