import CellaTestSupport
import Foundation
import Logging
import Testing
@testable import CellaStore

/// The two implementations every conformance test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

let testLogger: Logger = {
    var logger = Logger(label: "cella.store.tests")
    logger.logLevel = .warning
    return logger
}()

/// Opens stores on one database of a backend; every store opened is closed, and the database
/// deleted, when the test ends (failing or not).
final class TestDatabase: Sendable {
    let backend: Backend
    /// The SQLite file, or the PostgreSQL database.
    let location: StoreLocation
    private let directory: String?
    private let opened = OpenedStores()

    private init(backend: Backend, location: StoreLocation, directory: String?) {
        self.backend = backend
        self.location = location
        self.directory = directory
    }

    static func make(_ backend: Backend) async throws -> TestDatabase {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("cella-store-test-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            return TestDatabase(backend: backend, location: .sqlite(path: "\(directory)/cella.db"), directory: directory)
        case .postgres:
            let target = try await PostgresServer.createDatabase(logger: testLogger)
            return TestDatabase(backend: backend, location: .postgres(target), directory: nil)
        }
    }

    /// A new store on this database (a second controller, when called twice).
    func open() async throws -> any Store {
        let store: any Store =
            switch location {
            case .sqlite(let path): try SQLiteStore(path: path, logger: testLogger)
            case .postgres(let target): try await PostgresStore.connect(to: target, logger: testLogger)
            }
        await opened.add(store)
        return store
    }

    func tearDown() async {
        for store in await opened.all() { await store.close() }
        switch location {
        case .sqlite:
            if let directory { try? FileManager.default.removeItem(atPath: directory) }
        case .postgres(let target):
            do {
                try await PostgresServer.dropDatabase(target, logger: testLogger)
            } catch {
                Issue.record("could not drop test database \(target.database): \(error)")
            }
        }
    }

    private actor OpenedStores {
        var stores: [any Store] = []
        func add(_ store: any Store) { stores.append(store) }
        func all() -> [any Store] { stores }
    }
}

/// Runs `body` with a test database of `backend`, torn down afterwards whatever happens.
func withDatabase(_ backend: Backend, _ body: (TestDatabase) async throws -> Void) async throws {
    let database = try await TestDatabase.make(backend)
    do {
        try await body(database)
    } catch {
        await database.tearDown()
        throw error
    }
    await database.tearDown()
}

/// Runs `body` with a migrated store of `backend`.
func withStore(_ backend: Backend, _ body: (any Store) async throws -> Void) async throws {
    try await withDatabase(backend) { database in
        let store = try await database.open()
        try await store.migrate()
        try await body(store)
    }
}

/// Expects `body` to throw a `StoreError` with `code`, and returns it for more checks.
@discardableResult
func expectStoreError(
    _ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> StoreError? {
    do {
        try await body()
        Issue.record("expected StoreError.\(code.rawValue), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as StoreError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected StoreError.\(code.rawValue), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
