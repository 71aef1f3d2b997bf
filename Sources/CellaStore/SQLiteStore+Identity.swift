import Foundation
import GRDB

extension SQLiteStore {
    static let credentialColumns = "id, kind, tenant, principal, secret, created_at_ms, expires_at_ms, revoked_at_ms"

    // MARK: Principals

    public func createPrincipal(_ principal: PrincipalRecord) async throws {
        let tags = try JSONColumn.encode(principal.tags, column: "principals.tags")
        try await write(
            "create principal \(principal.tenant)/\(principal.name)",
            conflict: "tenant \(principal.tenant) already has a principal named \(principal.name)",
            notFound: "tenant \(principal.tenant) does not exist"
        ) { db in
            try db.execute(
                sql: "INSERT INTO principals (tenant, name, kind, tags, is_admin, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [principal.tenant, principal.name, principal.kind.rawValue, tags, principal.isAdmin, principal.createdAtMs]
            )
        }
    }

    public func principal(tenant: String, name: String) async throws -> PrincipalRecord? {
        try await read("read principal \(tenant)/\(name)") { db in
            try Row.fetchOne(
                db,
                sql: "SELECT tenant, name, kind, tags, is_admin, created_at_ms FROM principals WHERE tenant = ? AND name = ?",
                arguments: [tenant, name]
            ).map(Self.principalRecord)
        }
    }

    public func principals(tenant: String) async throws -> [PrincipalRecord] {
        try await read("list principals of \(tenant)") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT tenant, name, kind, tags, is_admin, created_at_ms FROM principals WHERE tenant = ? ORDER BY name",
                arguments: [tenant]
            ).map(Self.principalRecord)
        }
    }

    public func deletePrincipal(tenant: String, name: String) async throws -> Bool {
        try await write("delete principal \(tenant)/\(name)") { db in
            try db.execute(sql: "DELETE FROM principals WHERE tenant = ? AND name = ?", arguments: [tenant, name])
            return db.changesCount > 0
        }
    }

    // MARK: Credentials

    public func createCredential(_ credential: CredentialRecord) async throws {
        let c = credential
        // Messages name the public id only, never the secret or its hash.
        try await write(
            "create credential \(c.id)",
            conflict: "a credential with id \(c.id) already exists",
            notFound: "principal \(c.principal) does not exist in tenant \(c.tenant)"
        ) { db in
            try db.execute(
                sql: "INSERT INTO credentials (\(Self.credentialColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [c.id, c.kind.rawValue, c.tenant, c.principal, c.secret, c.createdAtMs, c.expiresAtMs, c.revokedAtMs]
            )
        }
    }

    public func credential(id: String) async throws -> CredentialRecord? {
        try await read("read credential \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.credentialColumns) FROM credentials WHERE id = ?", arguments: [id])
                .map(Self.credentialRecord)
        }
    }

    public func credentials(tenant: String, principal: String?) async throws -> [CredentialRecord] {
        try await read("list credentials of \(tenant)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.credentialColumns) FROM credentials
                    WHERE tenant = ? AND (? IS NULL OR principal = ?)
                    ORDER BY created_at_ms, id
                    """,
                arguments: [tenant, principal, principal]
            ).map(Self.credentialRecord)
        }
    }

    public func revokeCredential(tenant: String, id: String, nowMs: Int64) async throws -> Bool {
        try await write("revoke credential \(id)") { db in
            try db.execute(
                sql: "UPDATE credentials SET revoked_at_ms = ? WHERE tenant = ? AND id = ? AND revoked_at_ms IS NULL",
                arguments: [nowMs, tenant, id]
            )
            return db.changesCount > 0
        }
    }

    // MARK: Policies

    public func putPolicy(_ policy: PolicyRecord) async throws {
        try await write(
            "put policy \(policy.tenant)/\(policy.name)", notFound: "tenant \(policy.tenant) does not exist"
        ) { db in
            try db.execute(
                sql: """
                    INSERT INTO policies (tenant, name, document, updated_at_ms) VALUES (?, ?, ?, ?)
                    ON CONFLICT (tenant, name) DO UPDATE SET document = excluded.document, updated_at_ms = excluded.updated_at_ms
                    """,
                arguments: [policy.tenant, policy.name, policy.document, policy.updatedAtMs]
            )
        }
    }

    public func policy(tenant: String, name: String) async throws -> PolicyRecord? {
        try await read("read policy \(tenant)/\(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT tenant, name, document, updated_at_ms FROM policies WHERE tenant = ? AND name = ?",
                arguments: [tenant, name]
            ).map(Self.policyRecord)
        }
    }

    public func policies(tenant: String) async throws -> [PolicyRecord] {
        try await read("list policies of \(tenant)") { db in
            try Row.fetchAll(
                db, sql: "SELECT tenant, name, document, updated_at_ms FROM policies WHERE tenant = ? ORDER BY name",
                arguments: [tenant]
            ).map(Self.policyRecord)
        }
    }

    public func deletePolicy(tenant: String, name: String) async throws -> Bool {
        try await write("delete policy \(tenant)/\(name)") { db in
            try db.execute(sql: "DELETE FROM policies WHERE tenant = ? AND name = ?", arguments: [tenant, name])
            return db.changesCount > 0
        }
    }

    public func attachPolicy(tenant: String, policy: String, principal: String) async throws {
        try await write(
            "attach policy \(policy) to \(principal) in \(tenant)",
            notFound: "policy \(policy) or principal \(principal) does not exist in tenant \(tenant)"
        ) { db in
            try db.execute(
                sql: "INSERT INTO policy_attachments (tenant, policy, principal) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [tenant, policy, principal]
            )
        }
    }

    public func detachPolicy(tenant: String, policy: String, principal: String) async throws -> Bool {
        try await write("detach policy \(policy) from \(principal) in \(tenant)") { db in
            try db.execute(
                sql: "DELETE FROM policy_attachments WHERE tenant = ? AND policy = ? AND principal = ?",
                arguments: [tenant, policy, principal]
            )
            return db.changesCount > 0
        }
    }

    public func attachedPolicies(tenant: String, principal: String) async throws -> [PolicyRecord] {
        try await read("list policies attached to \(tenant)/\(principal)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT p.tenant, p.name, p.document, p.updated_at_ms
                    FROM policy_attachments a JOIN policies p ON p.tenant = a.tenant AND p.name = a.policy
                    WHERE a.tenant = ? AND a.principal = ?
                    ORDER BY p.name
                    """,
                arguments: [tenant, principal]
            ).map(Self.policyRecord)
        }
    }

    // MARK: Rows

    static func principalRecord(_ row: Row) throws -> PrincipalRecord {
        let kindText: String = row["kind"]
        guard let kind = PrincipalRecord.Kind(rawValue: kindText) else {
            throw StoreError(.internal, "principals.kind holds an unknown kind \"\(kindText)\"")
        }
        return PrincipalRecord(
            tenant: row["tenant"], name: row["name"], kind: kind,
            tags: try JSONColumn.decode([String: String].self, from: row["tags"], column: "principals.tags"),
            isAdmin: row["is_admin"], createdAtMs: row["created_at_ms"]
        )
    }

    static func credentialRecord(_ row: Row) throws -> CredentialRecord {
        let kindText: String = row["kind"]
        guard let kind = CredentialRecord.Kind(rawValue: kindText) else {
            throw StoreError(.internal, "credentials.kind holds an unknown kind \"\(kindText)\"")
        }
        return CredentialRecord(
            id: row["id"], kind: kind, tenant: row["tenant"], principal: row["principal"], secret: row["secret"],
            createdAtMs: row["created_at_ms"], expiresAtMs: row["expires_at_ms"], revokedAtMs: row["revoked_at_ms"]
        )
    }

    static func policyRecord(_ row: Row) -> PolicyRecord {
        PolicyRecord(tenant: row["tenant"], name: row["name"], document: row["document"], updatedAtMs: row["updated_at_ms"])
    }
}
