/// The one error type of `CellaModel`: a value that breaks a rule, with the field it is in.
public struct ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSON name of the offending field, e.g. `memoryMB` or `environment.AWS_REGION`.
    public let field: String
    public let message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
