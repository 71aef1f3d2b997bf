import CellaModel
import Foundation
import GRDB

extension SQLiteStore {
    static let recordColumns = """
        request_id, tenant, function, version, start_ms, duration_ms, billed_duration_ms, init_duration_ms,
        start_kind, memory_mb, max_memory_used_bytes, outcome, error_type
        """

    public func appendRecords(_ records: [InvocationRecord]) async throws {
        guard !records.isEmpty else { return }
        try await write("append \(records.count) invocation records") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO invocation_records (\(Self.recordColumns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (request_id) DO NOTHING
                """)
            for r in records {
                try statement.execute(arguments: [
                    r.requestId, r.tenant, r.function, r.version, r.startMs, r.durationMs, r.billedDurationMs,
                    r.initDurationMs, r.start.rawValue, r.memoryMB, Int64(bitPattern: r.maxMemoryUsedBytes),
                    r.outcome.rawValue, r.errorType,
                ])
            }
        }
    }

    public func records(_ query: InvocationQuery) async throws -> [InvocationRecord] {
        try await read("read invocation records of \(query.tenant)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.recordColumns) FROM invocation_records
                    WHERE tenant = ? AND (? IS NULL OR function = ?) AND (? IS NULL OR request_id = ?)
                      AND (? IS NULL OR start_ms >= ?)
                    ORDER BY start_ms DESC, request_id DESC LIMIT ?
                    """,
                arguments: [
                    query.tenant, query.function, query.function, query.requestId, query.requestId,
                    query.sinceMs, query.sinceMs, max(0, query.limit),
                ]
            ).map(Self.invocationRecord)
        }
    }

    public func appendLogs(_ lines: [LogLineRecord]) async throws {
        guard !lines.isEmpty else { return }
        try await write("append \(lines.count) log lines") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO log_lines (tenant, function, version, request_id, time_ms, text)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
            for l in lines {
                try statement.execute(arguments: [l.tenant, l.function, l.version, l.requestId, l.timeMs, l.text])
            }
        }
    }

    public func logs(_ query: InvocationQuery) async throws -> [LogLineRecord] {
        try await read("read log lines of \(query.tenant)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT tenant, function, version, request_id, time_ms, text FROM log_lines
                    WHERE tenant = ? AND (? IS NULL OR function = ?) AND (? IS NULL OR request_id = ?)
                      AND (? IS NULL OR time_ms >= ?)
                    ORDER BY seq LIMIT ?
                    """,
                arguments: [
                    query.tenant, query.function, query.function, query.requestId, query.requestId,
                    query.sinceMs, query.sinceMs, max(0, query.limit),
                ]
            ).map {
                LogLineRecord(
                    tenant: $0["tenant"], function: $0["function"], version: $0["version"],
                    requestId: $0["request_id"], timeMs: $0["time_ms"], text: $0["text"]
                )
            }
        }
    }

    public func pruneInvocationData(beforeMs: Int64) async throws -> Int {
        try await write("prune invocation data") { db in
            try db.execute(sql: "DELETE FROM invocation_records WHERE start_ms < ?", arguments: [beforeMs])
            let records = db.changesCount
            try db.execute(sql: "DELETE FROM log_lines WHERE time_ms < ?", arguments: [beforeMs])
            return records + db.changesCount
        }
    }

    static func invocationRecord(_ row: Row) throws -> InvocationRecord {
        let startText: String = row["start_kind"]
        let outcomeText: String = row["outcome"]
        guard let start = StartKind(rawValue: startText), let outcome = InvocationOutcome(rawValue: outcomeText) else {
            throw StoreError(.internal, "invocation_records holds an unknown start kind or outcome (\(startText), \(outcomeText))")
        }
        let maxMemory: Int64 = row["max_memory_used_bytes"]
        return InvocationRecord(
            requestId: row["request_id"], tenant: row["tenant"], function: row["function"], version: row["version"],
            startMs: row["start_ms"], durationMs: row["duration_ms"], billedDurationMs: row["billed_duration_ms"],
            initDurationMs: row["init_duration_ms"], start: start, memoryMB: row["memory_mb"],
            maxMemoryUsedBytes: UInt64(bitPattern: maxMemory), outcome: outcome, errorType: row["error_type"]
        )
    }
}
