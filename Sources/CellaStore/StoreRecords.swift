import CellaModel

/// A tenant: the hard boundary between customers. Its id appears in resource names
/// (`crn:cella:{id}:function:{name}`): `[a-z0-9-]`, 1 to 63 characters.
public struct TenantRecord: Codable, Sendable, Equatable {
    public var id: String
    public var createdAtMs: Int64
    public init(id: String, createdAtMs: Int64) {
        self.id = id
        self.createdAtMs = createdAtMs
    }
}

/// A function's mutable head (`$LATEST`): its current config and code.
public struct FunctionRecord: Codable, Sendable, Equatable {
    public var tenant: String
    public var name: String
    public var config: FunctionConfig
    /// sha256 of the code bundle, lowercase hex; the bundle is in the store.
    public var codeDigest: String
    /// How many times an async invocation is retried after its first attempt fails (Lambda: 0-2).
    public var asyncRetries: Int
    /// Tags, for `cella:FunctionTag/<key>` conditions.
    public var tags: [String: String]
    /// Bumped by every update; updates may name the revision they read (optimistic locking).
    public var revision: Int64
    public var createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(
        tenant: String, name: String, config: FunctionConfig, codeDigest: String, asyncRetries: Int = 2,
        tags: [String: String] = [:], revision: Int64 = 1, createdAtMs: Int64, updatedAtMs: Int64
    ) {
        self.tenant = tenant
        self.name = name
        self.config = config
        self.codeDigest = codeDigest
        self.asyncRetries = asyncRetries
        self.tags = tags
        self.revision = revision
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }
}

/// An immutable published version: the head's config and code when it was published.
public struct FunctionVersionRecord: Codable, Sendable, Equatable {
    public var tenant: String
    public var name: String
    /// "1", "2", ... in publication order.
    public var version: String
    public var config: FunctionConfig
    public var codeDigest: String
    public var asyncRetries: Int
    public var description: String
    public var createdAtMs: Int64

    public init(
        tenant: String, name: String, version: String, config: FunctionConfig, codeDigest: String,
        asyncRetries: Int, description: String, createdAtMs: Int64
    ) {
        self.tenant = tenant
        self.name = name
        self.version = version
        self.config = config
        self.codeDigest = codeDigest
        self.asyncRetries = asyncRetries
        self.description = description
        self.createdAtMs = createdAtMs
    }
}

/// A named pointer at a published version (or `$LATEST`).
public struct AliasRecord: Codable, Sendable, Equatable {
    public var tenant: String
    public var function: String
    public var name: String
    public var version: String
    public var updatedAtMs: Int64

    public init(tenant: String, function: String, name: String, version: String, updatedAtMs: Int64) {
        self.tenant = tenant
        self.function = function
        self.name = name
        self.version = version
        self.updatedAtMs = updatedAtMs
    }
}

/// A node agent as its heartbeats describe it.
public struct NodeRecord: Codable, Sendable, Equatable {
    /// Stable across the agent's restarts (its `--node-id`).
    public var id: String
    /// `http://host:port` of its agent API, as the controller reaches it.
    public var address: String
    /// The node's memory budget for instances, bytes.
    public var memoryBudgetBytes: Int64
    /// Memory held by its instances at the last heartbeat, bytes.
    public var memoryReservedBytes: Int64
    /// Invocations in flight at the last heartbeat.
    public var inFlight: Int
    /// Function versions (`tenant/name:version`) with an idle instance, at the last heartbeat.
    public var warm: [String]
    /// Function versions the node holds a snapshot template of.
    public var templates: [String]
    /// Bundles (digests) the node holds.
    public var bundles: [String]
    /// An operator asked for no new placements; set by the operator, kept across heartbeats.
    public var draining: Bool
    public var lastHeartbeatMs: Int64
    public var registeredAtMs: Int64
    /// Instances per function version at the last heartbeat.
    public var instances: [InstanceCounts]

    public init(
        id: String, address: String, memoryBudgetBytes: Int64, memoryReservedBytes: Int64 = 0,
        inFlight: Int = 0, warm: [String] = [], templates: [String] = [], bundles: [String] = [],
        draining: Bool = false, lastHeartbeatMs: Int64, registeredAtMs: Int64, instances: [InstanceCounts] = []
    ) {
        self.id = id
        self.address = address
        self.memoryBudgetBytes = memoryBudgetBytes
        self.memoryReservedBytes = memoryReservedBytes
        self.inFlight = inFlight
        self.warm = warm
        self.templates = templates
        self.bundles = bundles
        self.draining = draining
        self.lastHeartbeatMs = lastHeartbeatMs
        self.registeredAtMs = registeredAtMs
        self.instances = instances
    }
}

/// Where an async invocation is in its life.
public enum QueuedInvocationStatus: String, Codable, Sendable, CaseIterable {
    /// Waiting for its first attempt or its next retry (`nextAttemptAtMs`).
    case queued
    /// Claimed by a controller, whose lease runs until `leaseExpiresAtMs`.
    case running
    case succeeded
    /// Every attempt failed: a dead-letter record, with the last error.
    case dead
}

/// An async (`Event`) invocation in the durable queue. At least once: a controller that dies while
/// holding one loses its lease, and another claims it again.
public struct QueuedInvocation: Codable, Sendable, Equatable {
    public var id: String
    public var tenant: String
    public var function: String
    /// The version or alias the client asked for, resolved again at each attempt.
    public var qualifier: String
    public var payload: [UInt8]
    /// Dedupes a client's retries of the same submission, per tenant and function.
    public var idempotencyKey: String?
    public var status: QueuedInvocationStatus
    /// Attempts started so far.
    public var attempts: Int
    /// The most attempts in all (1 + the function's retries at submission).
    public var maxAttempts: Int
    public var nextAttemptAtMs: Int64
    public var leaseOwner: String?
    public var leaseExpiresAtMs: Int64?
    /// The function's result (success) or its error object (dead), at most a few MB.
    public var result: [UInt8]?
    /// Why the last attempt failed: `errorType: message`.
    public var lastError: String?
    /// The request id of the last attempt, to find its logs and record.
    public var lastRequestId: String?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64

    public init(
        id: String, tenant: String, function: String, qualifier: String, payload: [UInt8],
        idempotencyKey: String? = nil, status: QueuedInvocationStatus = .queued, attempts: Int = 0,
        maxAttempts: Int, nextAttemptAtMs: Int64, leaseOwner: String? = nil, leaseExpiresAtMs: Int64? = nil,
        result: [UInt8]? = nil, lastError: String? = nil, lastRequestId: String? = nil,
        createdAtMs: Int64, updatedAtMs: Int64
    ) {
        self.id = id
        self.tenant = tenant
        self.function = function
        self.qualifier = qualifier
        self.payload = payload
        self.idempotencyKey = idempotencyKey
        self.status = status
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.nextAttemptAtMs = nextAttemptAtMs
        self.leaseOwner = leaseOwner
        self.leaseExpiresAtMs = leaseExpiresAtMs
        self.result = result
        self.lastError = lastError
        self.lastRequestId = lastRequestId
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
    }
}

/// One log line of an invocation, collected from the agent that ran it.
public struct LogLineRecord: Codable, Sendable, Equatable {
    public var tenant: String
    public var function: String
    public var version: String
    public var requestId: String
    public var timeMs: Int64
    public var text: String

    public init(tenant: String, function: String, version: String, requestId: String, timeMs: Int64, text: String) {
        self.tenant = tenant
        self.function = function
        self.version = version
        self.requestId = requestId
        self.timeMs = timeMs
        self.text = text
    }
}

/// Filters for records and logs: a tenant always, the rest optional.
public struct InvocationQuery: Sendable, Equatable {
    public var tenant: String
    public var function: String?
    public var requestId: String?
    public var sinceMs: Int64?
    public var limit: Int

    public init(tenant: String, function: String? = nil, requestId: String? = nil, sinceMs: Int64? = nil, limit: Int = 1000) {
        self.tenant = tenant
        self.function = function
        self.requestId = requestId
        self.sinceMs = sinceMs
        self.limit = limit
    }
}

/// A user or service account inside a tenant.
public struct PrincipalRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case user, serviceAccount = "service-account" }
    public var tenant: String
    public var name: String
    public var kind: Kind
    public var tags: [String: String]
    /// Cluster operator: manages tenants and nodes. Only principals of the operator's own tenant.
    public var isAdmin: Bool
    public var createdAtMs: Int64

    public init(tenant: String, name: String, kind: Kind, tags: [String: String] = [:], isAdmin: Bool = false, createdAtMs: Int64) {
        self.tenant = tenant
        self.name = name
        self.kind = kind
        self.tags = tags
        self.isAdmin = isAdmin
        self.createdAtMs = createdAtMs
    }
}

/// A credential of a principal. API keys are kept only as a hash of the secret; SigV4 secrets
/// must be kept (the server recomputes signatures), encrypted by the caller if it chooses.
public struct CredentialRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case apiKey = "api-key", accessKey = "access-key" }
    /// The public part: an API key's id, or an access key id.
    public var id: String
    public var kind: Kind
    public var tenant: String
    public var principal: String
    /// API key: the hash of its secret. Access key: its secret (as the caller stores it).
    public var secret: String
    public var createdAtMs: Int64
    public var expiresAtMs: Int64?
    public var revokedAtMs: Int64?

    public init(
        id: String, kind: Kind, tenant: String, principal: String, secret: String, createdAtMs: Int64,
        expiresAtMs: Int64? = nil, revokedAtMs: Int64? = nil
    ) {
        self.id = id
        self.kind = kind
        self.tenant = tenant
        self.principal = principal
        self.secret = secret
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
        self.revokedAtMs = revokedAtMs
    }
}

/// A named policy document of a tenant.
public struct PolicyRecord: Codable, Sendable, Equatable {
    public var tenant: String
    public var name: String
    /// The JSON text as the tenant wrote it (validated before it is stored).
    public var document: String
    public var updatedAtMs: Int64

    public init(tenant: String, name: String, document: String, updatedAtMs: Int64) {
        self.tenant = tenant
        self.name = name
        self.document = document
        self.updatedAtMs = updatedAtMs
    }
}
