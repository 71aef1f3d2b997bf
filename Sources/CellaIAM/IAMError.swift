/// The one error type of `CellaIAM`.
///
/// Every rejection of a policy document carries a stable ``Code`` (safe to match on and to return
/// to API clients), the JSON path of the offending element in the document, written the way a
/// person would point at it (`Statement[1].Condition.IpAddress.cella:SourceIp[0]`; the empty path
/// is the document itself), and a human-readable reason. Never match on ``message``.
public struct IAMError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable, machine-readable error codes.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The text is not JSON (syntax error, bad escape, not UTF-8, nesting too deep).
        case malformedJSON = "MalformedJSON"
        /// The same key appears twice in one JSON object (or, for condition keys, twice ignoring case).
        case duplicateKey = "DuplicateKey"
        /// A key the policy grammar does not know, such as `Principal` or `effect`.
        case unknownKey = "UnknownKey"
        /// A required element is absent (`Version`, `Statement`, `Effect`, `Action`/`NotAction`,
        /// `Resource`/`NotResource`).
        case missingElement = "MissingElement"
        /// Both elements of an exclusive pair are present (`Action` and `NotAction`, ...).
        case conflictingElements = "ConflictingElements"
        /// An element has the wrong JSON type, or is an empty array.
        case invalidType = "InvalidType"
        /// `Version` is neither `2012-10-17` nor `2008-10-17`.
        case invalidVersion = "InvalidVersion"
        /// `Effect` is neither `Allow` nor `Deny`.
        case invalidEffect = "InvalidEffect"
        /// An action is not `*` nor `service:name` with a known service and (without wildcards) a
        /// known name.
        case invalidAction = "InvalidAction"
        /// A resource is not `*` nor a `crn:` pattern.
        case invalidResource = "InvalidResource"
        /// A `Sid` that is empty or not ASCII letters and digits.
        case invalidSid = "InvalidSid"
        /// Two statements share one `Sid`.
        case duplicateSid = "DuplicateSid"
        /// A condition operator that does not exist, or a prefix/suffix it does not take.
        case unknownOperator = "UnknownOperator"
        /// A condition key Cella does not define.
        case unknownConditionKey = "UnknownConditionKey"
        /// A condition value the operator cannot use (bad CIDR, date, number, boolean, base64).
        case invalidConditionValue = "InvalidConditionValue"
        /// A malformed `${...}` policy variable, or one naming an unknown key.
        case invalidVariable = "InvalidVariable"
        /// A policy variable in a document whose `Version` is `2008-10-17`.
        case variableNeedsVersion2012 = "VariableNeedsVersion2012"
        /// The document is larger than the configured limit.
        case policyTooLarge = "PolicyTooLarge"
        /// A resource name (`crn:cella:...` or a Lambda ARN) that does not parse.
        case invalidResourceName = "InvalidResourceName"
    }

    /// The stable code.
    public let code: Code
    /// The JSON path of the offending element; empty for the whole document.
    public let path: String
    /// A human-readable reason. Not stable: never match on it.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The stable code.
    ///   - path: The JSON path of the offending element (empty for the document).
    ///   - message: The reason, for people.
    public init(_ code: Code, path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(code.rawValue): \(message)" : "\(code.rawValue) at \(path): \(message)"
    }
}
