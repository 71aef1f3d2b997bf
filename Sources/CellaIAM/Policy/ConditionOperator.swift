/// A condition operator as written in a policy: a base operator, optionally with the `IfExists`
/// suffix and a `ForAnyValue:` or `ForAllValues:` prefix (`ForAllValues:StringLikeIfExists`).
///
/// Names are case-sensitive, as in IAM. `Null` takes neither prefix nor suffix.
public struct ConditionOperator: Sendable, Hashable, CustomStringConvertible {
    /// The operators of IAM's grammar.
    public enum Base: String, Sendable, Hashable, CaseIterable {
        case stringEquals = "StringEquals"
        case stringNotEquals = "StringNotEquals"
        case stringEqualsIgnoreCase = "StringEqualsIgnoreCase"
        case stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
        case stringLike = "StringLike"
        case stringNotLike = "StringNotLike"
        case numericEquals = "NumericEquals"
        case numericNotEquals = "NumericNotEquals"
        case numericLessThan = "NumericLessThan"
        case numericLessThanEquals = "NumericLessThanEquals"
        case numericGreaterThan = "NumericGreaterThan"
        case numericGreaterThanEquals = "NumericGreaterThanEquals"
        case dateEquals = "DateEquals"
        case dateNotEquals = "DateNotEquals"
        case dateLessThan = "DateLessThan"
        case dateLessThanEquals = "DateLessThanEquals"
        case dateGreaterThan = "DateGreaterThan"
        case dateGreaterThanEquals = "DateGreaterThanEquals"
        case bool = "Bool"
        case binaryEquals = "BinaryEquals"
        case ipAddress = "IpAddress"
        case notIpAddress = "NotIpAddress"
        case arnEquals = "ArnEquals"
        case arnLike = "ArnLike"
        case arnNotEquals = "ArnNotEquals"
        case arnNotLike = "ArnNotLike"
        case null = "Null"

        /// Negated operators are true when no request value matches any policy value, and true
        /// when the key is missing (PROTOCOLS.md §4).
        public var isNegated: Bool {
            switch self {
            case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .numericNotEquals,
                 .dateNotEquals, .notIpAddress, .arnNotEquals, .arnNotLike:
                true
            default:
                false
            }
        }
    }

    /// How a multi-valued request key is compared.
    public enum SetQualifier: String, Sendable, Hashable {
        /// At least one request value must satisfy the operator; false on a missing or empty set.
        case forAnyValue = "ForAnyValue"
        /// Every request value must satisfy the operator; true on a missing or empty set.
        case forAllValues = "ForAllValues"
    }

    public let base: Base
    public let ifExists: Bool
    public let setQualifier: SetQualifier?

    /// Parses an operator name, or returns nil when it is not one.
    public init?(_ text: String) {
        var name = Substring(text)
        var qualifier: SetQualifier?
        if let colon = name.firstIndex(of: ":") {
            guard let parsed = SetQualifier(rawValue: String(name[..<colon])) else { return nil }
            qualifier = parsed
            name = name[name.index(after: colon)...]
        }
        var ifExists = false
        if name.hasSuffix("IfExists") {
            ifExists = true
            name = name.dropLast("IfExists".count)
        }
        guard let base = Base(rawValue: String(name)) else { return nil }
        if base == .null, ifExists || qualifier != nil { return nil }
        self.base = base
        self.ifExists = ifExists
        self.setQualifier = qualifier
    }

    public var description: String {
        (setQualifier.map { "\($0.rawValue):" } ?? "") + base.rawValue + (ifExists ? "IfExists" : "")
    }
}
