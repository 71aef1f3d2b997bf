import CellaModel
import Foundation
import GRDB

extension SQLiteStore {
    static let functionColumns =
        "tenant, name, config, code_digest, async_retries, tags, revision, created_at_ms, updated_at_ms"
    static let versionColumns =
        "tenant, function, number, config, code_digest, async_retries, description, created_at_ms"

    public func createFunction(_ function: FunctionRecord) async throws {
        let config = try JSONColumn.encode(function.config, column: "functions.config")
        let tags = try JSONColumn.encode(function.tags, column: "functions.tags")
        try await write(
            "create function \(function.tenant)/\(function.name)",
            conflict: "tenant \(function.tenant) already has a function named \(function.name)",
            notFound: "tenant \(function.tenant) or bundle \(function.codeDigest) does not exist"
        ) { db in
            try db.execute(
                sql: """
                    INSERT INTO functions (\(Self.functionColumns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    function.tenant, function.name, config, function.codeDigest, function.asyncRetries, tags,
                    function.revision, function.createdAtMs, function.updatedAtMs,
                ]
            )
        }
    }

    public func updateFunction(_ function: FunctionRecord, expectedRevision: Int64?) async throws -> FunctionRecord {
        let config = try JSONColumn.encode(function.config, column: "functions.config")
        let tags = try JSONColumn.encode(function.tags, column: "functions.tags")
        let what = "update function \(function.tenant)/\(function.name)"
        return try await write(what, notFound: "bundle \(function.codeDigest) is not stored") { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE functions
                    SET config = ?, code_digest = ?, async_retries = ?, tags = ?,
                        revision = revision + 1, updated_at_ms = ?
                    WHERE tenant = ? AND name = ? AND (? IS NULL OR revision = ?)
                    RETURNING \(Self.functionColumns)
                    """,
                arguments: [
                    config, function.codeDigest, function.asyncRetries, tags, function.updatedAtMs,
                    function.tenant, function.name, expectedRevision, expectedRevision,
                ]
            )
            if let row { return try Self.functionRecord(row) }
            // Nothing matched: tell a missing function from a stale revision.
            let stored = try Int64.fetchOne(
                db, sql: "SELECT revision FROM functions WHERE tenant = ? AND name = ?",
                arguments: [function.tenant, function.name]
            )
            guard let stored else {
                throw StoreError(.notFound, "function \(function.name) does not exist in tenant \(function.tenant)")
            }
            throw StoreError(
                .revisionMismatch,
                "function \(function.tenant)/\(function.name) is at revision \(stored), not \(expectedRevision.map(String.init) ?? "?")"
            )
        }
    }

    public func function(tenant: String, name: String) async throws -> FunctionRecord? {
        try await read("read function \(tenant)/\(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.functionColumns) FROM functions WHERE tenant = ? AND name = ?",
                arguments: [tenant, name]
            ).map(Self.functionRecord)
        }
    }

    public func functions(tenant: String) async throws -> [FunctionRecord] {
        try await read("list functions of \(tenant)") { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.functionColumns) FROM functions WHERE tenant = ? ORDER BY name",
                arguments: [tenant]
            ).map(Self.functionRecord)
        }
    }

    public func deleteFunction(tenant: String, name: String) async throws -> Bool {
        try await write("delete function \(tenant)/\(name)") { db in
            try db.execute(sql: "DELETE FROM functions WHERE tenant = ? AND name = ?", arguments: [tenant, name])
            return db.changesCount > 0
        }
    }

    public func publishVersion(tenant: String, name: String, description: String, nowMs: Int64) async throws -> FunctionVersionRecord {
        try await write("publish a version of \(tenant)/\(name)") { db in
            // The counter lives on the function's row: bumping it inside the write transaction
            // numbers versions without gaps or duplicates, and survives deleted versions.
            guard let number = try Int64.fetchOne(
                db,
                sql: "UPDATE functions SET last_version = last_version + 1 WHERE tenant = ? AND name = ? RETURNING last_version",
                arguments: [tenant, name]
            ) else {
                throw StoreError(.notFound, "function \(name) does not exist in tenant \(tenant)")
            }
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    INSERT INTO function_versions (\(Self.versionColumns))
                    SELECT tenant, name, ?, config, code_digest, async_retries, ?, ?
                    FROM functions WHERE tenant = ? AND name = ?
                    RETURNING \(Self.versionColumns)
                    """,
                arguments: [number, description, nowMs, tenant, name]
            ) else {
                throw StoreError(.internal, "publishing \(tenant)/\(name) inserted no version")
            }
            return try Self.versionRecord(row)
        }
    }

    public func version(tenant: String, name: String, version: String) async throws -> FunctionVersionRecord? {
        guard let number = VersionNumber.parse(version) else { return nil }
        return try await read("read version \(tenant)/\(name):\(version)") { db in
            try Row.fetchOne(
                db,
                sql: "SELECT \(Self.versionColumns) FROM function_versions WHERE tenant = ? AND function = ? AND number = ?",
                arguments: [tenant, name, number]
            ).map(Self.versionRecord)
        }
    }

    public func versions(tenant: String, name: String) async throws -> [FunctionVersionRecord] {
        try await read("list versions of \(tenant)/\(name)") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.versionColumns) FROM function_versions WHERE tenant = ? AND function = ? ORDER BY number",
                arguments: [tenant, name]
            ).map(Self.versionRecord)
        }
    }

    // MARK: Aliases

    public func putAlias(_ alias: AliasRecord) async throws {
        let number = VersionNumber.parse(alias.version)
        let missing = "function \(alias.function) or its version \(alias.version) does not exist in tenant \(alias.tenant)"
        guard alias.version == "$LATEST" || number != nil else { throw StoreError(.notFound, missing) }
        try await write("put alias \(alias.tenant)/\(alias.function):\(alias.name)", notFound: missing) { db in
            // One statement: the row goes in only when the version exists ($LATEST needs only the
            // function, which the foreign key checks).
            try db.execute(
                sql: """
                    INSERT INTO aliases (tenant, function, name, version, updated_at_ms)
                    SELECT ?, ?, ?, ?, ?
                    WHERE ? IS NULL OR EXISTS (
                        SELECT 1 FROM function_versions WHERE tenant = ? AND function = ? AND number = ?)
                    ON CONFLICT (tenant, function, name)
                    DO UPDATE SET version = excluded.version, updated_at_ms = excluded.updated_at_ms
                    """,
                arguments: [
                    alias.tenant, alias.function, alias.name, alias.version, alias.updatedAtMs,
                    number, alias.tenant, alias.function, number,
                ]
            )
            if db.changesCount == 0 { throw StoreError(.notFound, missing) }
        }
    }

    public func alias(tenant: String, function: String, name: String) async throws -> AliasRecord? {
        try await read("read alias \(tenant)/\(function):\(name)") { db in
            try Row.fetchOne(
                db,
                sql: "SELECT tenant, function, name, version, updated_at_ms FROM aliases WHERE tenant = ? AND function = ? AND name = ?",
                arguments: [tenant, function, name]
            ).map(Self.aliasRecord)
        }
    }

    public func aliases(tenant: String, function: String) async throws -> [AliasRecord] {
        try await read("list aliases of \(tenant)/\(function)") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT tenant, function, name, version, updated_at_ms FROM aliases WHERE tenant = ? AND function = ? ORDER BY name",
                arguments: [tenant, function]
            ).map(Self.aliasRecord)
        }
    }

    public func deleteAlias(tenant: String, function: String, name: String) async throws -> Bool {
        try await write("delete alias \(tenant)/\(function):\(name)") { db in
            try db.execute(
                sql: "DELETE FROM aliases WHERE tenant = ? AND function = ? AND name = ?",
                arguments: [tenant, function, name]
            )
            return db.changesCount > 0
        }
    }

    // MARK: Rows

    static func functionRecord(_ row: Row) throws -> FunctionRecord {
        FunctionRecord(
            tenant: row["tenant"], name: row["name"],
            config: try JSONColumn.decode(FunctionConfig.self, from: row["config"], column: "functions.config"),
            codeDigest: row["code_digest"], asyncRetries: row["async_retries"],
            tags: try JSONColumn.decode([String: String].self, from: row["tags"], column: "functions.tags"),
            revision: row["revision"], createdAtMs: row["created_at_ms"], updatedAtMs: row["updated_at_ms"]
        )
    }

    static func versionRecord(_ row: Row) throws -> FunctionVersionRecord {
        let number: Int64 = row["number"]
        return FunctionVersionRecord(
            tenant: row["tenant"], name: row["function"], version: String(number),
            config: try JSONColumn.decode(FunctionConfig.self, from: row["config"], column: "function_versions.config"),
            codeDigest: row["code_digest"], asyncRetries: row["async_retries"], description: row["description"],
            createdAtMs: row["created_at_ms"]
        )
    }

    static func aliasRecord(_ row: Row) -> AliasRecord {
        AliasRecord(
            tenant: row["tenant"], function: row["function"], name: row["name"], version: row["version"],
            updatedAtMs: row["updated_at_ms"]
        )
    }
}
