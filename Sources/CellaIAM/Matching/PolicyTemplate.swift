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
        /// Units; `plain` when none of them is a wildcard.
        case units([UInt16], plain: Bool)
        case variable(key: ConditionKey.Reference, fallback: [UInt8]?)
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
                    if !current.isEmpty { parts.append(Self.unitsPart(current)) }
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
        if !current.isEmpty || parts.isEmpty { parts.append(Self.unitsPart(current)) }
        self.parts = parts
        self.caseInsensitive = caseInsensitive
        if parts.count == 1, case .units(let units, _) = parts[0] {
            fixed = WildcardPattern(units: units)
        } else {
            fixed = nil
        }
    }

    /// The units when the template has no variables.
    package var fixedUnits: [UInt16]? {
        guard parts.count == 1, case .units(let units, _) = parts[0] else { return nil }
        return units
    }

    private static func unitsPart(_ units: [UInt16]) -> Part {
        .units(units, plain: !units.contains { $0 > 0xFF })
    }

    /// `cella:PrincipalTag/team` or `cella:PrincipalTag/team, 'default'`.
    private static func parseVariable(_ body: String, path: JSONPath) throws(IAMError) -> (ConditionKey.Reference, String?) {
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
        return (ConditionKey.Reference(key), fallback)
    }

    /// Whether the template, resolved for `request`, matches `subject`; false when a variable has
    /// no value and no default.
    ///
    /// Leading parts without wildcards, variables included, are compared in place, so a
    /// `prefix${var}-*` pattern that fails early allocates nothing; from the first part with a
    /// wildcard on, the rest is resolved into a pattern.
    package func matches(_ subject: UnsafeBufferPointer<UInt8>, in request: RequestContext) -> Bool {
        if let fixed { return fixed.matches(subject) }
        var position = 0
        for index in parts.indices {
            switch parts[index] {
            case .units(let units, let plain):
                guard plain else {
                    var rest: [UInt16] = []
                    guard appendResolved(from: index, to: &rest, in: request) else { return false }
                    return WildcardPattern(units: rest).matches(UnsafeBufferPointer(rebasing: subject[position...]))
                }
                guard let next = Self.consume(units, from: subject, at: position) else { return false }
                position = next
            case .variable(let key, let fallback):
                let consumed: Int?
                if let value = request.singleValue(for: key) {
                    let text = caseInsensitive ? value.lowercased() : value
                    consumed = Self.consume(text.utf8.lazy.map(UInt16.init), from: subject, at: position)
                } else if let fallback {
                    consumed = Self.consume(fallback.lazy.map(UInt16.init), from: subject, at: position)
                } else {
                    return false
                }
                guard let consumed else { return false }
                position = consumed
            }
        }
        return position == subject.count
    }

    /// Whether the template matches `subject` (an array of UTF-8 bytes); see the buffer variant.
    @inline(__always)
    package func matches(_ subject: [UInt8], in request: RequestContext) -> Bool {
        if let fixed { return fixed.matches(subject) }
        return subject.withUnsafeBufferPointer { matches($0, in: request) }
    }

    /// The units with variables replaced by their values as literal bytes, or nil when a
    /// variable has no value and no default.
    package func resolvedUnits(in request: RequestContext) -> [UInt16]? {
        var units: [UInt16] = []
        return appendResolved(from: 0, to: &units, in: request) ? units : nil
    }

    private func appendResolved(from start: Int, to units: inout [UInt16], in request: RequestContext) -> Bool {
        for index in start..<parts.count {
            switch parts[index] {
            case .units(let literal, _):
                units.append(contentsOf: literal)
            case .variable(let key, let fallback):
                if let value = request.singleValue(for: key) {
                    let text = caseInsensitive ? value.lowercased() : value
                    units.append(contentsOf: text.utf8.lazy.map(UInt16.init))
                } else if let fallback {
                    units.append(contentsOf: fallback.lazy.map(UInt16.init))
                } else {
                    return false
                }
            }
        }
        return true
    }

    /// The position after `literal` when `subject` holds it at `position`, else nil.
    @inline(__always)
    private static func consume(
        _ literal: some Collection<UInt16>, from subject: UnsafeBufferPointer<UInt8>, at position: Int
    ) -> Int? {
        var index = position
        for unit in literal {
            guard index < subject.count, unit == UInt16(subject[index]) else { return nil }
            index += 1
        }
        return index
    }
}

extension Substring {
    /// The substring without leading and trailing spaces (U+0020 only).
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }
}
