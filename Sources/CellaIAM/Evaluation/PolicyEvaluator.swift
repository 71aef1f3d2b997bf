/// Decides a request against the policies attached to its principal (its own and its groups').
///
/// IAM's order (PROTOCOLS.md §4): an applicable `Deny` anywhere wins; otherwise an applicable
/// `Allow` grants; otherwise the request is implicitly denied. Statements are read in order —
/// policies as given, statements as written — and the deciding statement reported is the first
/// applicable `Deny`, else the first applicable `Allow`. Once an `Allow` is found only `Deny`
/// statements are still examined, since no other `Allow` can change the result.
///
/// Each statement's action element is a precompiled bit per operation (see
/// ``CompiledStatement``), tested first from a plain array; only statements for the requested
/// operation go on to their resource patterns and conditions.
///
/// Before any policy, the tenant boundary: a resource that is a `crn:cella:` name of another
/// tenant is denied whatever the policies say, so `"Resource": "*"` never reaches across tenants.
public enum PolicyEvaluator {
    /// Evaluates `request`.
    /// - Parameters:
    ///   - request: The operation, resource, principal and condition values.
    ///   - policies: The compiled policies that apply to the principal.
    /// - Returns: The outcome and the deciding statement.
    public static func evaluate(_ request: RequestContext, policies: [CompiledPolicy]) -> Decision {
        if request.crossesTenantBoundary {
            return Decision(outcome: .implicitDeny, statement: nil, deniedAtTenantBoundary: true)
        }
        var allowing: StatementReference?
        let bit = UInt64(1) << UInt64(request.action.ordinal)
        for policy in policies {
            let masks = policy.actionMasks
            for index in masks.indices where masks[index] & bit != 0 {
                let statement = policy.statements[index]
                if statement.effect == .allow, allowing != nil { continue }
                guard statement.matchesResource(request), statement.conditionsHold(in: request) else { continue }
                let reference = StatementReference(policyId: policy.id, index: index, sid: statement.sid)
                if statement.effect == .deny {
                    return Decision(outcome: .explicitDeny, statement: reference)
                }
                allowing = reference
            }
        }
        if let allowing {
            return Decision(outcome: .allowed, statement: allowing)
        }
        return Decision(outcome: .implicitDeny, statement: nil)
    }
}
