import CellaModel

/// The one error type of `CellaAgent`. Each code maps to one HTTP status of the agent API, so the
/// controller can act on it (try another node, throttle, report to the caller).
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A deploy or invoke request is malformed (bad JSON, bad config, payload too large).
        case invalidRequest = "InvalidRequest"
        /// No such function version or bundle on this node.
        case notFound = "ResourceNotFound"
        /// The runtime named by a function is not installed on this node.
        case runtimeNotFound = "RuntimeNotFound"
        /// The function's reserved concurrency is in use and no instance freed up in time.
        case throttled = "TooManyRequests"
        /// The node's memory budget is spent by busy instances: try another node.
        case nodeFull = "NodeFull"
        /// The agent is draining or shutting down and takes no new invocations.
        case draining = "Draining"
        /// The request is larger than the agent accepts.
        case tooLarge = "RequestTooLarge"
        /// A bundle was rejected.
        case badBundle = "InvalidBundle"
        /// The call lacks the node token the agent was given.
        case unauthorized = "Unauthorized"
        /// Something in the agent or the host failed.
        case `internal` = "ServiceException"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The agent API's status for this error.
    public var httpStatus: Int {
        switch code {
        case .invalidRequest, .badBundle: 400
        case .unauthorized: 401
        case .notFound, .runtimeNotFound: 404
        case .tooLarge: 413
        case .throttled: 429
        case .nodeFull, .draining: 503
        case .internal: 500
        }
    }
}
