import CellaModel
import Foundation
import PostgresNIO

extension PostgresStore {
    static let recordColumns = """
        request_id, tenant, function, version, start_ms, duration_ms, billed_duration_ms, init_duration_ms,
        start_kind, memory_mb, max_memory_used_bytes, outcome, error_type
        """
    /// Rows per multi-row INSERT: 13 parameters each stays far below the protocol's 65535.
    static let rowsPerInsert = 1000

    public func appendRecords(_ records: [InvocationRecord]) async throws {
        guard !records.isEmpty else { return }
        // One multi-row INSERT per chunk, all chunks in one transaction: a batch from an agent
        // costs one round trip, and lands whole or not at all.
        var statements: [PostgresQuery] = []
        for start in stride(from: 0, to: records.count, by: Self.rowsPerInsert) {
            let chunk = records[start..<min(records.count, start + Self.rowsPerInsert)]
            var binds = PostgresBindings(capacity: chunk.count * 13)
            var tuples: [String] = []
            tuples.reserveCapacity(chunk.count)
            for r in chunk {
                let first = binds.count + 1
                binds.append(r.requestId)
                binds.append(r.tenant)
                binds.append(r.function)
                binds.append(r.version)
                binds.append(r.startMs)
                binds.append(r.durationMs)
                binds.append(r.billedDurationMs)
                binds.append(r.initDurationMs)
                binds.append(r.start.rawValue)
                binds.append(r.memoryMB)
                binds.append(Int64(bitPattern: r.maxMemoryUsedBytes))
                binds.append(r.outcome.rawValue)
                binds.append(r.errorType)
                tuples.append("(" + (first..<(first + 13)).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            statements.append(PostgresQuery(
                unsafeSQL: """
                    INSERT INTO invocation_records (\(Self.recordColumns))
                    VALUES \(tuples.joined(separator: ", "))
                    ON CONFLICT (request_id) DO NOTHING
                    """,
                binds: binds
            ))
        }
        try await runAll("append \(records.count) invocation records", statements)
    }

    public func records(_ query: InvocationQuery) async throws -> [InvocationRecord] {
        let q = query
        return try await self.query(
            "read invocation records of \(q.tenant)",
            """
            SELECT \(unescaped: Self.recordColumns) FROM invocation_records
            WHERE tenant = \(q.tenant) AND (\(q.function)::text IS NULL OR function = \(q.function))
              AND (\(q.requestId)::text IS NULL OR request_id = \(q.requestId))
              AND (\(q.sinceMs)::bigint IS NULL OR start_ms >= \(q.sinceMs))
            ORDER BY start_ms DESC, request_id DESC LIMIT \(max(0, q.limit))
            """
        ).map(Self.invocationRecord)
    }

    public func appendLogs(_ lines: [LogLineRecord]) async throws {
        guard !lines.isEmpty else { return }
        var statements: [PostgresQuery] = []
        for start in stride(from: 0, to: lines.count, by: Self.rowsPerInsert) {
            let chunk = lines[start..<min(lines.count, start + Self.rowsPerInsert)]
            var binds = PostgresBindings(capacity: chunk.count * 6)
            var tuples: [String] = []
            tuples.reserveCapacity(chunk.count)
            for l in chunk {
                let first = binds.count + 1
                binds.append(l.tenant)
                binds.append(l.function)
                binds.append(l.version)
                binds.append(l.requestId)
                binds.append(l.timeMs)
                binds.append(l.text)
                tuples.append("(" + (first..<(first + 6)).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            // Identity values are drawn in VALUES order, so `seq` keeps the order appended.
            statements.append(PostgresQuery(
                unsafeSQL: """
                    INSERT INTO log_lines (tenant, function, version, request_id, time_ms, text)
                    VALUES \(tuples.joined(separator: ", "))
                    """,
                binds: binds
            ))
        }
        try await runAll("append \(lines.count) log lines", statements)
    }

    public func logs(_ query: InvocationQuery) async throws -> [LogLineRecord] {
        let q = query
        return try await self.query(
            "read log lines of \(q.tenant)",
            """
            SELECT tenant, function, version, request_id, time_ms, text FROM log_lines
            WHERE tenant = \(q.tenant) AND (\(q.function)::text IS NULL OR function = \(q.function))
              AND (\(q.requestId)::text IS NULL OR request_id = \(q.requestId))
              AND (\(q.sinceMs)::bigint IS NULL OR time_ms >= \(q.sinceMs))
            ORDER BY seq LIMIT \(max(0, q.limit))
            """
        ).map {
            LogLineRecord(
                tenant: try $0("tenant"), function: try $0("function"), version: try $0("version"),
                requestId: try $0("request_id"), timeMs: try $0("time_ms"), text: try $0("text")
            )
        }
    }

    public func pruneInvocationData(beforeMs: Int64) async throws -> Int {
        let rows = try await query(
            "prune invocation data",
            """
            WITH r AS (DELETE FROM invocation_records WHERE start_ms < \(beforeMs) RETURNING 1),
                 l AS (DELETE FROM log_lines WHERE time_ms < \(beforeMs) RETURNING 1)
            SELECT (SELECT COUNT(*) FROM r) + (SELECT COUNT(*) FROM l) AS n
            """
        )
        return try rows.first?("n") ?? 0
    }

    /// One statement alone, or several in one transaction.
    private func runAll(_ what: String, _ statements: [PostgresQuery]) async throws {
        if statements.count == 1, let only = statements.first {
            try await query(what, only)
            return
        }
        try await transaction(what) { connection, logger in
            for statement in statements {
                _ = try await connection.query(statement, logger: logger).collect()
            }
        }
    }

    static func invocationRecord(_ row: PGRow) throws -> InvocationRecord {
        let startText: String = try row("start_kind")
        let outcomeText: String = try row("outcome")
        guard let start = StartKind(rawValue: startText), let outcome = InvocationOutcome(rawValue: outcomeText) else {
            throw StoreError(.internal, "invocation_records holds an unknown start kind or outcome (\(startText), \(outcomeText))")
        }
        let maxMemory: Int64 = try row("max_memory_used_bytes")
        return InvocationRecord(
            requestId: try row("request_id"), tenant: try row("tenant"), function: try row("function"),
            version: try row("version"), startMs: try row("start_ms"), durationMs: try row("duration_ms"),
            billedDurationMs: try row("billed_duration_ms"), initDurationMs: try row("init_duration_ms"),
            start: start, memoryMB: try row("memory_mb"), maxMemoryUsedBytes: UInt64(bitPattern: maxMemory),
            outcome: outcome, errorType: try row("error_type")
        )
    }
}
