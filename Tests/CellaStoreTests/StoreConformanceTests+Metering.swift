import CellaModel
import Foundation
import Testing
@testable import CellaStore

extension StoreConformanceTests {
    @Test(arguments: Backend.allCases)
    func recordsAreIdempotentAndQueryable(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            let r1 = Fixture.record("r1", startMs: 100)
            let r2 = Fixture.record("r2", function: "g", startMs: 200)
            let r3 = Fixture.record("r3", startMs: 301)
            try await store.appendRecords([r1, r2])
            var changed = r1
            changed.durationMs = 999
            // r1 again (an agent resending its batch): the stored one stays.
            try await store.appendRecords([changed, r3, Fixture.record("o1", tenant: "other", startMs: 150)])
            try await store.appendRecords([])
            #expect(try await store.records(InvocationQuery(tenant: "acme")) == [r3, r2, r1])
            #expect(try await store.records(InvocationQuery(tenant: "acme", function: "fn")) == [r3, r1])
            #expect(try await store.records(InvocationQuery(tenant: "acme", requestId: "r2")) == [r2])
            #expect(try await store.records(InvocationQuery(tenant: "acme", sinceMs: 200)) == [r3, r2])
            #expect(try await store.records(InvocationQuery(tenant: "acme", limit: 1)) == [r3])
            #expect(try await store.records(InvocationQuery(tenant: "other")).map(\.requestId) == ["o1"])
            #expect(try await store.records(InvocationQuery(tenant: "other", requestId: "r1")).isEmpty)
            // Big batches are split into several statements and still land whole.
            let many = (0..<2_500).map { Fixture.record("bulk-\($0)", function: "bulk", startMs: 10_000 + Int64($0)) }
            try await store.appendRecords(many)
            #expect(try await store.records(InvocationQuery(tenant: "acme", function: "bulk", limit: 5_000)).count == 2_500)
        }
    }

    @Test(arguments: Backend.allCases)
    func logsComeBackInTheOrderAppended(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            // Same timestamps on purpose: only the append order tells them apart.
            let first = (0..<5).map { Fixture.log("req-a", "a\($0)", timeMs: 100) }
            let second = [Fixture.log("req-b", "b0", function: "g", timeMs: 100), Fixture.log("req-a", "a5", timeMs: 200)]
            try await store.appendLogs(first)
            try await store.appendLogs(second)
            try await store.appendLogs([Fixture.log("req-x", "secret of other", tenant: "other", timeMs: 100)])
            #expect(try await store.logs(InvocationQuery(tenant: "acme")) == first + second)
            #expect(try await store.logs(InvocationQuery(tenant: "acme", requestId: "req-a")).map(\.text) == ["a0", "a1", "a2", "a3", "a4", "a5"])
            #expect(try await store.logs(InvocationQuery(tenant: "acme", function: "g")).map(\.text) == ["b0"])
            #expect(try await store.logs(InvocationQuery(tenant: "acme", sinceMs: 150)).map(\.text) == ["a5"])
            #expect(try await store.logs(InvocationQuery(tenant: "acme", limit: 2)).map(\.text) == ["a0", "a1"])
            #expect(try await store.logs(InvocationQuery(tenant: "acme", requestId: "req-x")).isEmpty)
            let many = (0..<2_100).map { Fixture.log("req-bulk", "line \($0)", timeMs: 300) }
            try await store.appendLogs(many)
            #expect(try await store.logs(InvocationQuery(tenant: "acme", requestId: "req-bulk", limit: 10_000)) == many)
        }
    }

    @Test(arguments: Backend.allCases)
    func pruneDeletesOnlyOlderData(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store)
            try await store.appendRecords([Fixture.record("old", startMs: 100), Fixture.record("new", startMs: 1_000)])
            try await store.appendLogs([
                Fixture.log("old", "o1", timeMs: 100), Fixture.log("old", "o2", timeMs: 999),
                Fixture.log("new", "n1", timeMs: 1_000),
            ])
            #expect(try await store.pruneInvocationData(beforeMs: 1_000) == 3)
            #expect(try await store.records(InvocationQuery(tenant: "acme")).map(\.requestId) == ["new"])
            #expect(try await store.logs(InvocationQuery(tenant: "acme")).map(\.text) == ["n1"])
            #expect(try await store.pruneInvocationData(beforeMs: 1_000) == 0)
        }
    }
}
