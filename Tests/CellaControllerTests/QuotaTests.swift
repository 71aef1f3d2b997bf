@testable import CellaController
import Testing

@Suite struct QuotaTests {
    @Test func concurrencyLimitRefusesThenFrees() throws {
        let q = Quotas(defaults: .init(concurrency: 2))
        try q.acquire(tenant: "a")
        try q.acquire(tenant: "a")
        do {
            try q.acquire(tenant: "a")
            Issue.record("a third concurrent invocation was let through")
        } catch {
            #expect(error.code == .tooManyRequests)
            #expect(error.reason == "ConcurrentInvocationLimitExceeded")
            #expect(error.retryAfterSeconds == 1)
            #expect(error.httpStatus == 429)
        }
        // Other tenants are not affected.
        try q.acquire(tenant: "b")
        q.release(tenant: "a")
        try q.acquire(tenant: "a")
        #expect(q.running(tenant: "a") == 2)
    }

    @Test func rateLimitRefillsWithTime() throws {
        let q = Quotas(defaults: .init(perSecond: 2))
        let t0: UInt64 = 1_000_000_000
        try q.acquire(tenant: "a", nowNs: t0)
        q.release(tenant: "a")
        try q.acquire(tenant: "a", nowNs: t0)
        q.release(tenant: "a")
        #expect(throws: ControllerError.self) { try q.acquire(tenant: "a", nowNs: t0 + 1000) }
        // Half a second later one token is back (2 per second).
        try q.acquire(tenant: "a", nowNs: t0 + 500_000_000)
        q.release(tenant: "a")
    }

    @Test func overridesApplyPerTenant() throws {
        let q = Quotas(defaults: .init(concurrency: 1), overrides: ["big": .init(concurrency: 3)])
        for _ in 0..<3 { try q.acquire(tenant: "big") }
        try q.acquire(tenant: "small")
        #expect(throws: ControllerError.self) { try q.acquire(tenant: "small") }
    }
}
