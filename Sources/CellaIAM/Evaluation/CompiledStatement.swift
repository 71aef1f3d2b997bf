/// `Allow` or `Deny`.
public enum Effect: String, Sendable, Hashable {
    case allow = "Allow"
    case deny = "Deny"
}

/// One statement of a compiled policy: matchers built once, evaluated per request.
public struct CompiledStatement: Sendable {
    /// The statement's zero-based position in its policy.
    public let index: Int
    public let sid: String?
    public let effect: Effect
    /// `Action` patterns, lowercased (or `NotAction` ones when ``actionsNegated``).
    package let actions: [WildcardPattern]
    package let actionsNegated: Bool
    /// `Resource` patterns (or `NotResource` ones when ``resourcesNegated``).
    package let resources: [PolicyTemplate]
    package let resourcesNegated: Bool
    /// All must hold (AND); each holds when any of its values matches (OR).
    package let conditions: [CompiledCondition]

    /// Whether the statement applies to `request`: its action, its resource and every condition.
    @inline(__always)
    package func applies(to request: RequestContext) -> Bool {
        matchesAction(request.action) && matchesResource(request) && conditionsHold(in: request)
    }

    /// An action pattern matches the operation when it matches any of the operation's names
    /// (`cella:` or `lambda:`); `NotAction` applies when none of its patterns does.
    package func matchesAction(_ action: Action) -> Bool {
        var hit = false
        for pattern in actions where action.matchNames.contains(where: { pattern.matches($0) }) {
            hit = true
            break
        }
        return hit != actionsNegated
    }

    /// A pattern whose variable cannot be resolved matches no resource, in `Resource` and in
    /// `NotResource` alike (so there it excludes nothing).
    package func matchesResource(_ request: RequestContext) -> Bool {
        var hit = false
        for template in resources {
            if let fixed = template.fixed {
                if fixed.matches(request.resourceBytes) { hit = true; break }
            } else if let resolved = template.resolve(in: request), resolved.matches(request.resourceBytes) {
                hit = true
                break
            }
        }
        return hit != resourcesNegated
    }

    package func conditionsHold(in request: RequestContext) -> Bool {
        for condition in conditions where !condition.holds(in: request) {
            return false
        }
        return true
    }
}
