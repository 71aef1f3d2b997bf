import CellaIAM
import Testing

/// One row of an evaluation table: policies, a request, and the outcome the documented rules
/// (PROTOCOLS.md §4) give — written from the rules, never from running the engine.
struct EvaluationCase: Sendable, CustomTestStringConvertible {
    let name: String
    let policies: [String]
    let request: Request
    let expected: Decision.Outcome
    /// The deciding statement's Sid, when the case pins it.
    let sid: String?
    /// The deciding statement's policy (`p0`, `p1`, ...), when the case pins it.
    let policy: String?

    var testDescription: String { name }

    init(_ name: String, _ policies: [String], _ request: Request, _ expected: Decision.Outcome,
         sid: String? = nil, policy: String? = nil) {
        self.name = name
        self.policies = policies
        self.request = request
        self.expected = expected
        self.sid = sid
        self.policy = policy
    }

    /// Compiles the policies as `p0`, `p1`, ... and checks the decision.
    func check() throws {
        let compiled = try policies.enumerated().map { try CompiledPolicy(id: "p\($0.offset)", document: $0.element) }
        let decision = PolicyEvaluator.evaluate(request.context, policies: compiled)
        #expect(decision.outcome == expected, "\(name): got \(decision)")
        if expected == .implicitDeny {
            #expect(decision.statement == nil)
        }
        if let sid {
            #expect(decision.statement?.sid == sid, "\(name): got \(decision)")
        }
        if let policy {
            #expect(decision.statement?.policyId == policy, "\(name): got \(decision)")
        }
    }
}

/// A request, in the tenant `acme` by principal `alice` unless said otherwise.
struct Request: Sendable {
    var action: Action = .invokeFunction
    var resource: String = fn("f")
    var tenant = "acme"
    var principal = "alice"
    var principalType: String?
    var values: [String: [String]] = [:]

    var context: RequestContext {
        RequestContext(action: action, resource: resource, tenantId: tenant, principalName: principal,
                       principalType: principalType, conditionValues: values)
    }
}

/// `crn:cella:acme:function:{name}`.
func fn(_ name: String, tenant: String = "acme") -> String { "crn:cella:\(tenant):function:\(name)" }

/// A request for `action` on `resource` with condition `values`.
func req(_ action: Action = .invokeFunction, _ resource: String = fn("f"),
         _ values: [String: [String]] = [:], principal: String = "alice", tenant: String = "acme") -> Request {
    Request(action: action, resource: resource, tenant: tenant, principal: principal, values: values)
}

/// A request for `cella:InvokeFunction` on function `f` with condition `values`.
func req(_ values: [String: [String]]) -> Request { req(.invokeFunction, fn("f"), values) }

/// `{"Version": version, "Statement": [statements]}`.
func doc(_ statements: String..., version: String = "2012-10-17") -> String {
    #"{"Version":"\#(version)","Statement":[\#(statements.joined(separator: ","))]}"#
}

/// A statement. `action`, `resource` and friends are JSON fragments (`"cella:*"` with quotes, or
/// an array); `condition` is the Condition object's JSON.
func stmt(_ effect: String, _ sid: String? = nil, action: String? = #""cella:InvokeFunction""#,
          notAction: String? = nil, resource: String? = #""*""#, notResource: String? = nil,
          condition: String? = nil) -> String {
    var members: [String] = []
    if let sid { members.append(#""Sid":"\#(sid)""#) }
    members.append(#""Effect":"\#(effect)""#)
    if let notAction { members.append(#""NotAction":\#(notAction)"#) } else if let action { members.append(#""Action":\#(action)"#) }
    if let notResource { members.append(#""NotResource":\#(notResource)"#) } else if let resource { members.append(#""Resource":\#(resource)"#) }
    if let condition { members.append(#""Condition":\#(condition)"#) }
    return "{" + members.joined(separator: ",") + "}"
}

func allow(_ sid: String? = "A", action: String? = #""cella:InvokeFunction""#, notAction: String? = nil,
           resource: String? = #""*""#, notResource: String? = nil, condition: String? = nil) -> String {
    stmt("Allow", sid, action: action, notAction: notAction, resource: resource, notResource: notResource, condition: condition)
}

func deny(_ sid: String? = "D", action: String? = #""cella:InvokeFunction""#, notAction: String? = nil,
          resource: String? = #""*""#, notResource: String? = nil, condition: String? = nil) -> String {
    stmt("Deny", sid, action: action, notAction: notAction, resource: resource, notResource: notResource, condition: condition)
}

/// One policy allowing `cella:InvokeFunction` on `*` when `condition` holds.
func allowIf(_ condition: String) -> [String] { [doc(allow(condition: condition))] }
