import Foundation

/// The `Condition` block: operators, keys and values, each value parsed for its operator.
extension PolicyParser {
    func parseCondition(_ value: JSONValue, path: JSONPath) throws(IAMError) -> [CompiledCondition] {
        guard case .object(let operators) = value else {
            throw IAMError(.invalidType, path: path.description, "Condition must be an object, got \(value.typeName)")
        }
        var conditions: [CompiledCondition] = []
        for entry in operators {
            let operatorPath = path.appending(key: entry.key)
            guard let conditionOperator = ConditionOperator(entry.key) else {
                throw IAMError(.unknownOperator, path: operatorPath.description,
                               "unknown condition operator \"\(entry.key)\"")
            }
            guard case .object(let keys) = entry.value, !keys.isEmpty else {
                throw IAMError(.invalidType, path: operatorPath.description,
                               "\(entry.key) must be a non-empty object of condition keys")
            }
            var seenKeys: Set<String> = []
            for keyEntry in keys {
                let keyPath = operatorPath.appending(key: keyEntry.key)
                guard ConditionKey.isKnown(keyEntry.key) else {
                    throw IAMError(.unknownConditionKey, path: keyPath.description,
                                   "unknown condition key \"\(keyEntry.key)\"")
                }
                let reference = ConditionKey.Reference(keyEntry.key)
                guard seenKeys.insert(reference.lowercased).inserted else {
                    throw IAMError(.duplicateKey, path: keyPath.description,
                                   "condition key \"\(keyEntry.key)\" appears twice (keys ignore case)")
                }
                let scalars = try Self.scalars(keyEntry.value, path: keyPath)
                let test = try makeTest(conditionOperator.base, scalars)
                conditions.append(CompiledCondition(conditionOperator: conditionOperator, key: reference, test: test))
            }
        }
        return conditions
    }

    /// A scalar or a non-empty array of scalars, as text, with each one's path. Numbers keep
    /// their JSON text; booleans become `true`/`false`.
    private static func scalars(_ value: JSONValue, path: JSONPath) throws(IAMError) -> [(Scalar, JSONPath)] {
        if case .array(let items) = value {
            guard !items.isEmpty else {
                throw IAMError(.invalidType, path: path.description, "a condition needs at least one value")
            }
            var result: [(Scalar, JSONPath)] = []
            for (index, item) in items.enumerated() {
                result.append((try scalar(item, path: path.appending(index: index)), path.appending(index: index)))
            }
            return result
        }
        return [(try scalar(value, path: path), path)]
    }

    private static func scalar(_ value: JSONValue, path: JSONPath) throws(IAMError) -> Scalar {
        switch value {
        case .string(let text): return Scalar(text: text, kind: .string)
        case .number(let text): return Scalar(text: text, kind: .number)
        case .bool(let flag): return Scalar(text: flag ? "true" : "false", kind: .bool)
        default:
            throw IAMError(.invalidType, path: path.description,
                           "a condition value must be a string, number or boolean, got \(value.typeName)")
        }
    }

    private func makeTest(_ base: ConditionOperator.Base, _ values: [(Scalar, JSONPath)]) throws(IAMError) -> ConditionTest {
        switch base {
        case .stringEquals, .stringNotEquals:
            return .string(ignoreCase: false, try templates(values, wildcards: false, ignoreCase: false))
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            return .string(ignoreCase: true, try templates(values, wildcards: false, ignoreCase: true))
        case .stringLike, .stringNotLike:
            return .string(ignoreCase: false, try templates(values, wildcards: true, ignoreCase: false))
        case .numericEquals, .numericNotEquals: return .numeric(.equals, try numbers(values))
        case .numericLessThan: return .numeric(.lessThan, try numbers(values))
        case .numericLessThanEquals: return .numeric(.lessThanEquals, try numbers(values))
        case .numericGreaterThan: return .numeric(.greaterThan, try numbers(values))
        case .numericGreaterThanEquals: return .numeric(.greaterThanEquals, try numbers(values))
        case .dateEquals, .dateNotEquals: return .date(.equals, try dates(values))
        case .dateLessThan: return .date(.lessThan, try dates(values))
        case .dateLessThanEquals: return .date(.lessThanEquals, try dates(values))
        case .dateGreaterThan: return .date(.greaterThan, try dates(values))
        case .dateGreaterThanEquals: return .date(.greaterThanEquals, try dates(values))
        case .bool: return .bool(try booleans(values, operatorName: "Bool"))
        case .null: return .null(try booleans(values, operatorName: "Null"))
        case .binaryEquals:
            var blobs: [[UInt8]] = []
            for (value, path) in values {
                guard value.kind == .string, let data = Data(base64Encoded: value.text) else {
                    throw IAMError(.invalidConditionValue, path: path.description, "BinaryEquals takes base64 text")
                }
                blobs.append(Array(data))
            }
            return .binary(blobs)
        case .ipAddress, .notIpAddress:
            var ranges: [IPAddressRange] = []
            for (value, path) in values {
                guard value.kind == .string, let range = IPAddressRange(value.text) else {
                    throw IAMError(.invalidConditionValue, path: path.description,
                                   "\"\(value.text)\" is not an IPv4 or IPv6 address or CIDR block")
                }
                ranges.append(range)
            }
            return .ip(ranges)
        case .arnEquals, .arnLike, .arnNotEquals, .arnNotLike:
            var patterns: [(template: PolicyTemplate, fixed: ArnPattern?)] = []
            for (value, path) in values {
                let template = try PolicyTemplate(parsing: value.text, wildcards: true,
                                                  variables: version.allowsVariables, path: path)
                patterns.append((template, template.fixedUnits.map(ArnPattern.init(units:))))
            }
            return .arn(patterns)
        }
    }

    private func templates(_ values: [(Scalar, JSONPath)], wildcards: Bool, ignoreCase: Bool) throws(IAMError) -> [PolicyTemplate] {
        var templates: [PolicyTemplate] = []
        for (value, path) in values {
            templates.append(try PolicyTemplate(parsing: value.text, wildcards: wildcards,
                                                variables: version.allowsVariables,
                                                caseInsensitive: ignoreCase, path: path))
        }
        return templates
    }

    /// Decimal numbers as JSON writes them, from JSON numbers or strings (`"10"`, `"-2.5"`).
    private func numbers(_ values: [(Scalar, JSONPath)]) throws(IAMError) -> [Double] {
        var numbers: [Double] = []
        for (value, path) in values {
            guard value.kind != .bool, Self.isDecimal(value.text), let number = Double(value.text), number.isFinite else {
                throw IAMError(.invalidConditionValue, path: path.description, "\"\(value.text)\" is not a number")
            }
            numbers.append(number)
        }
        return numbers
    }

    private func dates(_ values: [(Scalar, JSONPath)]) throws(IAMError) -> [Double] {
        var dates: [Double] = []
        for (value, path) in values {
            guard value.kind != .bool, let date = PolicyDate.parse(value.text) else {
                throw IAMError(.invalidConditionValue, path: path.description,
                               "\"\(value.text)\" is not an ISO 8601 date or epoch seconds")
            }
            dates.append(date)
        }
        return dates
    }

    private func booleans(_ values: [(Scalar, JSONPath)], operatorName: String) throws(IAMError) -> [Bool] {
        var booleans: [Bool] = []
        for (value, path) in values {
            switch value.text.lowercased() {
            case "true" where value.kind != .number: booleans.append(true)
            case "false" where value.kind != .number: booleans.append(false)
            default:
                throw IAMError(.invalidConditionValue, path: path.description,
                               "\(operatorName) takes true or false, got \"\(value.text)\"")
            }
        }
        return booleans
    }

    /// `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`; rejects what `Double.init` would also take
    /// (`inf`, `nan`, `0x1p3`).
    private static func isDecimal(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Bool {
            let count = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
            bytes = bytes.dropFirst(count)
            return count > 0
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        guard digits() else { return false }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() else { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits() else { return false }
        }
        return bytes.isEmpty
    }
}

/// A condition value as written: its text and its JSON type.
struct Scalar {
    enum Kind { case string, number, bool }
    let text: String
    let kind: Kind
}
