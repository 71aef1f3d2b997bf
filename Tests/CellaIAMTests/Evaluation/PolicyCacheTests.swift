import CellaIAM
import Testing

@Suite struct PolicyCacheTests {
    @Test func compilesOncePerRevision() throws {
        let cache = PolicyCache(capacity: 4)
        var compilations = 0
        let source = { () -> String in
            compilations += 1
            return doc(allow())
        }
        let first = try cache.policy(id: "p", revision: "1", document: source)
        let second = try cache.policy(id: "p", revision: "1", document: source)
        #expect(compilations == 1)
        #expect(first.id == "p" && second.statements.count == 1)
        _ = try cache.policy(id: "p", revision: "2", document: source)
        #expect(compilations == 2)
        cache.remove(id: "p")
        #expect(cache.count == 0)
    }

    @Test func staysWithinCapacity() throws {
        let cache = PolicyCache(capacity: 3)
        for index in 0..<10 {
            _ = try cache.policy(id: "p\(index)", revision: "1") { doc(allow()) }
        }
        #expect(cache.count == 3)
    }

    @Test func doesNotCacheInvalidDocuments() {
        let cache = PolicyCache()
        #expect(throws: IAMError.self) { try cache.policy(id: "bad", revision: "1") { "{}" } }
        #expect(cache.count == 0)
    }
}
