import CellaModel
import CellaStore

/// The one error type of `CellaController`'s HTTP APIs. Each code has one status, a Cella code
/// (header `X-Cella-Error`) and the Lambda error type the Lambda-compatible routes answer with
/// (header `X-Amzn-ErrorType`), so the same failure reads right to the cella CLI and to boto3.
public struct ControllerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidRequest = "InvalidRequest"
        case invalidBundle = "InvalidBundle"
        case unauthorized = "Unauthorized"
        case accessDenied = "AccessDenied"
        case notFound = "ResourceNotFound"
        case conflict = "ResourceConflict"
        case tooLarge = "RequestTooLarge"
        /// A quota, a reserved concurrency or the cluster's capacity said no: retry later.
        case tooManyRequests = "TooManyRequests"
        /// No live node can run the function (none registered, all dead or draining).
        case noNodes = "NoNodes"
        /// The store is unreachable.
        case unavailable = "ServiceUnavailable"
        case `internal` = "ServiceException"
    }

    public let code: Code
    public let message: String
    /// For `tooManyRequests`: Lambda's `Reason` and the `Retry-After` seconds.
    public var reason: String?
    public var retryAfterSeconds: Int?
    /// The Lambda error type when it is more precise than the code's (SigV4 failures).
    public var lambdaTypeOverride: String?

    public init(_ code: Code, _ message: String, reason: String? = nil, retryAfterSeconds: Int? = nil, lambdaType: String? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
        self.retryAfterSeconds = retryAfterSeconds
        self.lambdaTypeOverride = lambdaType
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public var httpStatus: Int {
        switch code {
        case .invalidRequest, .invalidBundle: 400
        case .unauthorized: 401
        case .accessDenied: 403
        case .notFound: 404
        case .conflict: 409
        case .tooLarge: 413
        case .tooManyRequests: 429
        case .noNodes, .unavailable: 503
        case .internal: 500
        }
    }

    /// The `X-Amzn-ErrorType` of the Lambda-compatible routes (PROTOCOLS.md §2).
    public var lambdaType: String {
        if let lambdaTypeOverride { return lambdaTypeOverride }
        return switch code {
        case .invalidRequest: "InvalidRequestContentException"
        case .invalidBundle: "InvalidParameterValueException"
        case .unauthorized: "UnrecognizedClientException"
        case .accessDenied: "AccessDeniedException"
        case .notFound: "ResourceNotFoundException"
        case .conflict: "ResourceConflictException"
        case .tooLarge: "RequestTooLargeException"
        case .tooManyRequests: "TooManyRequestsException"
        case .noNodes, .unavailable, .internal: "ServiceException"
        }
    }

    static func invalid(_ error: ModelError) -> ControllerError {
        ControllerError(.invalidRequest, "\(error.field): \(error.message)")
    }

    /// A store failure as the API tells it: conflicts and missing rows keep their meaning, the
    /// rest is the platform's fault and says no more than that.
    static func store(_ error: StoreError) -> ControllerError {
        switch error.code {
        case .conflict: ControllerError(.conflict, error.message)
        case .notFound: ControllerError(.notFound, error.message)
        case .revisionMismatch: ControllerError(.conflict, error.message)
        case .unavailable: ControllerError(.unavailable, "the store is unavailable; retry")
        case .schemaTooNew, .invalidConfiguration, .internal: ControllerError(.internal, "the store failed")
        }
    }
}
