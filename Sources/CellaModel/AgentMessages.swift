/// `PUT /v1/functions/{tenant}/{name}/{version}` on an agent: make a function version runnable on
/// the node. The bundle must already be on the node (`PUT /v1/bundles/{digest}`).
public struct AgentDeployRequest: Codable, Sendable, Equatable {
    public var config: FunctionConfig
    /// sha256 of the code bundle, lowercase hex.
    public var bundleDigest: String

    public init(config: FunctionConfig, bundleDigest: String) {
        self.config = config
        self.bundleDigest = bundleDigest
    }
}

/// An error answered by Cella's own HTTP APIs: a stable code and a message for people.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// The error object a function's failure returns as its result (Lambda's shape).
public struct FunctionErrorBody: Codable, Sendable, Equatable {
    public var errorMessage: String
    public var errorType: String
    public var stackTrace: [String]?
    /// The instance's last log lines, when the runtime crashed or was killed.
    public var logTail: [String]?

    public init(errorMessage: String, errorType: String, stackTrace: [String]? = nil, logTail: [String]? = nil) {
        self.errorMessage = errorMessage
        self.errorType = errorType
        self.stackTrace = stackTrace
        self.logTail = logTail
    }
}

/// The instances a node holds of one function version, as its heartbeat counts them.
public struct InstanceCounts: Codable, Sendable, Equatable {
    /// `tenant/name:version` as the agent knows it.
    public var function: String
    public var idle: Int
    public var busy: Int
    public var starting: Int
    /// Memory reserved for them (their limits), bytes.
    public var memoryBytes: Int64

    public init(function: String, idle: Int, busy: Int, starting: Int, memoryBytes: Int64) {
        self.function = function
        self.idle = idle
        self.busy = busy
        self.starting = starting
        self.memoryBytes = memoryBytes
    }
}

/// `POST /v1/nodes/{id}/heartbeat` on a controller, once a second from each agent: registers the
/// node on its first beat and keeps it alive after. A node silent for 3 s is dead to placement.
public struct NodeHeartbeat: Codable, Sendable, Equatable {
    /// `http://host:port` of the agent API, as controllers reach it.
    public var address: String
    /// The node's memory budget for instances, bytes.
    public var memoryBudgetBytes: Int64
    /// Memory held by its instances now, bytes.
    public var memoryReservedBytes: Int64
    /// Invocations in flight now.
    public var inFlight: Int
    /// Function versions (`tenant/name:version`) with at least one idle instance.
    public var warm: [String]
    /// Function versions the node holds a snapshot template of.
    public var templates: [String]
    /// Bundle digests the node holds.
    public var bundles: [String]
    /// True while the agent itself drains (shutting down): place nothing new on it.
    public var draining: Bool
    /// Instances per function version (absent from agents before this field existed).
    public var instances: [InstanceCounts]?

    public init(
        address: String, memoryBudgetBytes: Int64, memoryReservedBytes: Int64, inFlight: Int,
        warm: [String], templates: [String], bundles: [String], draining: Bool, instances: [InstanceCounts]? = nil
    ) {
        self.address = address
        self.memoryBudgetBytes = memoryBudgetBytes
        self.memoryReservedBytes = memoryReservedBytes
        self.inFlight = inFlight
        self.warm = warm
        self.templates = templates
        self.bundles = bundles
        self.draining = draining
        self.instances = instances
    }
}

/// `POST /v1/nodes/{id}/telemetry` on a controller: the metering records and log lines an agent
/// produced since its last shipment. The agent advances its cursors only when the controller
/// accepts, so nothing is lost; a shipment whose answer is lost is sent again (records are
/// deduplicated by request id).
public struct NodeTelemetry: Codable, Sendable, Equatable {
    public struct Line: Codable, Sendable, Equatable {
        /// `tenant/name:version` as the agent knows it.
        public var function: String
        public var timeMs: Int64
        public var requestId: String?
        public var text: String

        public init(function: String, timeMs: Int64, requestId: String?, text: String) {
            self.function = function
            self.timeMs = timeMs
            self.requestId = requestId
            self.text = text
        }
    }

    public var records: [InvocationRecord]
    public var logs: [Line]

    public init(records: [InvocationRecord], logs: [Line]) {
        self.records = records
        self.logs = logs
    }
}
