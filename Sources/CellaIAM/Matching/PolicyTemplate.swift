/// A string from a policy that may hold `${...}` policy variables: a resource pattern or a value
/// of a string or ARN condition.
///
/// Syntax (IAM's): `${cella:PrincipalName}` is replaced by the request's single value for that
/// condition key; `${cella:PrincipalTag/team, 'none'}` falls back to `none` when there is no value;
/// `${*}`, `${?}` and `${$}` are a literal `*`, `?` and `$`. A variable's value is always literal:
/// a principal named `a*` does not turn into a wildcard. When a variable has no value (the key is
/// absent or has several values) and no default, the template *resolves to nothing* and the
/// pattern or value that holds it matches nothing — IAM's rule that such an element does not
/// match. Variable names must be condition keys Cella defines; that is checked when the policy is
/// parsed, so a typo is rejected at attach time instead of silently never matching.
package struct PolicyTemplate: Sendable, Hashable {
    private enum Part: Sendable, Hashable {
        case units([UInt16])
        case variable(key: String, fallback: [UInt8]?)
    }

    private let parts: [Part]
    private let caseInsensitive: Bool
    /// The compiled pattern when the template has no variables.
    package let fixed: WildcardPattern?

    /// Parses `text`.
    /// - Parameters:
    ///   - text: The string as written in the policy.
    ///   - wildcards: Whether `*` and `?` are wildcards (resources, `StringLike`, ARN operators)
    ///     or plain characters (`StringEquals` and its kin).
    ///   - variables: Whether `${...}` is allowed (Version 2012-10-17).
    ///   - caseInsensitive: Lowercase the text and, when resolving, the variables' values
    ///     (`StringEqualsIgnoreCase`, actions).
    ///   - path: The JSON path of the string, for errors.
    /// - Throws: `IAMError` `.invalidVariable` or `.variableNeedsVersion2012`.
    package init(
        parsing text: String,
        wildcards: Bool,
        variables: Bool,
        caseInsensitive: Bool = false,
        path: JSONPath
    ) throws(IAMError) {
        var parts: [Part] = []
        var current: [UInt16] = []
        let bytes = Array(caseInsensitive ? text.lowercased().utf8 : text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") {
                guard variables else {
                    throw IAMError(.variableNeedsVersion2012, path: path.description,
                                   "policy variables need \"Version\": \"2012-10-17\"")
                }
                guard let close = bytes[(index + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw IAMError(.invalidVariable, path: path.description, "unterminated '${' in '\(text)'")
                }
                let body = String(decoding: bytes[(index + 2)..<close], as: UTF8.self)
                switch body {
                case "*": current.append(UInt16(UInt8(ascii: "*")))
                case "?": current.append(UInt16(UInt8(ascii: "?")))
                case "$": current.append(UInt16(UInt8(ascii: "$")))
                default:
                    let (key, fallback) = try Self.parseVariable(body, path: path)
                    if !current.isEmpty { parts.append(.units(current)) }
                    current = []
                    parts.append(.variable(key: key, fallback: fallback.map { Array($0.utf8) }))
                }
                index = close + 1
                continue
            }
            switch byte {
            case UInt8(ascii: "*") where wildcards: current.append(WildcardPattern.star)
            case UInt8(ascii: "?") where wildcards: current.append(WildcardPattern.one)
            default: current.append(UInt16(byte))
            }
            index += 1
        }
        if !current.isEmpty || parts.isEmpty { parts.append(.units(current)) }
        self.parts = parts
        self.caseInsensitive = caseInsensitive
        if parts.count == 1, case .units(let units) = parts[0] {
            fixed = WildcardPattern(units: units)
        } else {
            fixed = nil
        }
    }

    /// The units when the template has no variables.
    package var fixedUnits: [UInt16]? {
        guard parts.count == 1, case .units(let units) = parts[0] else { return nil }
        return units
    }

    /// `cella:PrincipalTag/team` or `cella:PrincipalTag/team, 'default'`.
    private static func parseVariable(_ body: String, path: JSONPath) throws(IAMError) -> (String, String?) {
        var name = Substring(body)
        var fallback: String?
        if let comma = body.firstIndex(of: ",") {
            name = body[..<comma]
            let rest = body[body.index(after: comma)...].trimmingSpaces()
            guard rest.count >= 2, rest.first == "'", rest.last == "'" else {
                throw IAMError(.invalidVariable, path: path.description,
                               "a default value is written ${key, 'value'}, got '${\(body)}'")
            }
            fallback = String(rest.dropFirst().dropLast())
        }
        let key = String(name.trimmingSpaces())
        guard ConditionKey.isKnown(key) else {
            throw IAMError(.invalidVariable, path: path.description, "unknown policy variable '${\(key)}'")
        }
        return (key.lowercased(), fallback)
    }

    /// The pattern for `request`, or nil when a variable has no value and no default.
    package func resolve(in request: RequestContext) -> WildcardPattern? {
        if let fixed { return fixed }
        guard let units = resolvedUnits(in: request) else { return nil }
        return WildcardPattern(units: units)
    }

    /// The units with variables replaced by their values as literal bytes, or nil as in ``resolve(in:)``.
    package func resolvedUnits(in request: RequestContext) -> [UInt16]? {
        var units: [UInt16] = []
        for part in parts {
            switch part {
            case .units(let literal):
                units.append(contentsOf: literal)
            case .variable(let key, let fallback):
                if let value = request.singleValue(forLowercasedKey: key) {
                    let text = caseInsensitive ? value.lowercased() : value
                    units.append(contentsOf: text.utf8.lazy.map(UInt16.init))
                } else if let fallback {
                    units.append(contentsOf: fallback.lazy.map(UInt16.init))
                } else {
                    return nil
                }
            }
        }
        return units
    }

}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }
}
