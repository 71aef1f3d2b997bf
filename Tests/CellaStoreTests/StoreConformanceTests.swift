import CellaTestSupport
import CellaModel
import Foundation
import Testing
@testable import CellaStore

/// The one suite both stores must pass: every test runs once on SQLite and once on PostgreSQL
/// (a private server this process starts; see `PostgresServer`).
@Suite("Store conformance", .timeLimit(.minutes(2)))
struct StoreConformanceTests {
    // MARK: Tenants

    @Test(arguments: Backend.allCases)
    func tenants(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            #expect(try await store.tenants().isEmpty)
            try await store.createTenant(TenantRecord(id: "zeta", createdAtMs: 2))
            try await store.createTenant(TenantRecord(id: "acme", createdAtMs: 1))
            let error = await expectStoreError(.conflict) {
                try await store.createTenant(TenantRecord(id: "acme", createdAtMs: 9))
            }
            #expect(error?.message.contains("acme") == true)
            #expect(try await store.tenant("acme") == TenantRecord(id: "acme", createdAtMs: 1))
            #expect(try await store.tenant("nobody") == nil)
            #expect(try await store.tenants().map(\.id) == ["acme", "zeta"])
            #expect(try await store.deleteTenant("zeta"))
            #expect(try await store.deleteTenant("zeta") == false)
            #expect(try await store.tenants().map(\.id) == ["acme"])
        }
    }

    // MARK: Bundles

    @Test(arguments: Backend.allCases)
    func bundles(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            #expect(try await store.hasBundle(digest: "d1") == false)
            #expect(try await store.bundle(digest: "d1") == nil)
            try await store.putBundle(digest: "d1", bytes: big)
            try await store.putBundle(digest: "d1", bytes: big)
            try await store.putBundle(digest: "empty", bytes: [])
            #expect(try await store.hasBundle(digest: "d1"))
            #expect(try await store.bundle(digest: "d1") == big)
            #expect(try await store.bundle(digest: "empty") == [])
        }
    }

    // MARK: Functions

    @Test(arguments: Backend.allCases)
    func functionsCreateReadList(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            try await store.createFunction(Fixture.function("acme", "zfn"))
            try await store.createFunction(Fixture.function("acme", "afn"))
            try await store.createFunction(Fixture.function("other", "afn"))
            await expectStoreError(.conflict) { try await store.createFunction(Fixture.function("acme", "afn")) }
            await expectStoreError(.notFound) { try await store.createFunction(Fixture.function("ghost", "f")) }
            await expectStoreError(.notFound) {
                try await store.createFunction(Fixture.function("acme", "nocode", digest: String(repeating: "0", count: 64)))
            }
            #expect(try await store.function(tenant: "acme", name: "afn") == Fixture.function("acme", "afn"))
            #expect(try await store.functions(tenant: "acme").map(\.name) == ["afn", "zfn"])
            #expect(try await store.function(tenant: "acme", name: "nocode") == nil)
            // Another tenant's function of the same name is not visible through this tenant.
            try await store.createFunction(Fixture.function("other", "only-other"))
            #expect(try await store.function(tenant: "acme", name: "only-other") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func functionUpdateChecksRevision(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store)
            try await store.createFunction(Fixture.function("acme", "fn"))
            var changed = Fixture.function("acme", "fn", digest: Fixture.otherDigest)
            changed.config = Fixture.config("fn", memoryMB: 1024)
            changed.tags = ["team": "edge"]
            changed.asyncRetries = 0
            changed.updatedAtMs = 2_000
            changed.createdAtMs = 99  // not an updatable field
            let updated = try await store.updateFunction(changed, expectedRevision: 1)
            #expect(updated.revision == 2)
            #expect(updated.config.memoryMB == 1024)
            #expect(updated.codeDigest == Fixture.otherDigest)
            #expect(updated.tags == ["team": "edge"])
            #expect(updated.asyncRetries == 0)
            #expect(updated.updatedAtMs == 2_000)
            #expect(updated.createdAtMs == 1_000)
            #expect(try await store.function(tenant: "acme", name: "fn") == updated)

            let stale = await expectStoreError(.revisionMismatch) {
                _ = try await store.updateFunction(changed, expectedRevision: 1)
            }
            #expect(stale?.message.contains("revision 2") == true)
            // Without an expected revision the update applies whatever the revision.
            #expect(try await store.updateFunction(changed, expectedRevision: nil).revision == 3)
            await expectStoreError(.notFound) {
                _ = try await store.updateFunction(Fixture.function("acme", "ghost"), expectedRevision: nil)
            }
            await expectStoreError(.notFound) {
                _ = try await store.updateFunction(Fixture.function("acme", "ghost"), expectedRevision: 1)
            }
            await expectStoreError(.notFound) {
                _ = try await store.updateFunction(
                    Fixture.function("acme", "fn", digest: String(repeating: "9", count: 64)), expectedRevision: nil)
            }
            #expect(try await store.function(tenant: "acme", name: "fn")?.revision == 3)
        }
    }

    @Test(arguments: Backend.allCases)
    func versionsSnapshotTheHead(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            try await store.createFunction(Fixture.function("acme", "fn"))
            let v1 = try await store.publishVersion(tenant: "acme", name: "fn", description: "first", nowMs: 5_000)
            #expect(v1 == FunctionVersionRecord(
                tenant: "acme", name: "fn", version: "1", config: Fixture.config("fn"), codeDigest: Fixture.digest,
                asyncRetries: 1, description: "first", createdAtMs: 5_000))
            var head = Fixture.function("acme", "fn", digest: Fixture.otherDigest)
            head.config = Fixture.config("fn", memoryMB: 2048)
            _ = try await store.updateFunction(head, expectedRevision: nil)
            let v2 = try await store.publishVersion(tenant: "acme", name: "fn", description: "", nowMs: 6_000)
            #expect(v2.version == "2")
            #expect(v2.config.memoryMB == 2048)
            #expect(v2.codeDigest == Fixture.otherDigest)
            // Version 1 keeps what the head was when it was published.
            #expect(try await store.version(tenant: "acme", name: "fn", version: "1") == v1)
            #expect(try await store.versions(tenant: "acme", name: "fn") == [v1, v2])
            for bad in ["01", "+1", "0", "-1", "abc", "$LATEST", "3"] {
                #expect(try await store.version(tenant: "acme", name: "fn", version: bad) == nil, "\(bad)")
            }
            #expect(try await store.version(tenant: "other", name: "fn", version: "1") == nil)
            await expectStoreError(.notFound) {
                _ = try await store.publishVersion(tenant: "acme", name: "ghost", description: "", nowMs: 1)
            }
            await expectStoreError(.notFound) {
                _ = try await store.publishVersion(tenant: "other", name: "fn", description: "", nowMs: 1)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentPublishesNumberWithoutGaps(_ backend: Backend) async throws {
        try await withDatabase(backend) { database in
            // Two stores on one database: two controllers publishing at once.
            let first = try await database.open()
            let second = try await database.open()
            try await first.migrate()
            try await Fixture.seed(first)
            try await first.createFunction(Fixture.function("acme", "fn"))
            let numbers = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<8 {
                    let store = i.isMultiple(of: 2) ? first : second
                    group.addTask {
                        try await store.publishVersion(tenant: "acme", name: "fn", description: "p\(i)", nowMs: Int64(i)).version
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(numbers.compactMap(Int.init).sorted() == Array(1...8))
            #expect(try await first.versions(tenant: "acme", name: "fn").map(\.version) == (1...8).map(String.init))
        }
    }

    @Test(arguments: Backend.allCases)
    func deleteFunctionTakesVersionsAndAliases(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store)
            try await store.createFunction(Fixture.function("acme", "fn"))
            _ = try await store.publishVersion(tenant: "acme", name: "fn", description: "", nowMs: 1)
            try await store.putAlias(AliasRecord(tenant: "acme", function: "fn", name: "live", version: "1", updatedAtMs: 1))
            #expect(try await store.deleteFunction(tenant: "acme", name: "fn"))
            #expect(try await store.deleteFunction(tenant: "acme", name: "fn") == false)
            #expect(try await store.function(tenant: "acme", name: "fn") == nil)
            #expect(try await store.versions(tenant: "acme", name: "fn").isEmpty)
            #expect(try await store.aliases(tenant: "acme", function: "fn").isEmpty)
            // A new function of the same name starts numbering again.
            try await store.createFunction(Fixture.function("acme", "fn"))
            #expect(try await store.publishVersion(tenant: "acme", name: "fn", description: "", nowMs: 2).version == "1")
        }
    }

    // MARK: Aliases

    @Test(arguments: Backend.allCases)
    func aliasesMoveBetweenVersions(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            try await store.createFunction(Fixture.function("acme", "fn"))
            _ = try await store.publishVersion(tenant: "acme", name: "fn", description: "", nowMs: 1)
            _ = try await store.publishVersion(tenant: "acme", name: "fn", description: "", nowMs: 2)
            let live = AliasRecord(tenant: "acme", function: "fn", name: "live", version: "1", updatedAtMs: 10)
            try await store.putAlias(live)
            #expect(try await store.alias(tenant: "acme", function: "fn", name: "live") == live)
            let moved = AliasRecord(tenant: "acme", function: "fn", name: "live", version: "2", updatedAtMs: 20)
            try await store.putAlias(moved)
            #expect(try await store.alias(tenant: "acme", function: "fn", name: "live") == moved)
            let latest = AliasRecord(tenant: "acme", function: "fn", name: "edge", version: "$LATEST", updatedAtMs: 30)
            try await store.putAlias(latest)
            #expect(try await store.aliases(tenant: "acme", function: "fn") == [latest, moved])

            for version in ["3", "01", "x", ""] {
                await expectStoreError(.notFound) {
                    try await store.putAlias(AliasRecord(tenant: "acme", function: "fn", name: "live", version: version, updatedAtMs: 40))
                }
            }
            #expect(try await store.alias(tenant: "acme", function: "fn", name: "live") == moved)
            await expectStoreError(.notFound) {
                try await store.putAlias(AliasRecord(tenant: "acme", function: "ghost", name: "a", version: "$LATEST", updatedAtMs: 1))
            }
            await expectStoreError(.notFound) {
                try await store.putAlias(AliasRecord(tenant: "other", function: "fn", name: "a", version: "1", updatedAtMs: 1))
            }
            #expect(try await store.alias(tenant: "other", function: "fn", name: "live") == nil)
            #expect(try await store.deleteAlias(tenant: "acme", function: "fn", name: "live"))
            #expect(try await store.deleteAlias(tenant: "acme", function: "fn", name: "live") == false)
            #expect(try await store.aliases(tenant: "acme", function: "fn") == [latest])
        }
    }

    // MARK: Nodes

    @Test(arguments: Backend.allCases)
    func nodeUpsertKeepsDrainingAndRegistration(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let first = NodeRecord(
                id: "n1", address: "http://10.0.0.1:7070", memoryBudgetBytes: 8 << 30, memoryReservedBytes: 1 << 20,
                inFlight: 3, warm: ["acme/fn:1"], templates: ["acme/fn:1"], bundles: [Fixture.digest],
                lastHeartbeatMs: 100, registeredAtMs: 100,
                instances: [InstanceCounts(function: "acme/fn:1", idle: 1, busy: 2, starting: 0, memoryBytes: 3 << 27)]
            )
            try await store.upsertNode(first)
            #expect(try await store.node("n1") == first)
            try await store.setNodeDraining("n1", draining: true)
            let beat = NodeRecord(
                id: "n1", address: "http://10.0.0.9:7070", memoryBudgetBytes: 4 << 30, memoryReservedBytes: 0,
                inFlight: 0, warm: [], templates: ["acme/fn:2"], bundles: [], draining: false,
                lastHeartbeatMs: 200, registeredAtMs: 200
            )
            try await store.upsertNode(beat)
            var expected = beat
            expected.draining = true
            expected.registeredAtMs = 100
            #expect(try await store.node("n1") == expected)
            try await store.setNodeDraining("n1", draining: false)
            #expect(try await store.node("n1")?.draining == false)
            await expectStoreError(.notFound) { try await store.setNodeDraining("ghost", draining: true) }
            try await store.upsertNode(NodeRecord(id: "n0", address: "http://a", memoryBudgetBytes: 1, lastHeartbeatMs: 1, registeredAtMs: 1))
            #expect(try await store.nodes().map(\.id) == ["n0", "n1"])
            #expect(try await store.deleteNode("n0"))
            #expect(try await store.deleteNode("n0") == false)
            #expect(try await store.node("n0") == nil)
            #expect(try await store.nodes().map(\.id) == ["n1"])
        }
    }
}
