/// One `operator: {key: values}` pair of a `Condition` block, with its values already parsed for
/// the operator (CIDRs, dates, numbers, patterns).
///
/// Semantics (PROTOCOLS.md §4, IAM's documented rules):
/// - a request value *matches* when it matches any of the policy's values (OR);
/// - plain operators hold when some request value matches; negated ones when none does;
/// - `ForAnyValue:` holds when some request value satisfies the operator, `ForAllValues:` when
///   every one does (a negated operator is satisfied by a value that matches none);
/// - a missing key (absent, or no values): `Null` reads it; `...IfExists` holds; then
///   `ForAllValues:` holds and `ForAnyValue:` does not; otherwise negated operators hold and the
///   rest do not.
///
/// A class, like ``CompiledStatement``, so that evaluation reads it without copying its fields.
package final class CompiledCondition: Sendable {
    package let conditionOperator: ConditionOperator
    package let key: ConditionKey.Reference
    package let test: ConditionTest

    package init(conditionOperator: ConditionOperator, key: ConditionKey.Reference, test: ConditionTest) {
        self.conditionOperator = conditionOperator
        self.key = key
        self.test = test
    }

    package func holds(in request: RequestContext) -> Bool {
        let values = request.values(for: key)
        if case .null(let expectations) = test {
            return expectations.contains(values == nil)
        }
        let negated = conditionOperator.base.isNegated
        guard let values else {
            if conditionOperator.ifExists { return true }
            switch conditionOperator.setQualifier {
            case .forAllValues: return true
            case .forAnyValue: return false
            case nil: return negated
            }
        }
        let indices = values.texts.indices
        switch conditionOperator.setQualifier {
        case nil:
            let anyMatch = indices.contains { test.matches(values, at: $0, in: request) }
            return anyMatch != negated
        case .forAnyValue:
            return indices.contains { test.matches(values, at: $0, in: request) != negated }
        case .forAllValues:
            return indices.allSatisfy { test.matches(values, at: $0, in: request) != negated }
        }
    }
}

/// The comparison of numeric and date operators: request value `<op>` policy value.
package enum Comparison: Sendable {
    case equals, lessThan, lessThanEquals, greaterThan, greaterThanEquals

    func compare(_ requestValue: Double, _ policyValue: Double) -> Bool {
        switch self {
        case .equals: requestValue == policyValue
        case .lessThan: requestValue < policyValue
        case .lessThanEquals: requestValue <= policyValue
        case .greaterThan: requestValue > policyValue
        case .greaterThanEquals: requestValue >= policyValue
        }
    }
}

/// An operator family's positive test with its parsed policy values.
package enum ConditionTest: Sendable {
    /// `StringEquals` (exact bytes), `StringEqualsIgnoreCase` (templates lowercased) and
    /// `StringLike` (wildcards) and their negations.
    case string(ignoreCase: Bool, [PolicyTemplate])
    case numeric(Comparison, [Double])
    case date(Comparison, [Double])
    case bool([Bool])
    /// Policy values are base64; the request value's UTF-8 bytes are compared with them.
    case binary([[UInt8]])
    case ip([IPAddressRange])
    /// Templates and, when they have no variables, their precompiled component matchers.
    case arn([(template: PolicyTemplate, fixed: ArnPattern?)])
    /// `true`: the key must be missing; `false`: it must be present.
    case null([Bool])

    /// Whether the request value at `index` matches any of the policy values. A request value
    /// the operator cannot read (not a number, not an address) matches nothing.
    package func matches(_ values: ContextValues, at index: Int, in request: RequestContext) -> Bool {
        let value = values.texts[index]
        switch self {
        case .string(let ignoreCase, let templates):
            var subject = ignoreCase ? value.lowercased() : value
            return subject.withUTF8 { bytes in
                templates.contains { $0.matches(bytes, in: request) }
            }
        case .numeric(let comparison, let numbers):
            guard let number = Double(value), number.isFinite else { return false }
            return numbers.contains { comparison.compare(number, $0) }
        case .date(let comparison, let dates):
            guard let date = values.date(at: index) else { return false }
            return dates.contains { comparison.compare(date, $0) }
        case .bool(let booleans):
            let lowered = value.lowercased()
            guard lowered == "true" || lowered == "false" else { return false }
            return booleans.contains(lowered == "true")
        case .binary(let blobs):
            return blobs.contains { $0.elementsEqual(value.utf8) }
        case .ip(let ranges):
            guard let address = values.address(at: index) else { return false }
            return ranges.contains { $0.contains(address) }
        case .arn(let patterns):
            return patterns.contains { pattern in
                if let fixed = pattern.fixed { return fixed.matches(value) }
                guard let units = pattern.template.resolvedUnits(in: request) else { return false }
                return ArnPattern(units: units).matches(value)
            }
        case .null:
            return false  // handled by CompiledCondition.holds
        }
    }
}
