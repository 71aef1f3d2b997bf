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
