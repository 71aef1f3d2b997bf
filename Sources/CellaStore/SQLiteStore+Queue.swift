import Foundation
import GRDB

extension SQLiteStore {
    static let invocationColumns = """
        id, tenant, function, qualifier, payload, idempotency_key, status, attempts, max_attempts,
        next_attempt_at_ms, lease_owner, lease_expires_at_ms, result, last_error, last_request_id,
        created_at_ms, updated_at_ms
        """

    public func enqueue(_ invocation: QueuedInvocation) async throws -> (invocation: QueuedInvocation, created: Bool) {
        let i = invocation
        let (stored, created) = try await write(
            "enqueue invocation \(i.id)",
            conflict: "an invocation with id \(i.id) already exists",
            notFound: "tenant \(i.tenant) does not exist"
        ) { db -> (QueuedInvocation, Bool) in
            let inserted = try Row.fetchOne(
                db,
                sql: """
                    INSERT INTO invocations (\(Self.invocationColumns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant, function, idempotency_key) DO NOTHING
                    RETURNING \(Self.invocationColumns)
                    """,
                arguments: [
                    i.id, i.tenant, i.function, i.qualifier, Data(i.payload), i.idempotencyKey, i.status.rawValue,
                    i.attempts, i.maxAttempts, i.nextAttemptAtMs, i.leaseOwner, i.leaseExpiresAtMs,
                    i.result.map { Data($0) }, i.lastError, i.lastRequestId, i.createdAtMs, i.updatedAtMs,
                ]
            )
            if let inserted { return (try Self.invocation(inserted), true) }
            guard let existing = try Row.fetchOne(
                db,
                sql: "SELECT \(Self.invocationColumns) FROM invocations WHERE tenant = ? AND function = ? AND idempotency_key = ?",
                arguments: [i.tenant, i.function, i.idempotencyKey]
            ) else {
                throw StoreError(.internal, "enqueue of \(i.id) neither inserted nor found an invocation")
            }
            return (try Self.invocation(existing), false)
        }
        return (stored, created)
    }

    public func claimInvocations(owner: String, limit: Int, nowMs: Int64, leaseMs: Int64) async throws -> [QueuedInvocation] {
        guard limit > 0 else { return [] }
        return try await write("claim invocations for \(owner)") { db in
            // One statement under SQLite's write lock: no other claimer can see these rows as due
            // before this transaction commits them as running.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    UPDATE invocations
                    SET status = 'running', attempts = attempts + 1, lease_owner = ?,
                        lease_expires_at_ms = ?, updated_at_ms = ?
                    WHERE id IN (
                        SELECT id FROM invocations
                        WHERE (status = 'queued' AND next_attempt_at_ms <= ?)
                           OR (status = 'running' AND lease_expires_at_ms <= ?)
                        ORDER BY next_attempt_at_ms, id
                        LIMIT ?)
                    RETURNING \(Self.invocationColumns)
                    """,
                arguments: [owner, nowMs + leaseMs, nowMs, nowMs, nowMs, limit]
            )
            return try rows.map(Self.invocation).sorted { ($0.nextAttemptAtMs, $0.id) < ($1.nextAttemptAtMs, $1.id) }
        }
    }

    public func renewLease(id: String, owner: String, untilMs: Int64) async throws -> Bool {
        try await write("renew the lease on \(id)") { db in
            try db.execute(
                sql: "UPDATE invocations SET lease_expires_at_ms = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
                arguments: [untilMs, id, owner]
            )
            return db.changesCount > 0
        }
    }

    public func completeInvocation(id: String, owner: String, requestId: String, result: [UInt8], nowMs: Int64) async throws -> Bool {
        try await write("complete invocation \(id)") { db in
            try db.execute(
                sql: """
                    UPDATE invocations
                    SET status = 'succeeded', result = ?, last_request_id = ?, lease_owner = NULL,
                        lease_expires_at_ms = NULL, updated_at_ms = ?
                    WHERE id = ? AND lease_owner = ? AND status = 'running'
                    """,
                arguments: [Data(result), requestId, nowMs, id, owner]
            )
            return db.changesCount > 0
        }
    }

    public func retryInvocation(
        id: String, owner: String, requestId: String?, error: String, nextAttemptAtMs: Int64, nowMs: Int64
    ) async throws -> Bool {
        try await write("requeue invocation \(id)") { db in
            try db.execute(
                sql: """
                    UPDATE invocations
                    SET status = 'queued', last_error = ?, last_request_id = ?, next_attempt_at_ms = ?,
                        lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?
                    WHERE id = ? AND lease_owner = ? AND status = 'running'
                    """,
                arguments: [error, requestId, nextAttemptAtMs, nowMs, id, owner]
            )
            return db.changesCount > 0
        }
    }

    public func deadLetterInvocation(
        id: String, owner: String, requestId: String?, error: String, result: [UInt8]?, nowMs: Int64
    ) async throws -> Bool {
        try await write("dead-letter invocation \(id)") { db in
            try db.execute(
                sql: """
                    UPDATE invocations
                    SET status = 'dead', last_error = ?, last_request_id = ?, result = ?,
                        lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?
                    WHERE id = ? AND lease_owner = ? AND status = 'running'
                    """,
                arguments: [error, requestId, result.map { Data($0) }, nowMs, id, owner]
            )
            return db.changesCount > 0
        }
    }

    public func invocation(tenant: String, id: String) async throws -> QueuedInvocation? {
        try await read("read invocation \(id)") { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.invocationColumns) FROM invocations WHERE tenant = ? AND id = ?",
                arguments: [tenant, id]
            ).map(Self.invocation)
        }
    }

    public func deadLetters(tenant: String, function: String?, limit: Int) async throws -> [QueuedInvocation] {
        try await read("list dead letters of \(tenant)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.invocationColumns) FROM invocations
                    WHERE tenant = ? AND status = 'dead' AND (? IS NULL OR function = ?)
                    ORDER BY updated_at_ms DESC, id DESC LIMIT ?
                    """,
                arguments: [tenant, function, function, max(0, limit)]
            ).map(Self.invocation)
        }
    }

    public func queueDepth() async throws -> Int {
        try await read("count queued invocations") { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM invocations WHERE status IN ('queued', 'running')") ?? 0
        }
    }

    static func invocation(_ row: Row) throws -> QueuedInvocation {
        let statusText: String = row["status"]
        guard let status = QueuedInvocationStatus(rawValue: statusText) else {
            throw StoreError(.internal, "invocations.status holds an unknown status \"\(statusText)\"")
        }
        let payload: Data = row["payload"]
        let result: Data? = row["result"]
        return QueuedInvocation(
            id: row["id"], tenant: row["tenant"], function: row["function"], qualifier: row["qualifier"],
            payload: [UInt8](payload), idempotencyKey: row["idempotency_key"], status: status,
            attempts: row["attempts"], maxAttempts: row["max_attempts"], nextAttemptAtMs: row["next_attempt_at_ms"],
            leaseOwner: row["lease_owner"], leaseExpiresAtMs: row["lease_expires_at_ms"],
            result: result.map { [UInt8]($0) }, lastError: row["last_error"], lastRequestId: row["last_request_id"],
            createdAtMs: row["created_at_ms"], updatedAtMs: row["updated_at_ms"]
        )
    }
}
