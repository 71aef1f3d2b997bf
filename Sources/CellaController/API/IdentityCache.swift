import CellaIAM
import CellaStore

/// The identity reads every request of a tenant's caller makes — its credential, its principal,
/// the policies attached to it — kept for `ttlMs` (`ExpiringCache`), so an invocation with an
/// API key or a SigV4 signature costs no store read. A revocation, a deletion or a policy change
/// made through this controller applies at once; one made through another controller, within
/// `ttlMs`. The operator's and the nodes' tokens never reach the store. Attached policies are
/// kept compiled, each compiled once per document (`PolicyCache`) and shared by the principals
/// it is attached to.
final class IdentityCache: Sendable {
    let store: any Store
    let policies = PolicyCache()
    private let credentials: ExpiringCache<CredentialRecord>
    private let principals: ExpiringCache<PrincipalRecord>
    private let attachments: ExpiringCache<[CompiledPolicy]>

    init(store: any Store, ttlMs: Int64) {
        self.store = store
        credentials = ExpiringCache(ttlMs: ttlMs)
        principals = ExpiringCache(ttlMs: ttlMs)
        attachments = ExpiringCache(ttlMs: ttlMs)
    }

    func credential(id: String) async throws -> CredentialRecord? {
        try await credentials.value(id) { try await store.credential(id: id) }
    }

    func principal(tenant: String, name: String) async throws -> PrincipalRecord? {
        try await principals.value(Self.key(tenant, name)) { try await store.principal(tenant: tenant, name: name) }
    }

    /// The principal's attached policies, compiled. A document that no longer compiles (they
    /// are validated when stored) is left out: it grants nothing.
    func attachedPolicies(tenant: String, principal: String) async throws -> [CompiledPolicy] {
        try await attachments.value(Self.key(tenant, principal)) {
            try await store.attachedPolicies(tenant: tenant, principal: principal).compactMap { policy in
                // Keyed by the document itself: two writes within one millisecond share a timestamp.
                try? policies.policy(id: Self.key(policy.tenant, policy.name), revision: policy.document) { policy.document }
            }
        } ?? []
    }

    /// After a key is revoked.
    func credentialChanged(id: String) {
        credentials.remove(id)
    }

    /// After a principal is deleted: its record, its credentials and its attachments.
    func principalChanged(tenant: String, name: String) {
        principals.remove(Self.key(tenant, name))
        attachments.remove(Self.key(tenant, name))
        credentials.remove { _, credential in credential.tenant == tenant && credential.principal == name }
    }

    /// After a policy's document changes or the policy is deleted: every attachment list holding it.
    func policyChanged(tenant: String, name: String) {
        let id = Self.key(tenant, name)
        attachments.remove { _, policies in policies.contains { $0.id == id } }
    }

    /// After a policy is attached to or detached from a principal.
    func attachmentsChanged(tenant: String, principal: String) {
        attachments.remove(Self.key(tenant, principal))
    }

    /// After a tenant is deleted, with everything in it.
    func tenantChanged(_ tenant: String) {
        principals.remove { _, principal in principal.tenant == tenant }
        attachments.remove { key, _ in key.hasPrefix(tenant + "/") }
        credentials.remove { _, credential in credential.tenant == tenant }
    }

    private static func key(_ tenant: String, _ name: String) -> String { tenant + "/" + name }
}
