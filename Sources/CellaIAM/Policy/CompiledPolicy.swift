/// A policy document, validated and compiled for evaluation.
///
/// Compiling does all the work that does not depend on a request: the JSON is read strictly,
/// every element is checked (see ``PolicyParser``), action patterns are lowercased and turned
/// into matchers, resources and string values into templates, CIDRs, dates and numbers parsed.
/// Compile once per document (``PolicyCache`` keeps them) and evaluate many times. A class so
/// that evaluation passes it around by reference.
public final class CompiledPolicy: Sendable {
    /// The policy's identifier in the store, used to report the deciding statement.
    public let id: String
    public let version: PolicyVersion
    public let statements: [CompiledStatement]
    /// Each statement's ``CompiledStatement/actionMask``, side by side, so that evaluation skips
    /// statements for other operations without touching them.
    package let actionMasks: [UInt64]

    /// Validates and compiles a policy document.
    /// - Parameters:
    ///   - id: The policy's identifier, reported with the deciding statement.
    ///   - document: The JSON text.
    ///   - options: Size limits.
    /// - Throws: `IAMError` with the code, the JSON path of the first problem and the reason.
    public init(id: String, document: String, options: PolicyOptions = PolicyOptions()) throws(IAMError) {
        self.id = id
        (version, statements) = try PolicyParser.parse(document, options: options)
        actionMasks = statements.map(\.actionMask)
    }

    /// Checks a document without keeping the compiled form (what attach-time validation needs).
    /// - Throws: `IAMError` as ``init(id:document:options:)``.
    public static func validate(_ document: String, options: PolicyOptions = PolicyOptions()) throws(IAMError) {
        _ = try PolicyParser.parse(document, options: options)
    }
}

/// The policy language versions. Only 2012-10-17 has policy variables.
public enum PolicyVersion: String, Sendable, Hashable {
    case v2012_10_17 = "2012-10-17"
    case v2008_10_17 = "2008-10-17"

    var allowsVariables: Bool { self == .v2012_10_17 }
}

/// Limits applied when a policy is read.
public struct PolicyOptions: Sendable, Hashable {
    /// The most characters a document may have, whitespace not counted: IAM's limit for managed
    /// policies, 6,144, by default.
    public var maxCharacters: Int
    /// The most UTF-8 bytes, whitespace included, so that padding cannot make parsing costly.
    public var maxBytes: Int

    public init(maxCharacters: Int = 6_144, maxBytes: Int = 65_536) {
        self.maxCharacters = maxCharacters
        self.maxBytes = maxBytes
    }
}
