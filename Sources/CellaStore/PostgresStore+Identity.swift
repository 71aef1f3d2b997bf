import Foundation
import PostgresNIO

extension PostgresStore {
    static let credentialColumns = "id, kind, tenant, principal, secret, created_at_ms, expires_at_ms, revoked_at_ms"
    static let principalColumns = "tenant, name, kind, tags::text AS tags, is_admin, created_at_ms"

    // MARK: Principals

    public func createPrincipal(_ principal: PrincipalRecord) async throws {
        let p = principal
        let tags = try JSONColumn.encode(p.tags, column: "principals.tags")
        try await query(
            "create principal \(p.tenant)/\(p.name)",
            conflict: "tenant \(p.tenant) already has a principal named \(p.name)",
            notFound: "tenant \(p.tenant) does not exist",
            """
            INSERT INTO principals (tenant, name, kind, tags, is_admin, created_at_ms)
            VALUES (\(p.tenant), \(p.name), \(p.kind.rawValue), \(tags)::jsonb, \(p.isAdmin), \(p.createdAtMs))
            """
        )
    }

    public func principal(tenant: String, name: String) async throws -> PrincipalRecord? {
        try await query(
            "read principal \(tenant)/\(name)",
            "SELECT \(unescaped: Self.principalColumns) FROM principals WHERE tenant = \(tenant) AND name = \(name)"
        ).first.map(Self.principalRecord)
    }

    public func principals(tenant: String) async throws -> [PrincipalRecord] {
        try await query(
            "list principals of \(tenant)",
            "SELECT \(unescaped: Self.principalColumns) FROM principals WHERE tenant = \(tenant) ORDER BY name"
        ).map(Self.principalRecord)
    }

    public func deletePrincipal(tenant: String, name: String) async throws -> Bool {
        try await !query(
            "delete principal \(tenant)/\(name)",
            "DELETE FROM principals WHERE tenant = \(tenant) AND name = \(name) RETURNING 1"
        ).isEmpty
    }

    // MARK: Credentials

    public func createCredential(_ credential: CredentialRecord) async throws {
        let c = credential
        // Messages name the public id only, never the secret or its hash.
        try await query(
            "create credential \(c.id)",
            conflict: "a credential with id \(c.id) already exists",
            notFound: "principal \(c.principal) does not exist in tenant \(c.tenant)",
            """
            INSERT INTO credentials (\(unescaped: Self.credentialColumns))
            VALUES (\(c.id), \(c.kind.rawValue), \(c.tenant), \(c.principal), \(c.secret), \(c.createdAtMs),
                    \(c.expiresAtMs), \(c.revokedAtMs))
            """
        )
    }

    public func credential(id: String) async throws -> CredentialRecord? {
        try await query(
            "read credential \(id)", "SELECT \(unescaped: Self.credentialColumns) FROM credentials WHERE id = \(id)"
        ).first.map(Self.credentialRecord)
    }

    public func credentials(tenant: String, principal: String?) async throws -> [CredentialRecord] {
        try await query(
            "list credentials of \(tenant)",
            """
            SELECT \(unescaped: Self.credentialColumns) FROM credentials
            WHERE tenant = \(tenant) AND (\(principal)::text IS NULL OR principal = \(principal))
            ORDER BY created_at_ms, id
            """
        ).map(Self.credentialRecord)
    }

    public func revokeCredential(tenant: String, id: String, nowMs: Int64) async throws -> Bool {
        try await !query(
            "revoke credential \(id)",
            """
            UPDATE credentials SET revoked_at_ms = \(nowMs)
            WHERE tenant = \(tenant) AND id = \(id) AND revoked_at_ms IS NULL RETURNING 1
            """
        ).isEmpty
    }

    // MARK: Policies

    public func putPolicy(_ policy: PolicyRecord) async throws {
        let p = policy
        try await query(
            "put policy \(p.tenant)/\(p.name)", notFound: "tenant \(p.tenant) does not exist",
            """
            INSERT INTO policies (tenant, name, document, updated_at_ms)
            VALUES (\(p.tenant), \(p.name), \(p.document), \(p.updatedAtMs))
            ON CONFLICT (tenant, name) DO UPDATE SET document = EXCLUDED.document, updated_at_ms = EXCLUDED.updated_at_ms
            """
        )
    }

    public func policy(tenant: String, name: String) async throws -> PolicyRecord? {
        try await query(
            "read policy \(tenant)/\(name)",
            "SELECT tenant, name, document, updated_at_ms FROM policies WHERE tenant = \(tenant) AND name = \(name)"
        ).first.map(Self.policyRecord)
    }

    public func policies(tenant: String) async throws -> [PolicyRecord] {
        try await query(
            "list policies of \(tenant)",
            "SELECT tenant, name, document, updated_at_ms FROM policies WHERE tenant = \(tenant) ORDER BY name"
        ).map(Self.policyRecord)
    }

    public func deletePolicy(tenant: String, name: String) async throws -> Bool {
        try await !query(
            "delete policy \(tenant)/\(name)",
            "DELETE FROM policies WHERE tenant = \(tenant) AND name = \(name) RETURNING 1"
        ).isEmpty
    }

    public func attachPolicy(tenant: String, policy: String, principal: String) async throws {
        try await query(
            "attach policy \(policy) to \(principal) in \(tenant)",
            notFound: "policy \(policy) or principal \(principal) does not exist in tenant \(tenant)",
            """
            INSERT INTO policy_attachments (tenant, policy, principal) VALUES (\(tenant), \(policy), \(principal))
            ON CONFLICT DO NOTHING
            """
        )
    }

    public func detachPolicy(tenant: String, policy: String, principal: String) async throws -> Bool {
        try await !query(
            "detach policy \(policy) from \(principal) in \(tenant)",
            """
            DELETE FROM policy_attachments
            WHERE tenant = \(tenant) AND policy = \(policy) AND principal = \(principal) RETURNING 1
            """
        ).isEmpty
    }

    public func attachedPolicies(tenant: String, principal: String) async throws -> [PolicyRecord] {
        try await query(
            "list policies attached to \(tenant)/\(principal)",
            """
            SELECT p.tenant, p.name, p.document, p.updated_at_ms
            FROM policy_attachments a JOIN policies p ON p.tenant = a.tenant AND p.name = a.policy
            WHERE a.tenant = \(tenant) AND a.principal = \(principal)
            ORDER BY p.name
            """
        ).map(Self.policyRecord)
    }

    // MARK: Rows

    static func principalRecord(_ row: PGRow) throws -> PrincipalRecord {
        let kindText: String = try row("kind")
        guard let kind = PrincipalRecord.Kind(rawValue: kindText) else {
            throw StoreError(.internal, "principals.kind holds an unknown kind \"\(kindText)\"")
        }
        return PrincipalRecord(
            tenant: try row("tenant"), name: try row("name"), kind: kind,
            tags: try JSONColumn.decode([String: String].self, from: row("tags"), column: "principals.tags"),
            isAdmin: try row("is_admin"), createdAtMs: try row("created_at_ms")
        )
    }

    static func credentialRecord(_ row: PGRow) throws -> CredentialRecord {
        let kindText: String = try row("kind")
        guard let kind = CredentialRecord.Kind(rawValue: kindText) else {
            throw StoreError(.internal, "credentials.kind holds an unknown kind \"\(kindText)\"")
        }
        return CredentialRecord(
            id: try row("id"), kind: kind, tenant: try row("tenant"), principal: try row("principal"),
            secret: try row("secret"), createdAtMs: try row("created_at_ms"), expiresAtMs: try row("expires_at_ms"),
            revokedAtMs: try row("revoked_at_ms")
        )
    }

    static func policyRecord(_ row: PGRow) throws -> PolicyRecord {
        PolicyRecord(
            tenant: try row("tenant"), name: try row("name"), document: try row("document"),
            updatedAtMs: try row("updated_at_ms")
        )
    }
}
