import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The store for a cluster: PostgreSQL through postgres-nio's `PostgresClient`, a connection
/// pool the store runs in its own task until `close()`. Several controllers share one database:
/// version numbers come from a row lock on the function, queue claims use
/// `FOR UPDATE SKIP LOCKED`, and migrations serialize on a transaction-scoped advisory lock.
public final class PostgresStore: Store {
    /// Where the store connects, without the password.
    public let target: PostgresTarget
    let client: PostgresClient
    let logger: Logger
    /// The longest one operation may take, waiting for a connection included. postgres-nio's
    /// pool keeps a request waiting while it retries connecting (about a minute before its
    /// circuit breaker fails it); past this the operation fails as `.unavailable` instead.
    public let operationTimeout: Duration
    private let runner: Task<Void, Never>
    private let started: AsyncStream<Void>

    /// The advisory lock every migration transaction takes first ("cella" in ASCII), so that
    /// controllers starting together apply each step once.
    static let migrationLockKey: Int64 = 0x63_65_6c_6c_61

    /// Creates the pool and starts it. Connections are made on demand; use `connect(to:logger:)`
    /// to find out at once whether the server can be reached.
    public init(
        target: PostgresTarget, maximumConnections: Int = 20, operationTimeout: Duration = .seconds(15), logger: Logger
    ) {
        self.target = target
        self.logger = logger
        self.operationTimeout = operationTimeout
        var config: PostgresClient.Configuration
        if let socket = target.unixSocketPath {
            config = .init(unixSocketPath: socket, username: target.username, password: target.password, database: target.database)
        } else {
            config = .init(
                host: target.host, port: target.port, username: target.username, password: target.password,
                database: target.database, tls: Self.clientTLS(target.tls)
            )
        }
        config.options.maximumConnections = maximumConnections
        config.options.connectTimeout = .seconds(10)
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.client = client
        let (started, signal) = AsyncStream<Void>.makeStream()
        self.started = started
        runner = Task {
            signal.finish()
            await client.run()
        }
    }

    /// Returns once the pool's task runs, so the first query does not find the pool not yet
    /// started (postgres-nio warns about that, and the request waits for it).
    func waitUntilRunning() async {
        for await _ in started {}
    }

    /// Opens a store and checks with one real connection that the server takes the credentials
    /// and has the database, so a wrong URL fails at startup rather than at the first request.
    /// - Throws: `.unavailable` when the server cannot be reached or refuses the connection.
    public static func connect(
        to target: PostgresTarget, operationTimeout: Duration = .seconds(15), logger: Logger
    ) async throws -> PostgresStore {
        try await probe(target, logger: logger)
        let store = PostgresStore(target: target, operationTimeout: operationTimeout, logger: logger)
        await store.waitUntilRunning()
        return store
    }

    public func close() async {
        runner.cancel()
        await runner.value
    }

    static func clientTLS(_ mode: PostgresTarget.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    static func probe(_ target: PostgresTarget, logger: Logger) async throws {
        var config: PostgresConnection.Configuration
        if let socket = target.unixSocketPath {
            config = .init(unixSocketPath: socket, username: target.username, password: target.password, database: target.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS =
                switch target.tls {
                case .disable: .disable
                case .prefer: .prefer(try makeTLSContext())
                case .require: .require(try makeTLSContext())
                }
            config = .init(
                host: target.host, port: target.port, username: target.username, password: target.password,
                database: target.database, tls: tls
            )
        }
        config.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(configuration: config, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw map(error, what: "connect to \(target)", conflict: nil, notFound: nil, unreachable: true)
        }
    }

    private static func makeTLSContext() throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: .makeClientConfiguration())
        } catch {
            throw StoreError(.invalidConfiguration, "cannot set up TLS for PostgreSQL", underlying: error)
        }
    }

    // MARK: Migrations

    static var knownVersion: Int { PostgresSchema.migrations.last?.version ?? 0 }

    public func migrate() async throws {
        let known = Self.knownVersion
        for migration in PostgresSchema.migrations {
            try await transaction("migrate to schema version \(migration.version)", deadline: false) { connection, logger in
                // Taken before anything else, so CREATE TABLE IF NOT EXISTS cannot race either.
                _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: logger).collect()
                _ = try await connection.query("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY NOT NULL,
                        applied_at_ms BIGINT NOT NULL
                    )
                    """, logger: logger).collect()
                let current = try await Self.currentVersion(connection, logger: logger)
                if current > known { throw StoreError.schemaTooNew(found: current, known: known) }
                if current >= migration.version { return }
                for statement in migration.statements {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect()
                }
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (\(migration.version), \(nowMs()))",
                    logger: logger
                ).collect()
            }
            logger.debug("schema checked", metadata: ["cella.store.version": "\(migration.version)"])
        }
    }

    static func currentVersion(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", logger: logger).collect()
        return try rows.first.map { try PGRow($0)("v", Int.self) } ?? 0
    }

    public func schemaVersion() async throws -> Int {
        let exists = try await query("read the schema version", "SELECT to_regclass('schema_migrations') IS NOT NULL AS e")
        guard try exists.first?("e", Bool.self) == true else { return 0 }
        let rows = try await query("read the schema version", "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        return try rows.first?("v") ?? 0
    }

    // MARK: Tenants

    public func createTenant(_ tenant: TenantRecord) async throws {
        try await query(
            "create tenant \(tenant.id)", conflict: "tenant \(tenant.id) already exists",
            "INSERT INTO tenants (id, created_at_ms) VALUES (\(tenant.id), \(tenant.createdAtMs))"
        )
    }

    public func tenant(_ id: String) async throws -> TenantRecord? {
        try await query("read tenant \(id)", "SELECT id, created_at_ms FROM tenants WHERE id = \(id)")
            .first.map { TenantRecord(id: try $0("id"), createdAtMs: try $0("created_at_ms")) }
    }

    public func tenants() async throws -> [TenantRecord] {
        try await query("list tenants", "SELECT id, created_at_ms FROM tenants ORDER BY id")
            .map { TenantRecord(id: try $0("id"), createdAtMs: try $0("created_at_ms")) }
    }

    public func deleteTenant(_ id: String) async throws -> Bool {
        try await transaction("delete tenant \(id)") { connection, logger in
            // Records and log lines carry no foreign key (see SQLiteSchema); the rest cascades.
            _ = try await connection.query("DELETE FROM invocation_records WHERE tenant = \(id)", logger: logger).collect()
            _ = try await connection.query("DELETE FROM log_lines WHERE tenant = \(id)", logger: logger).collect()
            return try await !connection.query("DELETE FROM tenants WHERE id = \(id) RETURNING 1", logger: logger).collect().isEmpty
        }
    }

    // MARK: Bundles

    public func putBundle(digest: String, bytes: [UInt8]) async throws {
        try await query(
            "store bundle \(digest)",
            "INSERT INTO bundles (digest, bytes, size) VALUES (\(digest), \(Data(bytes)), \(bytes.count)) ON CONFLICT (digest) DO NOTHING"
        )
    }

    public func bundle(digest: String) async throws -> [UInt8]? {
        try await query("read bundle \(digest)", "SELECT bytes FROM bundles WHERE digest = \(digest)")
            .first.map { [UInt8](try $0("bytes", Data.self)) }
    }

    public func hasBundle(digest: String) async throws -> Bool {
        try await query("look up bundle \(digest)", "SELECT EXISTS (SELECT 1 FROM bundles WHERE digest = \(digest)) AS e")
            .first?("e") ?? false
    }
}
