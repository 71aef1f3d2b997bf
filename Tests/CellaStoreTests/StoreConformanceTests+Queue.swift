import CellaModel
import Foundation
import Testing
@testable import CellaStore

extension StoreConformanceTests {
    @Test(arguments: Backend.allCases)
    func enqueueIsIdempotentPerTenantAndFunction(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            let first = try await store.enqueue(Fixture.invocation("i1", key: "k"))
            #expect(first.created)
            #expect(first.invocation == Fixture.invocation("i1", key: "k"))
            let again = try await store.enqueue(Fixture.invocation("i2", key: "k"))
            #expect(again.created == false)
            #expect(again.invocation.id == "i1")
            #expect(try await store.invocation(tenant: "acme", id: "i2") == nil)
            // The key is scoped to the tenant and the function.
            #expect(try await store.enqueue(Fixture.invocation("i3", function: "other-fn", key: "k")).created)
            #expect(try await store.enqueue(Fixture.invocation("i4", tenant: "other", key: "k")).created)
            // No key, no deduplication.
            #expect(try await store.enqueue(Fixture.invocation("i5")).created)
            #expect(try await store.enqueue(Fixture.invocation("i6")).created)
            await expectStoreError(.conflict) { _ = try await store.enqueue(Fixture.invocation("i1", key: "other-key")) }
            await expectStoreError(.notFound) { _ = try await store.enqueue(Fixture.invocation("i7", tenant: "ghost")) }
            var empty = Fixture.invocation("i8")
            empty.payload = []
            #expect(try await store.enqueue(empty).invocation.payload == [])
            #expect(try await store.invocation(tenant: "acme", id: "i8")?.payload == [])
            #expect(try await store.queueDepth() == 6)
            // Another tenant cannot read it.
            #expect(try await store.invocation(tenant: "other", id: "i1") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func claimLeasesDueInvocations(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store)
            _ = try await store.enqueue(Fixture.invocation("due-b", dueMs: 100))
            _ = try await store.enqueue(Fixture.invocation("due-a", dueMs: 50))
            _ = try await store.enqueue(Fixture.invocation("later", dueMs: 5_000))
            #expect(try await store.claimInvocations(owner: "c1", limit: 0, nowMs: 1_000, leaseMs: 100).isEmpty)
            let claimed = try await store.claimInvocations(owner: "c1", limit: 10, nowMs: 1_000, leaseMs: 30_000)
            #expect(claimed.map(\.id) == ["due-a", "due-b"])
            for invocation in claimed {
                #expect(invocation.status == .running)
                #expect(invocation.attempts == 1)
                #expect(invocation.leaseOwner == "c1")
                #expect(invocation.leaseExpiresAtMs == 31_000)
                #expect(invocation.updatedAtMs == 1_000)
                #expect(try await store.invocation(tenant: "acme", id: invocation.id) == invocation)
            }
            // Leased ones are not due again while the lease runs.
            #expect(try await store.claimInvocations(owner: "c2", limit: 10, nowMs: 2_000, leaseMs: 100).isEmpty)
            #expect(try await store.claimInvocations(owner: "c2", limit: 10, nowMs: 5_000, leaseMs: 100).map(\.id) == ["later"])
            #expect(try await store.queueDepth() == 3)
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentClaimersNeverShareAnInvocation(_ backend: Backend) async throws {
        try await withDatabase(backend) { database in
            let setup = try await database.open()
            try await setup.migrate()
            try await Fixture.seed(setup)
            let ids = (0..<60).map { String(format: "inv-%03d", $0) }
            for id in ids { _ = try await setup.enqueue(Fixture.invocation(id, dueMs: 10)) }
            // Four controllers, each with its own store, claim in small batches until the queue is dry.
            var stores: [any Store] = []
            for _ in 0..<4 { stores.append(try await database.open()) }
            let claims = try await withThrowingTaskGroup(of: [String].self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let batch = try await store.claimInvocations(owner: "c\(index)", limit: 3, nowMs: 1_000, leaseMs: 60_000)
                            if batch.isEmpty { return mine }
                            #expect(batch.allSatisfy { $0.leaseOwner == "c\(index)" && $0.attempts == 1 })
                            mine += batch.map(\.id)
                        }
                    }
                }
                return try await group.reduce(into: [[String]]()) { $0.append($1) }
            }
            let all = claims.flatMap { $0 }
            #expect(all.count == ids.count, "an invocation was claimed twice or not at all")
            #expect(Set(all) == Set(ids))
        }
    }

    @Test(arguments: Backend.allCases)
    func expiredLeasesAreReclaimedAndTheOldOwnerLosesEverything(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store)
            _ = try await store.enqueue(Fixture.invocation("i1", dueMs: 0))
            #expect(try await store.claimInvocations(owner: "a", limit: 1, nowMs: 0, leaseMs: 1_000).count == 1)
            #expect(try await store.renewLease(id: "i1", owner: "a", untilMs: 2_000))
            #expect(try await store.claimInvocations(owner: "b", limit: 1, nowMs: 1_500, leaseMs: 1_000).isEmpty)
            // At the lease's end the invocation is due again: "a" died.
            let reclaimed = try await store.claimInvocations(owner: "b", limit: 1, nowMs: 2_000, leaseMs: 1_000)
            #expect(reclaimed.map(\.id) == ["i1"])
            #expect(reclaimed.first?.attempts == 2)
            #expect(reclaimed.first?.leaseOwner == "b")

            #expect(try await store.renewLease(id: "i1", owner: "a", untilMs: 9_000) == false)
            #expect(try await store.completeInvocation(id: "i1", owner: "a", requestId: "r", result: [1], nowMs: 2_100) == false)
            #expect(try await store.retryInvocation(id: "i1", owner: "a", requestId: nil, error: "e", nextAttemptAtMs: 0, nowMs: 2_100) == false)
            #expect(try await store.deadLetterInvocation(id: "i1", owner: "a", requestId: nil, error: "e", result: nil, nowMs: 2_100) == false)
            #expect(try await store.invocation(tenant: "acme", id: "i1")?.leaseOwner == "b")
            #expect(try await store.renewLease(id: "ghost", owner: "b", untilMs: 1) == false)

            #expect(try await store.completeInvocation(id: "i1", owner: "b", requestId: "req-2", result: Array("ok".utf8), nowMs: 2_200))
            let done = try #require(try await store.invocation(tenant: "acme", id: "i1"))
            #expect(done.status == .succeeded)
            #expect(done.result == Array("ok".utf8))
            #expect(done.lastRequestId == "req-2")
            #expect(done.leaseOwner == nil)
            #expect(done.updatedAtMs == 2_200)
            // Finished: neither renewable nor completable again, nor claimable.
            #expect(try await store.renewLease(id: "i1", owner: "b", untilMs: 9_000) == false)
            #expect(try await store.completeInvocation(id: "i1", owner: "b", requestId: "r", result: [], nowMs: 2_300) == false)
            #expect(try await store.claimInvocations(owner: "c", limit: 5, nowMs: 100_000, leaseMs: 1).isEmpty)
            #expect(try await store.queueDepth() == 0)
        }
    }

    @Test(arguments: Backend.allCases)
    func retriesThenDeadLetters(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            _ = try await store.enqueue(Fixture.invocation("i1", function: "fn", dueMs: 0))
            _ = try await store.enqueue(Fixture.invocation("i2", function: "g", dueMs: 0))
            _ = try await store.claimInvocations(owner: "a", limit: 2, nowMs: 10, leaseMs: 1_000)
            #expect(try await store.retryInvocation(
                id: "i1", owner: "a", requestId: "req-1", error: "Boom: first", nextAttemptAtMs: 500, nowMs: 20))
            let queued = try #require(try await store.invocation(tenant: "acme", id: "i1"))
            #expect(queued.status == .queued)
            #expect(queued.lastError == "Boom: first")
            #expect(queued.lastRequestId == "req-1")
            #expect(queued.nextAttemptAtMs == 500)
            #expect(queued.leaseOwner == nil && queued.leaseExpiresAtMs == nil)
            #expect(try await store.queueDepth() == 2)
            #expect(try await store.claimInvocations(owner: "b", limit: 5, nowMs: 499, leaseMs: 1_000).isEmpty)
            let second = try await store.claimInvocations(owner: "b", limit: 5, nowMs: 500, leaseMs: 1_000)
            #expect(second.map(\.id) == ["i1"])
            #expect(second.first?.attempts == 2)

            let errorObject = Array(#"{"errorType":"Boom"}"#.utf8)
            #expect(try await store.deadLetterInvocation(
                id: "i1", owner: "b", requestId: "req-2", error: "Boom: second", result: errorObject, nowMs: 600))
            #expect(try await store.deadLetterInvocation(
                id: "i2", owner: "a", requestId: nil, error: "Timeout", result: nil, nowMs: 700))
            let dead = try await store.deadLetters(tenant: "acme", function: nil, limit: 10)
            #expect(dead.map(\.id) == ["i2", "i1"])
            #expect(dead.last?.status == .dead)
            #expect(dead.last?.result == errorObject)
            #expect(dead.last?.lastError == "Boom: second")
            #expect(dead.first?.result == nil)
            #expect(try await store.deadLetters(tenant: "acme", function: "fn", limit: 10).map(\.id) == ["i1"])
            #expect(try await store.deadLetters(tenant: "acme", function: nil, limit: 1).map(\.id) == ["i2"])
            #expect(try await store.deadLetters(tenant: "other", function: nil, limit: 10).isEmpty)
            #expect(try await store.queueDepth() == 0)
        }
    }
}
