import CellaModel
import Foundation
import PostgresNIO

extension PostgresStore {
    static let functionColumns = """
        tenant, name, config::text AS config, code_digest, async_retries, tags::text AS tags, revision,
        created_at_ms, updated_at_ms
        """
    static let versionColumns =
        "tenant, function, number, config::text AS config, code_digest, async_retries, description, created_at_ms"

    public func createFunction(_ function: FunctionRecord) async throws {
        let f = function
        let config = try JSONColumn.encode(f.config, column: "functions.config")
        let tags = try JSONColumn.encode(f.tags, column: "functions.tags")
        try await query(
            "create function \(f.tenant)/\(f.name)",
            conflict: "tenant \(f.tenant) already has a function named \(f.name)",
            notFound: "tenant \(f.tenant) or bundle \(f.codeDigest) does not exist",
            """
            INSERT INTO functions (tenant, name, config, code_digest, async_retries, tags, revision, created_at_ms, updated_at_ms)
            VALUES (\(f.tenant), \(f.name), \(config)::jsonb, \(f.codeDigest), \(f.asyncRetries), \(tags)::jsonb,
                    \(f.revision), \(f.createdAtMs), \(f.updatedAtMs))
            """
        )
    }

    public func updateFunction(_ function: FunctionRecord, expectedRevision: Int64?) async throws -> FunctionRecord {
        let f = function
        let config = try JSONColumn.encode(f.config, column: "functions.config")
        let tags = try JSONColumn.encode(f.tags, column: "functions.tags")
        let what = "update function \(f.tenant)/\(f.name)"
        let rows = try await query(
            what, notFound: "bundle \(f.codeDigest) is not stored",
            """
            UPDATE functions
            SET config = \(config)::jsonb, code_digest = \(f.codeDigest), async_retries = \(f.asyncRetries),
                tags = \(tags)::jsonb, revision = revision + 1, updated_at_ms = \(f.updatedAtMs)
            WHERE tenant = \(f.tenant) AND name = \(f.name)
              AND (\(expectedRevision)::bigint IS NULL OR revision = \(expectedRevision))
            RETURNING tenant, name, config::text AS config, code_digest, async_retries, tags::text AS tags,
                      revision, created_at_ms, updated_at_ms
            """
        )
        if let row = rows.first { return try Self.functionRecord(row) }
        // Nothing matched: tell a missing function from a stale revision.
        let stored = try await query(what, "SELECT revision FROM functions WHERE tenant = \(f.tenant) AND name = \(f.name)")
        guard let revision: Int64 = try stored.first?("revision") else {
            throw StoreError(.notFound, "function \(f.name) does not exist in tenant \(f.tenant)")
        }
        throw StoreError(
            .revisionMismatch,
            "function \(f.tenant)/\(f.name) is at revision \(revision), not \(expectedRevision.map(String.init) ?? "?")"
        )
    }

    public func function(tenant: String, name: String) async throws -> FunctionRecord? {
        try await query(
            "read function \(tenant)/\(name)",
            "SELECT \(unescaped: Self.functionColumns) FROM functions WHERE tenant = \(tenant) AND name = \(name)"
        ).first.map(Self.functionRecord)
    }

    public func functions(tenant: String) async throws -> [FunctionRecord] {
        try await query(
            "list functions of \(tenant)",
            "SELECT \(unescaped: Self.functionColumns) FROM functions WHERE tenant = \(tenant) ORDER BY name"
        ).map(Self.functionRecord)
    }

    public func deleteFunction(tenant: String, name: String) async throws -> Bool {
        try await !query(
            "delete function \(tenant)/\(name)",
            "DELETE FROM functions WHERE tenant = \(tenant) AND name = \(name) RETURNING 1"
        ).isEmpty
    }

    public func publishVersion(tenant: String, name: String, description: String, nowMs: Int64) async throws -> FunctionVersionRecord {
        // One statement: the UPDATE takes the function's row lock, so concurrent publishers (in
        // any controller) queue on it and each reads the counter the previous one left.
        let rows = try await query(
            "publish a version of \(tenant)/\(name)",
            """
            WITH head AS (
                UPDATE functions SET last_version = last_version + 1
                WHERE tenant = \(tenant) AND name = \(name)
                RETURNING tenant, name, last_version, config, code_digest, async_retries)
            INSERT INTO function_versions (tenant, function, number, config, code_digest, async_retries, description, created_at_ms)
            SELECT tenant, name, last_version, config, code_digest, async_retries, \(description), \(nowMs) FROM head
            RETURNING \(unescaped: Self.versionColumns)
            """
        )
        guard let row = rows.first else {
            throw StoreError(.notFound, "function \(name) does not exist in tenant \(tenant)")
        }
        return try Self.versionRecord(row)
    }

    public func version(tenant: String, name: String, version: String) async throws -> FunctionVersionRecord? {
        guard let number = VersionNumber.parse(version) else { return nil }
        return try await query(
            "read version \(tenant)/\(name):\(version)",
            """
            SELECT \(unescaped: Self.versionColumns) FROM function_versions
            WHERE tenant = \(tenant) AND function = \(name) AND number = \(number)
            """
        ).first.map(Self.versionRecord)
    }

    public func versions(tenant: String, name: String) async throws -> [FunctionVersionRecord] {
        try await query(
            "list versions of \(tenant)/\(name)",
            """
            SELECT \(unescaped: Self.versionColumns) FROM function_versions
            WHERE tenant = \(tenant) AND function = \(name) ORDER BY number
            """
        ).map(Self.versionRecord)
    }

    // MARK: Aliases

    public func putAlias(_ alias: AliasRecord) async throws {
        let a = alias
        let number = VersionNumber.parse(a.version)
        let missing = "function \(a.function) or its version \(a.version) does not exist in tenant \(a.tenant)"
        guard a.version == "$LATEST" || number != nil else { throw StoreError(.notFound, missing) }
        // One statement: the row goes in only when the version exists ($LATEST needs only the
        // function, which the foreign key checks).
        let rows = try await query(
            "put alias \(a.tenant)/\(a.function):\(a.name)", notFound: missing,
            """
            INSERT INTO aliases (tenant, function, name, version, updated_at_ms)
            SELECT \(a.tenant), \(a.function), \(a.name), \(a.version), \(a.updatedAtMs)
            WHERE \(number)::bigint IS NULL OR EXISTS (
                SELECT 1 FROM function_versions
                WHERE tenant = \(a.tenant) AND function = \(a.function) AND number = \(number))
            ON CONFLICT (tenant, function, name)
            DO UPDATE SET version = EXCLUDED.version, updated_at_ms = EXCLUDED.updated_at_ms
            RETURNING 1
            """
        )
        if rows.isEmpty { throw StoreError(.notFound, missing) }
    }

    public func alias(tenant: String, function: String, name: String) async throws -> AliasRecord? {
        try await query(
            "read alias \(tenant)/\(function):\(name)",
            """
            SELECT tenant, function, name, version, updated_at_ms FROM aliases
            WHERE tenant = \(tenant) AND function = \(function) AND name = \(name)
            """
        ).first.map(Self.aliasRecord)
    }

    public func aliases(tenant: String, function: String) async throws -> [AliasRecord] {
        try await query(
            "list aliases of \(tenant)/\(function)",
            """
            SELECT tenant, function, name, version, updated_at_ms FROM aliases
            WHERE tenant = \(tenant) AND function = \(function) ORDER BY name
            """
        ).map(Self.aliasRecord)
    }

    public func deleteAlias(tenant: String, function: String, name: String) async throws -> Bool {
        try await !query(
            "delete alias \(tenant)/\(function):\(name)",
            "DELETE FROM aliases WHERE tenant = \(tenant) AND function = \(function) AND name = \(name) RETURNING 1"
        ).isEmpty
    }

    // MARK: Rows

    static func functionRecord(_ row: PGRow) throws -> FunctionRecord {
        FunctionRecord(
            tenant: try row("tenant"), name: try row("name"),
            config: try JSONColumn.decode(FunctionConfig.self, from: row("config"), column: "functions.config"),
            codeDigest: try row("code_digest"), asyncRetries: try row("async_retries"),
            tags: try JSONColumn.decode([String: String].self, from: row("tags"), column: "functions.tags"),
            revision: try row("revision"), createdAtMs: try row("created_at_ms"), updatedAtMs: try row("updated_at_ms")
        )
    }

    static func versionRecord(_ row: PGRow) throws -> FunctionVersionRecord {
        let number: Int64 = try row("number")
        return FunctionVersionRecord(
            tenant: try row("tenant"), name: try row("function"), version: String(number),
            config: try JSONColumn.decode(FunctionConfig.self, from: row("config"), column: "function_versions.config"),
            codeDigest: try row("code_digest"), asyncRetries: try row("async_retries"),
            description: try row("description"), createdAtMs: try row("created_at_ms")
        )
    }

    static func aliasRecord(_ row: PGRow) throws -> AliasRecord {
        AliasRecord(
            tenant: try row("tenant"), function: try row("function"), name: try row("name"),
            version: try row("version"), updatedAtMs: try row("updated_at_ms")
        )
    }
}
