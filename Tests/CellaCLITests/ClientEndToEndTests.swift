import CellaTestSupport
import Foundation
import Synchronization
import Testing

@testable import CellaCLI

/// `cella up` as a process, driven only through the `cella` binary as a user would: login, deploy,
/// invoke (sync, async, with the log tail, failing), logs, versions and aliases, nodes, tenants,
/// `-o json` read back, and the exit statuses of bad calls. SIGTERM must stop it and leave no
/// sandbox process or cgroup behind.
@Suite(
    .serialized, .timeLimit(.minutes(5)), .runsAsRoot, .needsPythonRuntime
)
struct ClientEndToEndTests {
    @Test func theWholeTourThroughTheBinary() async throws {
        let harness = try CLIHarness()
        defer { harness.cleanUp() }
        let (endpoint, key) = try await harness.startUp()

        // login stores a 0600 context after checking the key.
        var r = harness.cella(["login", "--endpoint", endpoint, "--key", "wrong-key-0123456789"])
        #expect(r.status == 3 && r.stderr.contains("error:") && r.stderr.contains("cella login"), "\(r)")
        r = harness.cella(["login", "--endpoint", endpoint, "--key", key])
        #expect(r.status == 0, "\(r)")
        var st = stat()
        #expect(stat(harness.configHome + "/cella/config.json", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let contexts = try harness.json(["context", "ls", "-o", "json"])
        #expect(contexts.arrayValue?.first?["current"] == .bool(true))
        #expect(contexts.arrayValue?.first?["key"] == nil, "context ls shows the key")

        // Deploy: create with a published version.
        r = harness.cella(["fn", "deploy", harness.fixture, "--name", "echo", "--runtime", "python3.11",
                           "--handler", "app.handler", "--timeout", "10", "--env", "GREETING=hi", "--publish"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("created function echo") && r.stdout.contains("published version 1"), "\(r.stdout)")
        let function = try harness.json(["fn", "get", "echo", "-o", "json"])
        #expect(function[path: "config.environment.GREETING"] == .string("hi"))
        #expect(function[path: "config.timeoutSeconds"] == .int(10))

        // Sync invoke.
        r = harness.cella(["invoke", "echo", "--data", #"{"x":1}"#])
        #expect(r.status == 0, "\(r)")
        let answer = try JSONValue.parse(Array(r.stdout.utf8))
        #expect(answer[path: "event.x"] == .int(1), "\(r.stdout)")
        // The event from stdin when it is not a terminal, and from a file.
        r = harness.cella(["invoke", "echo"], stdin: #"{"from":"stdin"}"#)
        #expect((try? JSONValue.parse(Array(r.stdout.utf8)))?[path: "event.from"] == .string("stdin"), "\(r)")
        let eventFile = harness.root + "/event.json"
        try Data(#"{"from":"file"}"#.utf8).write(to: URL(fileURLWithPath: eventFile))
        r = harness.cella(["invoke", "echo", "--data", "@" + eventFile])
        #expect((try? JSONValue.parse(Array(r.stdout.utf8)))?[path: "event.from"] == .string("file"), "\(r)")

        // --log: the function's own output arrives on stderr, the result on stdout.
        r = harness.cella(["fn", "deploy", harness.fixture, "--name", "printer", "--runtime", "python3.11", "--handler", "app.prints"])
        #expect(r.status == 0, "\(r)")
        r = harness.cella(["invoke", "printer", "--data", #"{"lines":2}"#, "--log"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("line 1 of "), "no log tail on stderr: \(r)")
        #expect(!r.stdout.contains("line 1 of ") && r.stdout.contains("printed"), "\(r)")

        // A function error: its error object on stdout, exit status 1.
        r = harness.cella(["fn", "deploy", harness.fixture, "--name", "failer", "--runtime", "python3.11", "--handler", "app.fail"])
        #expect(r.status == 0, "\(r)")
        r = harness.cella(["invoke", "failer", "--data", #"{"message":"boom"}"#])
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("boom") && r.stdout.contains("errorType"), "\(r)")

        // Async: an id, then its result.
        r = harness.cella(["invoke", "echo", "--async", "--data", #"{"a":2}"#])
        #expect(r.status == 0, "\(r)")
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!id.isEmpty)
        var invocation = JSONValue.null
        for _ in 0..<60 {
            invocation = try harness.json(["invocation", "get", id, "-o", "json"])
            if invocation["status"] == .string("succeeded") { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(invocation["status"] == .string("succeeded"), "\(invocation)")
        #expect(invocation[path: "result.event.a"] == .int(2), "\(invocation)")

        // Logs: shipped by the agent about once a second.
        var logs = ""
        for _ in 0..<40 {
            logs = harness.cella(["logs", "printer", "--since", "10m"]).stdout
            if logs.contains("line 1 of ") && logs.contains("REPORT") { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(logs.contains("line 1 of ") && logs.contains("REPORT"), "logs: \(logs)")

        // A second deploy of the same code with a new config publishes version 2; an alias
        // pins version 1.
        r = harness.cella(["fn", "deploy", harness.fixture, "--name", "echo", "--memory", "256", "--publish"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("code of echo unchanged") && r.stdout.contains("memoryMB") && r.stdout.contains("published version 2"), "\(r.stdout)")
        let versions = try harness.json(["fn", "versions", "echo", "-o", "json"])
        #expect(versions.arrayValue?.compactMap { $0["version"]?.stringValue }.sorted() == ["1", "2"], "\(versions)")
        #expect(harness.cella(["fn", "alias", "set", "echo", "prod", "1"]).status == 0)
        let aliases = try harness.json(["fn", "alias", "ls", "echo", "-o", "json"])
        #expect(aliases.arrayValue?.first?["name"] == .string("prod") && aliases.arrayValue?.first?["version"] == .string("1"), "\(aliases)")
        r = harness.cella(["invoke", "echo", "--qualifier", "prod"])
        #expect((try? JSONValue.parse(Array(r.stdout.utf8)))?["function_version"] == .string("1"), "\(r)")
        #expect((try? JSONValue.parse(Array(r.stdout.utf8)))?["memory_limit_in_mb"]?.cell == "128", "\(r)")

        // Listings in every format.
        let nodes = try harness.json(["nodes", "ls", "-o", "json"])
        #expect(nodes.arrayValue?.first?["id"] == .string("local") && nodes.arrayValue?.first?["status"] == .string("live"), "\(nodes)")
        #expect(harness.cella(["nodes", "ls"]).stdout.hasPrefix("ID "))
        #expect(harness.cella(["nodes", "drain", "local"]).status == 0)
        #expect(try harness.json(["nodes", "ls", "-o", "json"]).arrayValue?.first?["status"] == .string("draining"))
        #expect(harness.cella(["nodes", "undrain", "local"]).status == 0)
        #expect(try harness.json(["nodes", "ls", "-o", "json"]).arrayValue?.first?["status"] == .string("live"))
        #expect(harness.cella(["fn", "ls", "-o", "yaml"]).stdout.contains("  name: echo\n"))
        let table = harness.cella(["fn", "ls"]).stdout.split(separator: "\n")
        #expect(table.count == 4 && table[0].hasPrefix("NAME "), "\(table)")

        // Tenants.
        #expect(harness.cella(["tenant", "create", "acme"]).status == 0)
        let tenants = try harness.json(["tenant", "ls", "-o", "json"])
        #expect(tenants.arrayValue?.compactMap { $0["id"]?.stringValue }.contains("acme") == true)
        #expect(try harness.json(["fn", "ls", "--tenant", "acme", "-o", "json"]) == .array([]))
        #expect(harness.cella(["tenant", "rm", "acme"]).status == 0)

        // Bad calls and their statuses.
        r = harness.cella(["fn", "get", "nope"])
        #expect(r.status == 3 && r.stderr.contains("error:") && r.stderr.contains("hint:"), "\(r)")
        r = harness.cella(["invoke", "echo", "--key", "not-the-key-0123456789"])
        #expect(r.status == 3 && r.stderr.contains("cella login"), "\(r)")
        r = harness.cella(["fn", "deploy", harness.fixture, "--name", "x", "--memory", "5"])
        #expect(r.status == 2 && r.stderr.contains("--memory"), "\(r)")
        r = harness.cella(["fn", "deploy", harness.root + "/missing", "--name", "x"])
        #expect(r.status == 2, "\(r)")
        r = harness.cella(["fn", "rm", "failer"])
        #expect(r.status == 0, "\(r)")
        #expect(harness.cella(["invoke", "failer"]).status == 3)

        // SIGTERM: a clean exit, nothing left behind.
        var status = try await harness.stopUp()
        #expect(status == 0, "cella up exited with \(status)")
        #expect(harness.sandboxCgroups().isEmpty, "cgroups left: \(harness.sandboxCgroups())")

        // A second `cella up` on the same data directory resumes: the same admin key, the same
        // functions, versions and aliases; the saved context still works (the port is new).
        let (endpoint2, key2) = try await harness.startUp()
        #expect(key2 == key)
        let names = try harness.json(["fn", "ls", "-o", "json", "--endpoint", endpoint2]).arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names?.sorted() == ["echo", "printer"], "\(String(describing: names))")
        r = harness.cella(["invoke", "echo", "--qualifier", "prod", "--endpoint", endpoint2, "--data", #"{"again":true}"#])
        #expect(r.status == 0 && (try? JSONValue.parse(Array(r.stdout.utf8)))?[path: "event.again"] == .bool(true), "\(r)")
        status = try await harness.stopUp()
        #expect(status == 0, "the second cella up exited with \(status)")
        #expect(harness.sandboxCgroups().isEmpty, "cgroups left: \(harness.sandboxCgroups())")
    }
}

extension Trait where Self == ConditionTrait {
    /// `cella up` runs functions in sandboxes.
    static var runsAsRoot: Self { .enabled(if: geteuid() == 0, "needs root: cella up runs functions in sandboxes") }

    static var needsPythonRuntime: Self {
        .enabled(if: FileManager.default.fileExists(atPath: CLIHarness.runtimes + "/python3.11/runtime.json"),
                 "needs the python3.11 runtime built in $CELLA_RUNTIMES_DIR (bash rootfs/build.sh python3.11 provided)")
    }
}

/// Runs `cella up` in a temporary directory on free ports, and the `cella` binary against it.
final class CLIHarness: Sendable {
    static let runtimes = ProcessInfo.processInfo.environment["CELLA_RUNTIMES_DIR"] ?? "/var/lib/cella/runtimes"
    static let hierarchies = ["memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "freezer", "unified", ""]

    let cellaPath: String
    let root: String
    let configHome: String
    let cgroupRoot: String
    let fixture: String
    private let up = Mutex<Process?>(nil)
    private let upOutput = Mutex("")

    typealias Result = Command.Result

    init() throws {
        cellaPath = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/cella"
        try #require(FileManager.default.isExecutableFile(atPath: cellaPath), "build the cella executable first (swift build)")
        // Unique per harness: the suites using one run in parallel.
        let tag = "cella-cli-e2e-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        root = NSTemporaryDirectory() + tag
        configHome = root + "/config"
        cgroupRoot = tag
        fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Fixtures/functions/python-echo"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: configHome, withIntermediateDirectories: true)
    }

    /// A free loopback TCP port (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(ok, "cannot bind a loopback port")
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `cella up` and waits for its banner.
    /// - Parameter dataDir: its `--data-dir` (default: `data` under the harness's root).
    /// - Returns: the endpoint and the admin key it printed.
    func startUp(dataDir: String? = nil) async throws -> (String, String) {
        let port = try Self.freePort()
        let agentPort = try Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cellaPath)
        process.arguments = [
            "up", "--data-dir", dataDir ?? root + "/data", "--port", String(port), "--agent-port", String(agentPort),
            "--runtimes-dir", Self.runtimes, "--cgroup-root", cgroupRoot, "--state-dir", "/run/" + cgroupRoot,
            "--memory-budget", "1024",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            self.upOutput.withLock { $0 += String(decoding: data, as: UTF8.self) }
            if data.isEmpty { handle.readabilityHandler = nil }
        }
        upOutput.withLock { $0 = "" }  // a second start must not read the first one's banner
        try process.run()
        up.withLock { $0 = process }
        for _ in 0..<300 {
            let text = upOutput.withLock { $0 }
            let lines = text.split(separator: "\n").map(String.init)
            if let endpoint = lines.first(where: { $0.hasPrefix("endpoint: ") })?.dropFirst(10),
               let key = lines.first(where: { $0.hasPrefix("admin key: ") })?.dropFirst(11) {
                // The agent registers with its first heartbeat.
                for _ in 0..<50 {
                    let nodes = cella(["nodes", "ls", "-o", "json", "--endpoint", String(endpoint), "--key", String(key)])
                    if nodes.stdout.contains("\"live\"") { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                return (String(endpoint), String(key))
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw CLIHarnessError(description: "cella up did not print its banner: \(upOutput.withLock { $0 })")
    }

    /// SIGTERM, then the exit status (SIGKILL after 30 s).
    func stopUp() async throws -> Int32 {
        guard let process = up.withLock({ $0 }) else { return -1 }
        defer { up.withLock { $0 = nil } }
        let pid = process.processIdentifier
        /// The exit status once it has exited: Foundation's, or our own waitpid's when
        /// Foundation has not noticed the exit (it once missed one here and waited for ever).
        func exited() -> Int32? {
            if !process.isRunning { return process.terminationStatus }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
        kill(pid, SIGTERM)
        for _ in 0..<300 {
            if let status = exited() { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("cella up ignored SIGTERM for 30 s: \(upOutput.withLock { $0 })")
        kill(pid, SIGKILL)
        for _ in 0..<100 {
            if let status = exited() { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        return -1
    }

    /// Runs `cella ARGS` with this harness's configuration home and no CELLA_* variables.
    func cella(_ arguments: [String], stdin: String? = nil) -> Result {
        run(cellaPath, arguments, stdin: stdin)
    }

    /// The environment commands run with: this harness's home and configuration home, the
    /// directory of the `cella` under test first on PATH, no CELLA_* variables.
    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CELLA_") && !$0.key.hasPrefix("XDG_STATE") }
        env["XDG_CONFIG_HOME"] = configHome
        env["HOME"] = root
        env["PATH"] = URL(fileURLWithPath: cellaPath).deletingLastPathComponent().path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return env
    }

    /// Runs a program with `environment`, in `directory` when given.
    func run(_ executable: String, _ arguments: [String], stdin: String? = nil, directory: String? = nil) -> Result {
        Command.run([executable] + arguments, stdin: stdin, directory: directory, environment: environment)
    }

    /// `cella ARGS` that must succeed, its stdout parsed as JSON.
    func json(_ arguments: [String]) throws -> JSONValue {
        let r = cella(arguments)
        guard r.status == 0 else { throw CLIHarnessError(description: "cella \(arguments.joined(separator: " ")): \(r)") }
        return try JSONValue.parse(Array(r.stdout.utf8))
    }

    /// Instance cgroups under this run's cgroup root, in any hierarchy.
    func sandboxCgroups() -> [String] {
        var found: [String] = []
        for hierarchy in Self.hierarchies {
            let dir = "/sys/fs/cgroup/\(hierarchy.isEmpty ? "" : hierarchy + "/")\(cgroupRoot)"
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for entry in entries {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir + "/" + entry, isDirectory: &isDir), isDir.boolValue {
                    found.append(dir + "/" + entry)
                }
            }
        }
        return found
    }

    /// Kills `cella up` if a failed test left it running, and removes the directories and the
    /// cgroup root.
    func cleanUp() {
        if let process = up.withLock({ $0 }), process.isRunning {
            let pid = process.processIdentifier
            kill(pid, SIGKILL)
            var status: Int32 = 0
            for _ in 0..<50 where process.isRunning && waitpid(pid, &status, WNOHANG) != pid { usleep(100_000) }
        }
        for hierarchy in Self.hierarchies {
            rmdir("/sys/fs/cgroup/\(hierarchy.isEmpty ? "" : hierarchy + "/")\(cgroupRoot)")
        }
        StateDirectory.remove("/run/" + cgroupRoot)
        try? FileManager.default.removeItem(atPath: root)
    }
}

struct CLIHarnessError: Error, CustomStringConvertible {
    var description: String
}
