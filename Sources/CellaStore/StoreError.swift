/// The one error type of `CellaStore`: a stable code, a message for people, and the driver's
/// error when there was one.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A row with the same key exists (a tenant, a function, an alias, a principal...).
        case conflict
        /// The row an update or a reference names does not exist.
        case notFound
        /// A concurrent writer changed the row first (optimistic revision check failed).
        case revisionMismatch
        /// The database could not be reached or refused the work.
        case unavailable
        /// The database holds a schema newer than this build knows.
        case schemaTooNew
        /// The store's URL or settings are malformed or name an unsupported backend.
        case invalidConfiguration
        /// Anything else the driver reported.
        case `internal`
    }

    public let code: Code
    public let message: String
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "\(code.rawValue): \(message) (\(underlying))" }
        return "\(code.rawValue): \(message)"
    }
}
