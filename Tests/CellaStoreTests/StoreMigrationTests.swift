import Foundation
import GRDB
import PostgresNIO
import Testing
@testable import CellaStore

@Suite("Store migrations", .timeLimit(.minutes(2)))
struct StoreMigrationTests {
    static func knownVersion(_ backend: Backend) -> Int {
        switch backend {
        case .sqlite: SQLiteStore.knownVersion
        case .postgres: PostgresStore.knownVersion
        }
    }

    @Test(arguments: Backend.allCases)
    func migrateIsVersionedAndRerunsAsANoOp(_ backend: Backend) async throws {
        try await withDatabase(backend) { database in
            let store = try await database.open()
            #expect(try await store.schemaVersion() == 0)
            try await store.migrate()
            let version = try await store.schemaVersion()
            #expect(version == Self.knownVersion(backend))
            #expect(version >= 1)
            try await store.createTenant(TenantRecord(id: "acme", createdAtMs: 1))
            try await store.migrate()
            #expect(try await store.schemaVersion() == version)
            #expect(try await store.tenant("acme") != nil)
            // A second store (another controller) sees the same schema and data.
            let other = try await database.open()
            try await other.migrate()
            #expect(try await other.tenants().map(\.id) == ["acme"])
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentMigrationsBothSucceed(_ backend: Backend) async throws {
        try await withDatabase(backend) { database in
            var stores: [any Store] = []
            for _ in 0..<4 { stores.append(try await database.open()) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores {
                    group.addTask { try await store.migrate() }
                }
                try await group.waitForAll()
            }
            for store in stores {
                #expect(try await store.schemaVersion() == Self.knownVersion(backend))
            }
            try await stores[0].createTenant(TenantRecord(id: "acme", createdAtMs: 1))
            #expect(try await stores[3].tenant("acme") != nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func aNewerSchemaIsRefused(_ backend: Backend) async throws {
        try await withDatabase(backend) { database in
            let store = try await database.open()
            try await store.migrate()
            let future = Self.knownVersion(backend) + 1
            // What a newer Cella would have left behind.
            switch store {
            case let sqlite as SQLiteStore:
                try await sqlite.pool.write { db in
                    try db.execute(sql: "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, 0)", arguments: [future])
                }
            case let postgres as PostgresStore:
                try await postgres.client.query("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (\(future), 0)")
            default:
                Issue.record("unexpected store type \(type(of: store))")
            }
            let error = await expectStoreError(.schemaTooNew) { try await store.migrate() }
            #expect(error?.message.contains("\(future)") == true)
            #expect(try await store.schemaVersion() == future)
        }
    }
}

@Suite("SQLite settings", .timeLimit(.minutes(1)))
struct SQLiteSettingsTests {
    @Test func walForeignKeysAndBusyTimeout() async throws {
        try await withDatabase(.sqlite) { database in
            let store = try #require(try await database.open() as? SQLiteStore)
            let (journal, foreignKeys, busyTimeout) = try await store.pool.read { db in
                (
                    try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                    try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
                    try Int.fetchOne(db, sql: "PRAGMA busy_timeout")
                )
            }
            #expect(journal == "wal")
            #expect(foreignKeys == 1)
            // GRDB gives read-only connections its own 10 s; the timeout that matters is the writer's.
            #expect(busyTimeout == 10_000)
            let writerTimeout = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA busy_timeout") }
            #expect(writerTimeout == 5_000)
            try await store.migrate()
            // Owner-only: the file holds secrets; its -wal and -shm take its mode.
            for suffix in ["", "-wal", "-shm"] {
                var st = stat()
                #expect(stat(store.path + suffix, &st) == 0, "\(store.path + suffix) missing")
                #expect(st.st_mode & 0o777 == 0o600, "\(suffix.isEmpty ? "database" : suffix) mode \(String(st.st_mode & 0o777, radix: 8))")
            }
        }
    }
}
