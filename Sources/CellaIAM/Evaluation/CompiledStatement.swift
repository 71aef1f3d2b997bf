/// `Allow` or `Deny`.
public enum Effect: String, Sendable, Hashable {
    case allow = "Allow"
    case deny = "Deny"
}

/// One statement of a compiled policy: matchers built once, evaluated per request.
///
/// A class, not a struct: evaluation walks hundreds of statements per request, and reading a
/// struct with six array fields out of an array retains and releases every field.
public final class CompiledStatement: Sendable {
    /// The statement's zero-based position in its policy.
    public let index: Int
    public let sid: String?
    public let effect: Effect
    /// Bit `n` is set when the statement's `Action` (or `NotAction`) element applies to the
    /// operation whose ``Action/ordinal`` is `n`. The catalogue of operations is closed, so the
    /// wildcard patterns are matched against every operation's names once, when the policy is
    /// compiled, and evaluation tests one bit.
    package let actionMask: UInt64
    /// `Resource` patterns (or `NotResource` ones when ``resourcesNegated``).
    package let resources: [PolicyTemplate]
    package let resourcesNegated: Bool
    /// All must hold (AND); each holds when any of its values matches (OR).
    package let conditions: [CompiledCondition]

    package init(
        index: Int, sid: String?, effect: Effect,
        actionMask: UInt64,
        resources: [PolicyTemplate], resourcesNegated: Bool,
        conditions: [CompiledCondition]
    ) {
        self.index = index
        self.sid = sid
        self.effect = effect
        self.actionMask = actionMask
        self.resources = resources
        self.resourcesNegated = resourcesNegated
        self.conditions = conditions
    }

    /// The mask for `patterns` (lowercased): an operation is matched when any pattern matches
    /// any of its names (`cella:` or `lambda:`); `NotAction` applies to the operations none
    /// matches.
    package static func actionMask(patterns: [WildcardPattern], negated: Bool) -> UInt64 {
        var mask: UInt64 = 0
        for action in Action.all where patterns.contains(where: action.isMatched(by:)) != negated {
            mask |= 1 << UInt64(action.ordinal)
        }
        return mask
    }

    /// A pattern whose variable cannot be resolved matches no resource, in `Resource` and in
    /// `NotResource` alike (so there it excludes nothing).
    package func matchesResource(_ request: RequestContext) -> Bool {
        var hit = false
        for index in resources.indices where resources[index].matches(request.resourceBytes, in: request) {
            hit = true
            break
        }
        return hit != resourcesNegated
    }

    package func conditionsHold(in request: RequestContext) -> Bool {
        for index in conditions.indices where !conditions[index].holds(in: request) {
            return false
        }
        return true
    }
}
