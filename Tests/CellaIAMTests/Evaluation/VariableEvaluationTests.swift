import CellaIAM
import Testing

/// Policy variables in resources and string/ARN conditions: substitution, literal values,
/// defaults, escapes, and what an unresolvable variable does.
@Suite struct VariableEvaluationTests {
    static let owner = "cella:FunctionTag/owner"

    static func resource(_ pattern: String) -> [String] {
        [doc(allow(resource: #""\#(pattern)""#))]
    }

    static let cases: [EvaluationCase] = [
        .init("tenant variable", resource("crn:cella:${cella:TenantId}:function:*"), req(), .allowed),
        .init("principal-name prefix", resource("crn:cella:acme:function:${cella:PrincipalName}-*"), req(.invokeFunction, fn("alice-fn")), .allowed),
        .init("another principal's prefix", resource("crn:cella:acme:function:${cella:PrincipalName}-*"), req(.invokeFunction, fn("bob-fn")), .implicitDeny),
        .init("variable names ignore case", resource("crn:cella:acme:function:${CELLA:principalname}-*"), req(.invokeFunction, fn("alice-fn")), .allowed),
        .init("a value's * is literal", resource("crn:cella:acme:function:${cella:PrincipalName}"),
              req(.invokeFunction, fn("abc"), principal: "a*"), .implicitDeny),
        .init("a value's * matches itself", resource("crn:cella:acme:function:${cella:PrincipalName}"),
              req(.invokeFunction, fn("a*"), principal: "a*"), .allowed),
        .init("a missing variable matches nothing", resource("crn:cella:acme:function:${cella:PrincipalTag/home}"), req(), .implicitDeny),
        .init("a missing variable leaves the other resources",
              [doc(allow(resource: #"["crn:cella:acme:function:${cella:PrincipalTag/home}","crn:cella:acme:function:f"]"#))], req(), .allowed),
        .init("a tag variable", resource("crn:cella:acme:function:${cella:PrincipalTag/home}"), req(["cella:PrincipalTag/home": ["f"]]), .allowed),
        .init("a multi-valued key does not resolve", resource("crn:cella:acme:function:${cella:TagKeys}"), req(["cella:TagKeys": ["f", "g"]]), .implicitDeny),
        .init("a default value when missing", resource("crn:cella:acme:function:${cella:PrincipalTag/home, 'shared'}"),
              req(.invokeFunction, fn("shared")), .allowed),
        .init("no default when present", resource("crn:cella:acme:function:${cella:PrincipalTag/home, 'shared'}"),
              Request(resource: fn("shared"), values: ["cella:PrincipalTag/home": ["alpha"]]), .implicitDeny),
        .init("${*} is a literal *", allowIf(#"{"StringLike":{"cella:FunctionTag/owner":"a${*}"}}"#), req([owner: ["a*"]]), .allowed),
        .init("${*} is not a wildcard", allowIf(#"{"StringLike":{"cella:FunctionTag/owner":"a${*}"}}"#), req([owner: ["ab"]]), .implicitDeny),
        .init("${?} is a literal ?", allowIf(#"{"StringLike":{"cella:FunctionTag/owner":"a${?}"}}"#), req([owner: ["a?"]]), .allowed),
        .init("${?} is not a wildcard", allowIf(#"{"StringLike":{"cella:FunctionTag/owner":"a${?}"}}"#), req([owner: ["ax"]]), .implicitDeny),
        .init("escapes next to wildcards", allowIf(#"{"StringLike":{"cella:FunctionTag/owner":"${*}*${$}"}}"#), req([owner: ["*abc$"]]), .allowed),
        .init("${$} is a literal $", resource("crn:cella:acme:function:f:${$}LATEST"), req(.invokeFunction, fn("f:$LATEST")), .allowed),
        .init("NotResource with a missing variable excludes nothing",
              [doc(allow(resource: nil, notResource: #""crn:cella:acme:function:${cella:PrincipalTag/home}""#))], req(), .allowed),
        .init("variable in StringEquals", allowIf(#"{"StringEquals":{"cella:FunctionTag/owner":"${cella:PrincipalName}"}}"#), req([owner: ["alice"]]), .allowed),
        .init("variable in StringEquals, other owner", allowIf(#"{"StringEquals":{"cella:FunctionTag/owner":"${cella:PrincipalName}"}}"#), req([owner: ["bob"]]), .implicitDeny),
        .init("variable in StringLike", allowIf(#"{"StringLike":{"cella:FunctionTag/owner":"${cella:PrincipalName}-*"}}"#), req([owner: ["alice-1"]]), .allowed),
        .init("variable in StringEqualsIgnoreCase",
              allowIf(#"{"StringEqualsIgnoreCase":{"cella:FunctionTag/owner":"${cella:PrincipalName}"}}"#),
              req(.invokeFunction, fn("f"), [owner: ["ALICE"]], principal: "Alice"), .allowed),
        .init("a missing variable in StringNotEquals matches nothing, so it holds",
              allowIf(#"{"StringNotEquals":{"cella:FunctionTag/owner":"${cella:PrincipalTag/x}"}}"#), req([owner: ["alice"]]), .allowed),
        .init("a missing variable in StringEquals fails",
              allowIf(#"{"StringEquals":{"cella:FunctionTag/owner":"${cella:PrincipalTag/x}"}}"#), req([owner: ["alice"]]), .implicitDeny),
        .init("variable in ArnLike", allowIf(#"{"ArnLike":{"cella:PrincipalCrn":"crn:cella:${cella:TenantId}:principal:*"}}"#), req(), .allowed),
        .init("variable in ArnEquals, other tenant",
              allowIf(#"{"ArnEquals":{"cella:FunctionTag/owner":"crn:cella:${cella:TenantId}:principal:alice"}}"#),
              req([owner: ["crn:cella:other:principal:alice"]]), .implicitDeny),
        .init("$ without a brace is literal", resource("crn:cella:acme:function:f:$LATEST"), req(.invokeFunction, fn("f:$LATEST")), .allowed),
        .init("a 2008-10-17 policy without variables",
              [doc(allow(resource: #""crn:cella:acme:function:f""#), version: "2008-10-17")], req(), .allowed),
    ]

    @Test(arguments: cases)
    func evaluate(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }
}
