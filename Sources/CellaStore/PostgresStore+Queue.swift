import Foundation
import PostgresNIO

extension PostgresStore {
    static let invocationColumns = """
        id, tenant, function, qualifier, payload, idempotency_key, status, attempts, max_attempts,
        next_attempt_at_ms, lease_owner, lease_expires_at_ms, result, last_error, last_request_id,
        created_at_ms, updated_at_ms
        """

    public func enqueue(_ invocation: QueuedInvocation) async throws -> (invocation: QueuedInvocation, created: Bool) {
        let i = invocation
        let what = "enqueue invocation \(i.id)"
        let inserted = try await query(
            what, conflict: "an invocation with id \(i.id) already exists", notFound: "tenant \(i.tenant) does not exist",
            """
            INSERT INTO invocations (\(unescaped: Self.invocationColumns))
            VALUES (\(i.id), \(i.tenant), \(i.function), \(i.qualifier), \(Data(i.payload)), \(i.idempotencyKey),
                    \(i.status.rawValue), \(i.attempts), \(i.maxAttempts), \(i.nextAttemptAtMs), \(i.leaseOwner),
                    \(i.leaseExpiresAtMs), \(i.result.map { Data($0) }), \(i.lastError), \(i.lastRequestId),
                    \(i.createdAtMs), \(i.updatedAtMs))
            ON CONFLICT (tenant, function, idempotency_key) DO NOTHING
            RETURNING \(unescaped: Self.invocationColumns)
            """
        )
        if let row = inserted.first { return (try Self.invocation(row), true) }
        // DO NOTHING waited for the other insert to commit, so this statement's snapshot sees it.
        let existing = try await query(
            what,
            """
            SELECT \(unescaped: Self.invocationColumns) FROM invocations
            WHERE tenant = \(i.tenant) AND function = \(i.function) AND idempotency_key = \(i.idempotencyKey)
            """
        )
        guard let row = existing.first else {
            throw StoreError(.internal, "enqueue of \(i.id) neither inserted nor found an invocation")
        }
        return (try Self.invocation(row), false)
    }

    public func claimInvocations(owner: String, limit: Int, nowMs: Int64, leaseMs: Int64) async throws -> [QueuedInvocation] {
        guard limit > 0 else { return [] }
        // One statement: SKIP LOCKED passes over rows another claimer is taking right now, and
        // the row locks keep them until this UPDATE commits them as running.
        let rows = try await query(
            "claim invocations for \(owner)",
            """
            UPDATE invocations
            SET status = 'running', attempts = attempts + 1, lease_owner = \(owner),
                lease_expires_at_ms = \(nowMs + leaseMs), updated_at_ms = \(nowMs)
            WHERE id IN (
                SELECT id FROM invocations
                WHERE (status = 'queued' AND next_attempt_at_ms <= \(nowMs))
                   OR (status = 'running' AND lease_expires_at_ms <= \(nowMs))
                ORDER BY next_attempt_at_ms, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: Self.invocationColumns)
            """
        )
        return try rows.map(Self.invocation).sorted { ($0.nextAttemptAtMs, $0.id) < ($1.nextAttemptAtMs, $1.id) }
    }

    public func renewLease(id: String, owner: String, untilMs: Int64) async throws -> Bool {
        try await !query(
            "renew the lease on \(id)",
            """
            UPDATE invocations SET lease_expires_at_ms = \(untilMs)
            WHERE id = \(id) AND lease_owner = \(owner) AND status = 'running' RETURNING 1
            """
        ).isEmpty
    }

    public func completeInvocation(id: String, owner: String, requestId: String, result: [UInt8], nowMs: Int64) async throws -> Bool {
        try await !query(
            "complete invocation \(id)",
            """
            UPDATE invocations
            SET status = 'succeeded', result = \(Data(result)), last_request_id = \(requestId), lease_owner = NULL,
                lease_expires_at_ms = NULL, updated_at_ms = \(nowMs)
            WHERE id = \(id) AND lease_owner = \(owner) AND status = 'running' RETURNING 1
            """
        ).isEmpty
    }

    public func retryInvocation(
        id: String, owner: String, requestId: String?, error: String, nextAttemptAtMs: Int64, nowMs: Int64
    ) async throws -> Bool {
        try await !query(
            "requeue invocation \(id)",
            """
            UPDATE invocations
            SET status = 'queued', last_error = \(error), last_request_id = \(requestId),
                next_attempt_at_ms = \(nextAttemptAtMs), lease_owner = NULL, lease_expires_at_ms = NULL,
                updated_at_ms = \(nowMs)
            WHERE id = \(id) AND lease_owner = \(owner) AND status = 'running' RETURNING 1
            """
        ).isEmpty
    }

    public func deadLetterInvocation(
        id: String, owner: String, requestId: String?, error: String, result: [UInt8]?, nowMs: Int64
    ) async throws -> Bool {
        try await !query(
            "dead-letter invocation \(id)",
            """
            UPDATE invocations
            SET status = 'dead', last_error = \(error), last_request_id = \(requestId),
                result = \(result.map { Data($0) }), lease_owner = NULL, lease_expires_at_ms = NULL,
                updated_at_ms = \(nowMs)
            WHERE id = \(id) AND lease_owner = \(owner) AND status = 'running' RETURNING 1
            """
        ).isEmpty
    }

    public func invocation(tenant: String, id: String) async throws -> QueuedInvocation? {
        try await query(
            "read invocation \(id)",
            "SELECT \(unescaped: Self.invocationColumns) FROM invocations WHERE tenant = \(tenant) AND id = \(id)"
        ).first.map(Self.invocation)
    }

    public func deadLetters(tenant: String, function: String?, limit: Int) async throws -> [QueuedInvocation] {
        try await query(
            "list dead letters of \(tenant)",
            """
            SELECT \(unescaped: Self.invocationColumns) FROM invocations
            WHERE tenant = \(tenant) AND status = 'dead' AND (\(function)::text IS NULL OR function = \(function))
            ORDER BY updated_at_ms DESC, id DESC LIMIT \(max(0, limit))
            """
        ).map(Self.invocation)
    }

    public func queueDepth() async throws -> Int {
        try await query(
            "count queued invocations",
            "SELECT COUNT(*) AS n FROM invocations WHERE status IN ('queued', 'running')"
        ).first?("n") ?? 0
    }

    static func invocation(_ row: PGRow) throws -> QueuedInvocation {
        let statusText: String = try row("status")
        guard let status = QueuedInvocationStatus(rawValue: statusText) else {
            throw StoreError(.internal, "invocations.status holds an unknown status \"\(statusText)\"")
        }
        let payload: Data = try row("payload")
        let result: Data? = try row("result")
        return QueuedInvocation(
            id: try row("id"), tenant: try row("tenant"), function: try row("function"), qualifier: try row("qualifier"),
            payload: [UInt8](payload), idempotencyKey: try row("idempotency_key"), status: status,
            attempts: try row("attempts"), maxAttempts: try row("max_attempts"),
            nextAttemptAtMs: try row("next_attempt_at_ms"), leaseOwner: try row("lease_owner"),
            leaseExpiresAtMs: try row("lease_expires_at_ms"), result: result.map { [UInt8]($0) },
            lastError: try row("last_error"), lastRequestId: try row("last_request_id"),
            createdAtMs: try row("created_at_ms"), updatedAtMs: try row("updated_at_ms")
        )
    }
}
