import CellaTestSupport
import Foundation
import Testing
@testable import CellaStore

@Suite("Store URLs and the factory", .timeLimit(.minutes(1)))
struct StoreLocationTests {
    @Test(arguments: [
        ("sqlite:/var/lib/cella/cella.db", "/var/lib/cella/cella.db"),
        ("sqlite:///var/lib/cella/cella.db", "/var/lib/cella/cella.db"),
        ("sqlite:relative.db", "relative.db"),
        ("/var/lib/cella/cella.db", "/var/lib/cella/cella.db"),
        ("./data/cella.db", "./data/cella.db"),
        ("cella.db", "cella.db"),
    ])
    func sqliteForms(_ url: String, _ path: String) throws {
        #expect(try StoreLocation(parsing: url) == .sqlite(path: path))
    }

    @Test func postgresForms() throws {
        let full = try StoreLocation(parsing: "postgres://cella:p%40ss@db.internal:6543/cella?sslmode=require")
        #expect(full == .postgres(PostgresTarget(
            host: "db.internal", port: 6543, username: "cella", password: "p@ss", database: "cella", tls: .require)))
        let short = try StoreLocation(parsing: "postgresql://cella@localhost/cella")
        #expect(short == .postgres(PostgresTarget(host: "localhost", username: "cella", password: nil, database: "cella")))
        let socket = try StoreLocation(parsing: "postgres://cella@/cella?host=/run/postgresql&sslmode=disable")
        guard case .postgres(let target) = socket else {
            Issue.record("not postgres: \(socket)")
            return
        }
        #expect(target.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(target.tls == .disable)
    }

    @Test(arguments: [
        "", "   ", "mysql://u:p@h/db", "redis://h", "sqlite:", "postgres://h/db", "postgres://u:topsecret@h/",
        "postgres://u:topsecret@h/db?sslmode=sometimes", "postgres://u:topsecret@h/db?pool=3", "postgres://u:topsecret@h/a/b",
        "postgres://u:topsecret@h:99999/db",
    ])
    func malformedURLsAreRefusedWithoutEchoingThePassword(_ url: String) async throws {
        let error = await expectStoreError(.invalidConfiguration) {
            _ = try await StoreFactory.open(url: url, logger: testLogger)
        }
        #expect(error.map { "\($0)".contains("topsecret") } == false)
        #expect(error?.message.isEmpty == false)
    }

    @Test func descriptionLeavesThePasswordOut() throws {
        let target = try PostgresTarget(url: "postgres://cella:topsecret@db:5432/cella")
        #expect("\(target)" == "postgres://cella@db:5432/cella")
        #expect(String(reflecting: target).contains("topsecret") == false)
    }

    @Test func unreachablePostgresIsUnavailable() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let clock = ContinuousClock()
        let started = clock.now
        let error = await expectStoreError(.unavailable) {
            _ = try await StoreFactory.open(url: "postgres://cella:topsecret@127.0.0.1:1/cella?sslmode=disable", logger: testLogger)
        }
        #expect(error.map { "\($0)".contains("topsecret") } == false)
        #expect(error?.message.contains("127.0.0.1:1") == true)
        #expect(clock.now - started < .seconds(15))
    }

    @Test func sqliteInAMissingDirectoryIsUnavailable() async throws {
        let path = "/nonexistent-\(UUID().uuidString)/cella.db"
        let error = await expectStoreError(.unavailable) {
            _ = try await StoreFactory.open(url: "sqlite:\(path)", logger: testLogger)
        }
        #expect(error?.message.contains(path) == true)
    }

    @Test func aFileThatIsNotSQLiteIsUnavailable() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cella-store-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/not-a-database.db"
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = await expectStoreError(.unavailable) {
            // GRDB may refuse the file when opening it or at the first statement.
            let store = try await StoreFactory.open(url: path, logger: testLogger)
            do {
                try await store.migrate()
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
        #expect(error?.message.isEmpty == false)
    }

    @Test func postgresWithAWrongDatabaseIsUnavailable() async throws {
        let server = try await PostgresServer.require()
        let error = await expectStoreError(.unavailable) {
            _ = try await StoreFactory.open(
                url: "postgres://postgres:topsecret@127.0.0.1:\(server.port)/no_such_db?sslmode=disable", logger: testLogger)
        }
        #expect(error.map { "\($0)".contains("topsecret") } == false)
    }

    @Test func aLostDatabaseIsUnavailableWithinTheOperationTimeout() async throws {
        try await withDatabase(.postgres) { database in
            guard case .postgres(let target) = database.location else { return }
            try await database.open().migrate()
            let store = try await PostgresStore.connect(to: target, operationTimeout: .seconds(2), logger: testLogger)
            do {
                #expect(try await store.tenants().isEmpty)
                // The database goes away under the store: its connections are terminated and
                // new ones are refused, so the pool keeps retrying.
                try await PostgresServer.dropDatabase(target, logger: testLogger)
                let clock = ContinuousClock()
                let started = clock.now
                let error = await expectStoreError(.unavailable) { _ = try await store.tenants() }
                #expect(clock.now - started < .seconds(10))
                #expect(error?.message.contains("list tenants") == true)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func theFactoryOpensWorkingStores(_ backend: Backend) async throws {
        try await withDatabase(backend) { database in
            let url: String =
                switch database.location {
                case .sqlite(let path): "sqlite:\(path)"
                case .postgres(let target): "postgres://\(target.username)@\(target.host):\(target.port)/\(target.database)?sslmode=disable"
                }
            let store = try await StoreFactory.open(url: url, logger: testLogger)
            do {
                try await store.migrate()
                try await store.createTenant(TenantRecord(id: "acme", createdAtMs: 1))
                #expect(try await store.tenants().map(\.id) == ["acme"])
                switch backend {
                case .sqlite: #expect(store is SQLiteStore)
                case .postgres: #expect(store is PostgresStore)
                }
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }
}
