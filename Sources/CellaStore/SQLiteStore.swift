import Foundation
import GRDB
import Logging

/// The store for one machine: a SQLite file in WAL mode behind a GRDB `DatabasePool`, so reads
/// run concurrently with the one writer and never wait for it. Every write is one IMMEDIATE
/// transaction, which takes SQLite's write lock up front: two writers (even in two processes on
/// the same file) queue on the busy timeout instead of failing half-way with `SQLITE_BUSY`.
/// Foreign keys are on, so deleting a tenant cascades to what it owns.
public final class SQLiteStore: Store {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    let logger: Logger

    /// Opens (creating if needed) the database file. Does not migrate: call `migrate()`.
    /// - Parameters:
    ///   - path: the database file; its directory must exist.
    ///   - busyTimeout: how long a writer waits for another process's write lock.
    /// - Throws: `.unavailable` when the file cannot be opened or is not a SQLite database.
    public init(path: String, busyTimeout: Duration = .seconds(5), logger: Logger) throws {
        self.path = path
        self.logger = logger
        var config = Configuration()
        config.foreignKeysEnabled = true
        let seconds = Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18
        config.busyMode = .timeout(seconds)
        config.label = "cella-store"
        // The database holds credentials' secrets and functions' environments: owner-only.
        // SQLite gives its -wal and -shm files the database file's mode, so making the file 0600
        // before SQLite creates it covers all three. (An existing file is made 0600 too.)
        if path != ":memory:" {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 {
                fchmod(fd, 0o600)
                Glibc.close(fd)
            }
        }
        do {
            // DatabasePool switches the file to WAL itself and keeps it there.
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError(.unavailable, "cannot open SQLite database at \(path)", underlying: error)
        }
        logger.debug("opened SQLite store", metadata: ["cella.store.path": "\(path)"])
    }

    public func close() async {
        do {
            try pool.close()
        } catch {
            logger.warning("closing the SQLite store failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Migrations

    static var knownVersion: Int { SQLiteSchema.migrations.last?.version ?? 0 }

    public func migrate() async throws {
        let known = Self.knownVersion
        for migration in SQLiteSchema.migrations {
            try await write("migrate to schema version \(migration.version)") { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY NOT NULL,
                        applied_at_ms INTEGER NOT NULL
                    ) STRICT
                    """)
                let current = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0
                if current > known { throw StoreError.schemaTooNew(found: current, known: known) }
                if current >= migration.version { return }
                for statement in migration.statements {
                    try db.execute(sql: statement)
                }
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)",
                    arguments: [migration.version, nowMs()]
                )
            }
            logger.debug("schema checked", metadata: ["cella.store.version": "\(migration.version)"])
        }
    }

    public func schemaVersion() async throws -> Int {
        try await read("read the schema version") { db in
            guard try db.tableExists("schema_migrations") else { return 0 }
            return try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0
        }
    }

    // MARK: Tenants

    public func createTenant(_ tenant: TenantRecord) async throws {
        try await write("create tenant \(tenant.id)", conflict: "tenant \(tenant.id) already exists") { db in
            try db.execute(
                sql: "INSERT INTO tenants (id, created_at_ms) VALUES (?, ?)",
                arguments: [tenant.id, tenant.createdAtMs]
            )
        }
    }

    public func tenant(_ id: String) async throws -> TenantRecord? {
        try await read("read tenant \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT id, created_at_ms FROM tenants WHERE id = ?", arguments: [id])
                .map { TenantRecord(id: $0["id"], createdAtMs: $0["created_at_ms"]) }
        }
    }

    public func tenants() async throws -> [TenantRecord] {
        try await read("list tenants") { db in
            try Row.fetchAll(db, sql: "SELECT id, created_at_ms FROM tenants ORDER BY id")
                .map { TenantRecord(id: $0["id"], createdAtMs: $0["created_at_ms"]) }
        }
    }

    public func deleteTenant(_ id: String) async throws -> Bool {
        try await write("delete tenant \(id)") { db in
            // Records and log lines carry no foreign key (see SQLiteSchema); the rest cascades.
            try db.execute(sql: "DELETE FROM invocation_records WHERE tenant = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM log_lines WHERE tenant = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM tenants WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    // MARK: Bundles

    public func putBundle(digest: String, bytes: [UInt8]) async throws {
        try await write("store bundle \(digest)") { db in
            try db.execute(
                sql: "INSERT INTO bundles (digest, bytes, size) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                arguments: [digest, Data(bytes), bytes.count]
            )
        }
    }

    public func bundle(digest: String) async throws -> [UInt8]? {
        try await read("read bundle \(digest)") { db in
            try Data.fetchOne(db, sql: "SELECT bytes FROM bundles WHERE digest = ?", arguments: [digest]).map { [UInt8]($0) }
        }
    }

    public func hasBundle(digest: String) async throws -> Bool {
        try await read("look up bundle \(digest)") { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM bundles WHERE digest = ?)", arguments: [digest]) ?? false
        }
    }

    // MARK: Running statements

    /// Runs `body` in one IMMEDIATE transaction and maps what fails to a `StoreError`.
    /// - Parameters:
    ///   - what: the operation, for messages ("create tenant acme").
    ///   - conflict: the message when a unique key is violated.
    ///   - notFound: the message when a foreign key names a missing row.
    func write<T: Sendable>(
        _ what: String, conflict: String? = nil, notFound: String? = nil,
        _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.map(error, what: what, conflict: conflict, notFound: notFound)
        }
    }

    func read<T: Sendable>(_ what: String, _ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.map(error, what: what, conflict: nil, notFound: nil)
        }
    }

    /// SQLite's extended result codes say which constraint failed; messages never carry the
    /// statement's arguments (GRDB leaves them out unless `publicStatementArguments` is set).
    static func map(_ error: any Error, what: String, conflict: String?, notFound: String?) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? DatabaseError else {
            if error is CancellationError {
                return StoreError(.unavailable, "\(what): cancelled", underlying: error)
            }
            return StoreError(.internal, "\(what) failed", underlying: error)
        }
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return StoreError(.conflict, conflict ?? "\(what): a row with the same key exists", underlying: error)
        case .SQLITE_CONSTRAINT_FOREIGNKEY:
            return StoreError(.notFound, notFound ?? "\(what): a row it refers to does not exist", underlying: error)
        default:
            break
        }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_READONLY,
             .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_MISUSE, .SQLITE_PERM:
            return StoreError(.unavailable, "\(what): the SQLite database refused the work", underlying: error)
        default:
            return StoreError(.internal, "\(what) failed", underlying: error)
        }
    }
}

func nowMs() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded())
}
