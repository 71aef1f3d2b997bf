import CellaModel

/// Everything durable in Cella. Controllers are stateless and share one store: SQLite for one
/// machine (`SQLiteStore`), PostgreSQL for a cluster (`PostgresStore`). Both pass the same test
/// suite. Every method throws `StoreError`; every tenant-scoped read takes the tenant, so no
/// query can cross tenants by accident.
public protocol Store: Sendable {
    /// Runs the pending schema migrations (versioned, each in its own transaction). Safe to call
    /// from several controllers at once.
    func migrate() async throws
    /// The schema version now in the database.
    func schemaVersion() async throws -> Int
    func close() async

    // MARK: Tenants
    /// - Throws: `.conflict` when the id is taken.
    func createTenant(_ tenant: TenantRecord) async throws
    func tenant(_ id: String) async throws -> TenantRecord?
    func tenants() async throws -> [TenantRecord]
    /// Deletes the tenant and everything it owns. False when there was no such tenant.
    func deleteTenant(_ id: String) async throws -> Bool

    // MARK: Bundles (content-addressed; shared across tenants, keyed by sha256)
    /// Idempotent: storing the same digest twice keeps one copy.
    func putBundle(digest: String, bytes: [UInt8]) async throws
    func bundle(digest: String) async throws -> [UInt8]?
    func hasBundle(digest: String) async throws -> Bool

    // MARK: Functions
    /// - Throws: `.conflict` when the tenant already has a function of that name, `.notFound`
    ///   when the tenant does not exist or the bundle is not stored.
    func createFunction(_ function: FunctionRecord) async throws
    /// Replaces config, code, retries and tags; bumps `revision` and `updatedAtMs`.
    /// - Parameter expectedRevision: when given, the update applies only if the stored revision
    ///   still equals it.
    /// - Throws: `.notFound`, `.revisionMismatch`.
    /// - Returns: the stored record after the update.
    func updateFunction(_ function: FunctionRecord, expectedRevision: Int64?) async throws -> FunctionRecord
    func function(tenant: String, name: String) async throws -> FunctionRecord?
    /// Sorted by name.
    func functions(tenant: String) async throws -> [FunctionRecord]
    /// Deletes the function with its versions and aliases. False when there was none.
    func deleteFunction(tenant: String, name: String) async throws -> Bool

    /// Publishes the head as the next version number ("1", "2", ...), atomically even with
    /// several controllers publishing at once.
    /// - Throws: `.notFound` when there is no such function.
    func publishVersion(tenant: String, name: String, description: String, nowMs: Int64) async throws -> FunctionVersionRecord
    func version(tenant: String, name: String, version: String) async throws -> FunctionVersionRecord?
    /// In publication order.
    func versions(tenant: String, name: String) async throws -> [FunctionVersionRecord]

    /// Creates or moves an alias. - Throws: `.notFound` when the function or version is missing.
    func putAlias(_ alias: AliasRecord) async throws
    func alias(tenant: String, function: String, name: String) async throws -> AliasRecord?
    func aliases(tenant: String, function: String) async throws -> [AliasRecord]
    func deleteAlias(tenant: String, function: String, name: String) async throws -> Bool

    // MARK: Nodes
    /// Registers a node or records its heartbeat. Keeps `draining` and `registeredAtMs` as stored
    /// when the node is known.
    func upsertNode(_ node: NodeRecord) async throws
    func nodes() async throws -> [NodeRecord]
    func node(_ id: String) async throws -> NodeRecord?
    /// - Throws: `.notFound`.
    func setNodeDraining(_ id: String, draining: Bool) async throws
    func deleteNode(_ id: String) async throws -> Bool

    // MARK: Async invocation queue
    /// Queues an invocation. With an idempotency key already used by the same tenant and function,
    /// nothing is queued and the existing one is returned with `created: false`.
    func enqueue(_ invocation: QueuedInvocation) async throws -> (invocation: QueuedInvocation, created: Bool)
    /// Leases up to `limit` due invocations to `owner`: queued ones whose `nextAttemptAtMs <= nowMs`,
    /// and running ones whose lease expired (their controller died). Each claimed one has
    /// `attempts` incremented, status `running`, the lease set. Two claimers never get the same
    /// invocation at the same time (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    func claimInvocations(owner: String, limit: Int, nowMs: Int64, leaseMs: Int64) async throws -> [QueuedInvocation]
    /// Extends a lease still held by `owner`. False when the lease was lost.
    func renewLease(id: String, owner: String, untilMs: Int64) async throws -> Bool
    /// Marks a leased invocation succeeded with its result. False when `owner` lost the lease.
    func completeInvocation(id: String, owner: String, requestId: String, result: [UInt8], nowMs: Int64) async throws -> Bool
    /// Puts a leased invocation back in the queue for another attempt at `nextAttemptAtMs`.
    func retryInvocation(id: String, owner: String, requestId: String?, error: String, nextAttemptAtMs: Int64, nowMs: Int64) async throws -> Bool
    /// Ends a leased invocation as a dead letter with its last error (and error object, if any).
    func deadLetterInvocation(id: String, owner: String, requestId: String?, error: String, result: [UInt8]?, nowMs: Int64) async throws -> Bool
    func invocation(tenant: String, id: String) async throws -> QueuedInvocation?
    /// Dead letters of a tenant (optionally of one function), newest first.
    func deadLetters(tenant: String, function: String?, limit: Int) async throws -> [QueuedInvocation]
    /// How many invocations are queued or running, for metrics.
    func queueDepth() async throws -> Int

    // MARK: Metering records and logs
    /// Idempotent per request id: a record already stored is kept.
    func appendRecords(_ records: [InvocationRecord]) async throws
    /// Newest first.
    func records(_ query: InvocationQuery) async throws -> [InvocationRecord]
    func appendLogs(_ lines: [LogLineRecord]) async throws
    /// Oldest first, in the order appended.
    func logs(_ query: InvocationQuery) async throws -> [LogLineRecord]
    /// Deletes records and log lines older than `beforeMs`; returns how many rows went.
    func pruneInvocationData(beforeMs: Int64) async throws -> Int

    // MARK: Principals, credentials, policies
    /// - Throws: `.conflict`, `.notFound` (tenant).
    func createPrincipal(_ principal: PrincipalRecord) async throws
    func principal(tenant: String, name: String) async throws -> PrincipalRecord?
    func principals(tenant: String) async throws -> [PrincipalRecord]
    /// Deletes the principal, its credentials and its attachments.
    func deletePrincipal(tenant: String, name: String) async throws -> Bool

    /// - Throws: `.conflict` (id), `.notFound` (principal).
    func createCredential(_ credential: CredentialRecord) async throws
    /// By its public id, whatever its tenant (authentication starts from the id alone).
    func credential(id: String) async throws -> CredentialRecord?
    func credentials(tenant: String, principal: String?) async throws -> [CredentialRecord]
    /// False when there was no such credential in the tenant, or it was already revoked.
    func revokeCredential(tenant: String, id: String, nowMs: Int64) async throws -> Bool

    /// Creates or replaces a policy document.
    func putPolicy(_ policy: PolicyRecord) async throws
    func policy(tenant: String, name: String) async throws -> PolicyRecord?
    func policies(tenant: String) async throws -> [PolicyRecord]
    /// Deletes the policy and its attachments.
    func deletePolicy(tenant: String, name: String) async throws -> Bool
    /// - Throws: `.notFound` when the policy or the principal is missing. Attaching twice is a no-op.
    func attachPolicy(tenant: String, policy: String, principal: String) async throws
    func detachPolicy(tenant: String, policy: String, principal: String) async throws -> Bool
    /// The policies attached to a principal, by name.
    func attachedPolicies(tenant: String, principal: String) async throws -> [PolicyRecord]
}
