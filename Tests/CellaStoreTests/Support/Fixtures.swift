import CellaModel
import Foundation
@testable import CellaStore

/// Small records with distinct values in every field, so a column read back from the wrong
/// place shows.
enum Fixture {
    static let digest = String(repeating: "ab", count: 32)
    static let otherDigest = String(repeating: "cd", count: 32)

    static func config(_ name: String, memoryMB: Int = 256) -> FunctionConfig {
        FunctionConfig(
            name: name, runtime: "python3.11", handler: "app.handler", memoryMB: memoryMB, timeoutSeconds: 30,
            environment: ["STAGE": "test", "EMPTY": ""], reservedConcurrency: 5
        )
    }

    static func function(_ tenant: String, _ name: String, digest: String = Fixture.digest) -> FunctionRecord {
        FunctionRecord(
            tenant: tenant, name: name, config: config(name), codeDigest: digest, asyncRetries: 1,
            tags: ["team": "core", "cost-center": "42"], revision: 1, createdAtMs: 1_000, updatedAtMs: 1_000
        )
    }

    /// A tenant and the bundle its functions use.
    static func seed(_ store: any Store, tenants: [String] = ["acme"]) async throws {
        try await store.putBundle(digest: digest, bytes: Array("zip bytes".utf8))
        try await store.putBundle(digest: otherDigest, bytes: [0, 1, 2, 255])
        for tenant in tenants {
            try await store.createTenant(TenantRecord(id: tenant, createdAtMs: 500))
        }
    }

    static func invocation(
        _ id: String, tenant: String = "acme", function: String = "fn", key: String? = nil, dueMs: Int64 = 0
    ) -> QueuedInvocation {
        QueuedInvocation(
            id: id, tenant: tenant, function: function, qualifier: "$LATEST", payload: Array("{\"n\":\"\(id)\"}".utf8),
            idempotencyKey: key, maxAttempts: 3, nextAttemptAtMs: dueMs, createdAtMs: dueMs, updatedAtMs: dueMs
        )
    }

    static func record(_ requestId: String, tenant: String = "acme", function: String = "fn", startMs: Int64) -> InvocationRecord {
        InvocationRecord(
            requestId: requestId, tenant: tenant, function: function, version: "3", startMs: startMs,
            durationMs: 12.25, billedDurationMs: 13, initDurationMs: startMs % 2 == 0 ? 180.5 : nil, start: .cold,
            memoryMB: 512, maxMemoryUsedBytes: UInt64(Int64.max) + 7, outcome: .error, errorType: "ZeroDivisionError"
        )
    }

    static func log(_ requestId: String, _ text: String, tenant: String = "acme", function: String = "fn", timeMs: Int64) -> LogLineRecord {
        LogLineRecord(tenant: tenant, function: function, version: "$LATEST", requestId: requestId, timeMs: timeMs, text: text)
    }
}
