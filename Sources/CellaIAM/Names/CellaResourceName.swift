/// A Cella resource name: `crn:cella:{tenant}:{kind}:{name}[:{qualifier}]`.
///
/// The qualifier (a version number, `$LATEST` or an alias) exists for functions only. Tenants are
/// `[A-Za-z0-9_-]{1,64}`; function names `[A-Za-z0-9_-]{1,64}` as Lambda's; other names
/// `[A-Za-z0-9_.@+=,-]{1,128}` as IAM's; qualifiers `$LATEST` or `[A-Za-z0-9_-]{1,128}`. No
/// component may hold `:` or a wildcard, so a name always parses back to itself.
public struct CellaResourceName: Sendable, Hashable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// What a name names.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case function, key, policy, principal, group
    }

    public let tenant: String
    public let kind: Kind
    public let name: String
    public let qualifier: String?

    /// Creates a name after checking each component.
    /// - Throws: `IAMError` `.invalidResourceName` naming the bad component.
    public init(tenant: String, kind: Kind, name: String, qualifier: String? = nil) throws(IAMError) {
        guard Self.isValid(tenant, extraCharacters: "", maxLength: 64) else {
            throw IAMError(.invalidResourceName, path: "", "invalid tenant id '\(tenant)'")
        }
        let nameIsValid = kind == .function
            ? Self.isValid(name, extraCharacters: "", maxLength: 64)
            : Self.isValid(name, extraCharacters: ".@+=,", maxLength: 128)
        guard nameIsValid else {
            throw IAMError(.invalidResourceName, path: "", "invalid \(kind.rawValue) name '\(name)'")
        }
        if let qualifier {
            guard kind == .function else {
                throw IAMError(.invalidResourceName, path: "", "only functions take a qualifier")
            }
            guard qualifier == "$LATEST" || Self.isValid(qualifier, extraCharacters: "", maxLength: 128) else {
                throw IAMError(.invalidResourceName, path: "", "invalid qualifier '\(qualifier)'")
            }
        }
        self.init(checked: tenant, kind, name, qualifier)
    }

    private init(checked tenant: String, _ kind: Kind, _ name: String, _ qualifier: String?) {
        self.tenant = tenant
        self.kind = kind
        self.name = name
        self.qualifier = qualifier
    }

    /// `crn:cella:{tenant}:function:{name}[:{qualifier}]`.
    /// - Throws: `IAMError` `.invalidResourceName`.
    public static func function(tenant: String, name: String, qualifier: String? = nil) throws(IAMError) -> Self {
        try Self(tenant: tenant, kind: .function, name: name, qualifier: qualifier)
    }

    /// Parses `crn:cella:...`.
    /// - Throws: `IAMError` `.invalidResourceName`.
    public static func parse(_ text: String) throws(IAMError) -> Self {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5 || parts.count == 6, parts[0] == "crn", parts[1] == "cella" else {
            throw IAMError(.invalidResourceName, path: "", "'\(text)' is not crn:cella:{tenant}:{kind}:{name}")
        }
        guard let kind = Kind(rawValue: parts[3]) else {
            throw IAMError(.invalidResourceName, path: "", "unknown resource kind '\(parts[3])'")
        }
        return try Self(tenant: parts[2], kind: kind, name: parts[4], qualifier: parts.count == 6 ? parts[5] : nil)
    }

    /// Parses `crn:cella:...`, or returns nil.
    public init?(_ description: String) {
        guard let parsed = try? Self.parse(description) else { return nil }
        self = parsed
    }

    /// Maps a Lambda function ARN, `arn:aws:lambda:{region}:{tenant}:function:{name}[:{qualifier}]`,
    /// to `crn:cella:{tenant}:function:{name}[:{qualifier}]`. Cella has no regions: any region is
    /// accepted and dropped. Partitions `aws` and `aws-*` (`aws-cn`, `aws-us-gov`) are accepted.
    /// - Throws: `IAMError` `.invalidResourceName`.
    public static func fromLambdaARN(_ arn: String) throws(IAMError) -> Self {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 7 || parts.count == 8, parts[0] == "arn",
              parts[1] == "aws" || parts[1].hasPrefix("aws-"), parts[2] == "lambda",
              !parts[3].isEmpty, parts[5] == "function"
        else {
            throw IAMError(.invalidResourceName, path: "",
                           "'\(arn)' is not arn:aws:lambda:{region}:{tenant}:function:{name}[:{qualifier}]")
        }
        return try function(tenant: parts[4], name: parts[6], qualifier: parts.count == 8 ? parts[7] : nil)
    }

    /// Maps the `FunctionName` of a Lambda API call to a Cella name. Lambda accepts a name
    /// (`my-function`), a name with qualifier (`my-function:1`), a partial ARN
    /// (`123456789012:function:my-function`) and a full ARN; names without a tenant take
    /// `tenant`. An ARN naming another tenant keeps that tenant: authorization then denies it at
    /// the tenant boundary (see ``PolicyEvaluator``).
    /// - Throws: `IAMError` `.invalidResourceName`.
    public static func fromLambdaFunctionName(_ functionName: String, tenant: String) throws(IAMError) -> Self {
        if functionName.hasPrefix("arn:") { return try fromLambdaARN(functionName) }
        let parts = functionName.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: return try function(tenant: tenant, name: parts[0])
        case 2: return try function(tenant: tenant, name: parts[0], qualifier: parts[1])
        case 3 where parts[1] == "function": return try function(tenant: parts[0], name: parts[2])
        case 4 where parts[1] == "function": return try function(tenant: parts[0], name: parts[2], qualifier: parts[3])
        default:
            throw IAMError(.invalidResourceName, path: "", "'\(functionName)' is not a Lambda function name or ARN")
        }
    }

    /// The same name without qualifier.
    public var unqualified: Self {
        Self(checked: tenant, kind, name, nil)
    }

    public var description: String {
        "crn:cella:\(tenant):\(kind.rawValue):\(name)" + (qualifier.map { ":\($0)" } ?? "")
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try Self.parse(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func isValid(_ text: String, extraCharacters: String, maxLength: Int) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maxLength else { return false }
        let extra = Set(extraCharacters.utf8)
        return text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default:
                extra.contains(byte)
            }
        }
    }
}
