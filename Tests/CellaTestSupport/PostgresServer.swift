import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
import CellaStore

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server for this test process (shared by the store's and the controller's
/// tests): `initdb` into a temporary directory (as the
/// `postgres` OS user when the tests run as root, since the server refuses root), started on a
/// free loopback port with its socket in that directory, and stopped and deleted when the process
/// exits. Each test gets its own database in it. A server left by a killed test process is
/// stopped and deleted by the next run (its directory names the dead pid).
public actor PostgresServer {
    public static let shared = PostgresServer()

    public struct Running: Sendable {
        public let binDirectory: String
        public let directory: String
        public let port: Int
    }

    /// Whether CI asked for PostgreSQL tests to fail rather than be skipped when it is missing.
    public static var required: Bool { ProcessInfo.processInfo.environment["CELLA_REQUIRE_POSTGRES"] == "1" }

    private var launch: Task<Running?, any Error>?

    /// The running server, started on first use; nil when PostgreSQL is not installed.
    public func running() async throws -> Running? {
        if let launch { return try await launch.value }
        let task = Task.detached { try Self.start() }
        launch = task
        return try await task.value
    }

    /// A running server or the end of the test: a failure when `CELLA_REQUIRE_POSTGRES=1`, a
    /// visible skip otherwise.
    public static func require() async throws -> Running {
        if let running = try await shared.running() { return running }
        let message = "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin; install Debian's postgresql package"
        if required {
            Issue.record("\(message) (CELLA_REQUIRE_POSTGRES=1)")
            throw StoreError(.unavailable, message)
        }
        let notice = "skipped: \(message), or set CELLA_REQUIRE_POSTGRES=1 to make this a failure"
        // Swift Testing does not print cancelled cases of a parameterized test; say it once here.
        if skipNoticePrinted.withLock({ printed in defer { printed = true }; return !printed }) {
            FileHandle.standardError.write(Data("CellaStoreTests: every PostgreSQL case is \(notice)\n".utf8))
        }
        try Test.cancel(Comment(rawValue: notice))
    }

    private static let skipNoticePrinted = Mutex(false)

    /// Creates an empty database and returns where it is.
    public static func createDatabase(logger: Logger) async throws -> PostgresTarget {
        let server = try await require()
        let name = "cella_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin(server, logger: logger, "CREATE DATABASE \(unescaped: name)")
        return PostgresTarget(
            host: "127.0.0.1", port: server.port, username: "postgres", password: nil, database: name, tls: .disable
        )
    }

    public static func dropDatabase(_ target: PostgresTarget, logger: Logger) async throws {
        guard let server = try await shared.running() else { return }
        try await admin(server, logger: logger, "DROP DATABASE IF EXISTS \(unescaped: target.database) WITH (FORCE)")
    }

    private static func admin(_ server: Running, logger: Logger, _ statement: PostgresQuery) async throws {
        let config = PostgresConnection.Configuration(
            host: "127.0.0.1", port: server.port, username: "postgres", password: nil, database: "postgres", tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        do {
            _ = try await connection.query(statement, logger: logger).collect()
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    // MARK: Starting and stopping

    static let directoryPrefix = "cella-store-pg-"

    private static func binDirectory() -> String? {
        func hasServer(_ bin: String) -> Bool {
            FileManager.default.isExecutableFile(atPath: "\(bin)/initdb")
                && FileManager.default.isExecutableFile(atPath: "\(bin)/pg_ctl")
        }
        if let custom = ProcessInfo.processInfo.environment["CELLA_POSTGRES_BIN"] {
            return hasServer(custom) ? custom : nil
        }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) where hasServer("\(root)/\(version)/bin") {
            return "\(root)/\(version)/bin"
        }
        return nil
    }

    private static func start() throws -> Running? {
        guard let bin = binDirectory() else { return nil }
        removeStale(bin: bin)
        var template = Array("/tmp/\(directoryPrefix)\(getpid())-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw ServerError("mkdtemp failed: errno \(errno)") }
        let directory = String(cString: made)
        let asRoot = geteuid() == 0
        if asRoot {
            guard let pw = getpwnam("postgres") else {
                throw ServerError("running as root, but there is no postgres user to run the server as")
            }
            guard chown(directory, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
                throw ServerError("chown \(directory) failed: errno \(errno)")
            }
        }
        let data = "\(directory)/data"
        Cleanup.register(bin: bin, directory: directory, asRoot: asRoot)
        try run(asRoot, "\(bin)/initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        let port = try freePort()
        let options = "-k \(directory) -h 127.0.0.1 -p \(port) -c fsync=off -c max_connections=300 -c shared_buffers=32MB"
        try run(asRoot, "\(bin)/pg_ctl", ["-D", data, "-l", "\(directory)/server.log", "-w", "-t", "60", "-o", options, "start"])
        return Running(binDirectory: bin, directory: directory, port: port)
    }

    /// Stops and deletes servers whose test process is gone.
    private static func removeStale(bin: String) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix(directoryPrefix) {
            let rest = entry.dropFirst(directoryPrefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ Int32($0) }), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            Cleanup.stop(bin: bin, directory: "/tmp/\(entry)", asRoot: geteuid() == 0)
        }
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw ServerError("bind failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw ServerError("getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a PostgreSQL program (as `postgres` when root) and fails with its output. The output
    /// goes to a file, not a pipe: `pg_ctl start` leaves the server running with whatever it
    /// inherited, and a pipe it holds would never reach end-of-file. posix_spawn and waitpid on
    /// the one pid, rather than Foundation's Process, whose exit monitoring missed the exit of
    /// `runuser` here and left `waitUntilExit` spinning.
    static func run(_ asRoot: Bool, _ program: String, _ arguments: [String]) throws {
        let argv = asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--", program] + arguments : [program] + arguments
        let outputPath = "/tmp/cella-pg-output-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let status = Cleanup.spawnAndWait(argv, outputPath: outputPath)
        guard status == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw ServerError("\(program) \(arguments.joined(separator: " ")) exited with status \(status): \(text)")
        }
    }

    struct ServerError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// Stops the server when the test process exits (atexit), which a Swift Testing run does after
/// the last test; the state is global because an atexit handler cannot capture.
enum Cleanup {
    private static let state = Mutex<(bin: String, directory: String, asRoot: Bool)?>(nil)

    static func register(bin: String, directory: String, asRoot: Bool) {
        let first = state.withLock { current in
            defer { current = (bin, directory, asRoot) }
            return current == nil
        }
        if first {
            atexit {
                guard let (bin, directory, asRoot) = Cleanup.state.withLock({ $0 }) else { return }
                Cleanup.stop(bin: bin, directory: directory, asRoot: asRoot)
            }
        }
    }

    /// `pg_ctl stop -m immediate`, then the directory goes. posix_spawn rather than Foundation's
    /// Process, which is not safe to use from an atexit handler.
    static func stop(bin: String, directory: String, asRoot: Bool) {
        let data = "\(directory)/data"
        if FileManager.default.fileExists(atPath: "\(data)/postmaster.pid") {
            let argv = asRoot
                ? ["/usr/sbin/runuser", "-u", "postgres", "--", "\(bin)/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
                : ["\(bin)/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
            spawnAndWait(argv)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `argv` with stdin from /dev/null and stdout and stderr to `outputPath`, and returns
    /// its wait status (-1 when it could not be started).
    @discardableResult
    static func spawnAndWait(_ argv: [String], outputPath: String = "/dev/null") -> Int32 {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { cArgs.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // pg_ctl start leaves the server running with whatever it inherits (SpawnActions).
        SpawnActions.closeInherited(&actions)
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return status
    }
}
