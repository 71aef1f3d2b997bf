import Foundation
import Synchronization

/// Per-tenant limits on this controller: concurrent executions and invocations per second (a token
/// bucket with one second of burst). With several controllers behind a load balancer each enforces
/// its own share, so set the limits per controller (total ÷ controllers).
public final class Quotas: Sendable {
    public struct Limits: Sendable, Equatable, Codable {
        /// Invocations of the tenant running at once; nil: no limit.
        public var concurrency: Int?
        /// Invocations started per second; nil: no limit.
        public var perSecond: Double?
        public init(concurrency: Int? = nil, perSecond: Double? = nil) {
            self.concurrency = concurrency
            self.perSecond = perSecond
        }
    }

    struct Bucket {
        var running = 0
        var tokens: Double
        var refilledAt: UInt64
    }

    public let defaults: Limits
    public let overrides: [String: Limits]
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(defaults: Limits, overrides: [String: Limits] = [:]) {
        self.defaults = defaults
        self.overrides = overrides
    }

    public func limits(for tenant: String) -> Limits { overrides[tenant] ?? defaults }

    /// Takes a slot for one invocation of the tenant; pair with `release`.
    /// - Throws: `tooManyRequests` with Lambda's reason and `Retry-After`.
    public func acquire(tenant: String, nowNs: UInt64 = DispatchTime.now().uptimeNanoseconds) throws(ControllerError) {
        let limits = limits(for: tenant)
        if limits.concurrency == nil && limits.perSecond == nil { return }
        let refused: ControllerError? = buckets.withLock { buckets in
            var bucket = buckets[tenant] ?? Bucket(tokens: limits.perSecond ?? 0, refilledAt: nowNs)
            defer { buckets[tenant] = bucket }
            if let concurrency = limits.concurrency, bucket.running >= concurrency {
                return ControllerError(
                    .tooManyRequests, "Rate Exceeded: the tenant's \(concurrency) concurrent executions are in use",
                    reason: "ConcurrentInvocationLimitExceeded", retryAfterSeconds: 1)
            }
            if let rate = limits.perSecond {
                let elapsed = Double(nowNs &- bucket.refilledAt) / 1e9
                bucket.tokens = min(rate, bucket.tokens + elapsed * rate)
                bucket.refilledAt = nowNs
                guard bucket.tokens >= 1 else {
                    return ControllerError(
                        .tooManyRequests, "Rate Exceeded: the tenant's limit of \(rate) invocations per second",
                        reason: "CallerRateLimitExceeded", retryAfterSeconds: 1)
                }
                bucket.tokens -= 1
            }
            bucket.running += 1
            return nil
        }
        if let refused { throw refused }
    }

    public func release(tenant: String) {
        let limits = limits(for: tenant)
        if limits.concurrency == nil && limits.perSecond == nil { return }
        buckets.withLock { $0[tenant]?.running -= 1 }
    }

    /// Invocations of the tenant running now (through this controller).
    public func running(tenant: String) -> Int { buckets.withLock { $0[tenant]?.running ?? 0 } }
}
