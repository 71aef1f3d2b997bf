import CellaIAM
import Testing

/// String operators: values OR, keys and operators AND, key case, value case, missing keys.
@Suite struct StringConditionEvaluationTests {
    static let type = "cella:InvocationType"

    static let cases: [EvaluationCase] = [
        .init("StringEquals matches", allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"}}"#), req([type: ["Event"]]), .allowed),
        .init("StringEquals other value", allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"}}"#), req([type: ["RequestResponse"]]), .implicitDeny),
        .init("StringEquals missing key", allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"}}"#), req([:]), .implicitDeny),
        .init("StringEquals values are case-sensitive", allowIf(#"{"StringEquals":{"cella:InvocationType":"event"}}"#), req([type: ["Event"]]), .implicitDeny),
        .init("condition keys ignore case", allowIf(#"{"StringEquals":{"CELLA:invocationtype":"Event"}}"#), req([type: ["Event"]]), .allowed),
        .init("request keys ignore case", allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"}}"#), req(["CELLA:INVOCATIONTYPE": ["Event"]]), .allowed),
        .init("listed values are ORed", allowIf(#"{"StringEquals":{"cella:InvocationType":["Event","DryRun"]}}"#), req([type: ["DryRun"]]), .allowed),
        .init("StringEquals * is literal", allowIf(#"{"StringEquals":{"cella:InvocationType":"E*"}}"#), req([type: ["Event"]]), .implicitDeny),
        .init("StringEquals * matches a literal *", allowIf(#"{"StringEquals":{"cella:InvocationType":"E*"}}"#), req([type: ["E*"]]), .allowed),
        .init("StringNotEquals other value", allowIf(#"{"StringNotEquals":{"cella:InvocationType":"Event"}}"#), req([type: ["RequestResponse"]]), .allowed),
        .init("StringNotEquals same value", allowIf(#"{"StringNotEquals":{"cella:InvocationType":"Event"}}"#), req([type: ["Event"]]), .implicitDeny),
        .init("StringNotEquals missing key holds", allowIf(#"{"StringNotEquals":{"cella:InvocationType":"Event"}}"#), req([:]), .allowed),
        .init("StringNotEquals any listed value fails it", allowIf(#"{"StringNotEquals":{"cella:InvocationType":["Event","DryRun"]}}"#), req([type: ["DryRun"]]), .implicitDeny),
        .init("StringEqualsIgnoreCase", allowIf(#"{"StringEqualsIgnoreCase":{"cella:InvocationType":"event"}}"#), req([type: ["EVENT"]]), .allowed),
        .init("StringEqualsIgnoreCase other value", allowIf(#"{"StringEqualsIgnoreCase":{"cella:InvocationType":"event"}}"#), req([type: ["DryRun"]]), .implicitDeny),
        .init("StringEqualsIgnoreCase missing key", allowIf(#"{"StringEqualsIgnoreCase":{"cella:InvocationType":"event"}}"#), req([:]), .implicitDeny),
        .init("StringNotEqualsIgnoreCase same value", allowIf(#"{"StringNotEqualsIgnoreCase":{"cella:InvocationType":"event"}}"#), req([type: ["Event"]]), .implicitDeny),
        .init("StringNotEqualsIgnoreCase other value", allowIf(#"{"StringNotEqualsIgnoreCase":{"cella:InvocationType":"event"}}"#), req([type: ["DryRun"]]), .allowed),
        .init("StringNotEqualsIgnoreCase missing key holds", allowIf(#"{"StringNotEqualsIgnoreCase":{"cella:InvocationType":"event"}}"#), req([:]), .allowed),
        .init("StringLike *", allowIf(#"{"StringLike":{"cella:InvocationType":"Req*"}}"#), req([type: ["RequestResponse"]]), .allowed),
        .init("StringLike * no match", allowIf(#"{"StringLike":{"cella:InvocationType":"Req*"}}"#), req([type: ["Event"]]), .implicitDeny),
        .init("StringLike ?", allowIf(#"{"StringLike":{"cella:InvocationType":"?vent"}}"#), req([type: ["Event"]]), .allowed),
        .init("StringLike is case-sensitive", allowIf(#"{"StringLike":{"cella:InvocationType":"req*"}}"#), req([type: ["RequestResponse"]]), .implicitDeny),
        .init("StringLike missing key", allowIf(#"{"StringLike":{"cella:InvocationType":"*"}}"#), req([:]), .implicitDeny),
        .init("StringNotLike matching value", allowIf(#"{"StringNotLike":{"cella:InvocationType":"Dry*"}}"#), req([type: ["DryRun"]]), .implicitDeny),
        .init("StringNotLike other value", allowIf(#"{"StringNotLike":{"cella:InvocationType":"Dry*"}}"#), req([type: ["Event"]]), .allowed),
        .init("StringNotLike missing key holds", allowIf(#"{"StringNotLike":{"cella:InvocationType":"Dry*"}}"#), req([:]), .allowed),
        .init("keys are ANDed: both hold",
              allowIf(#"{"StringEquals":{"cella:InvocationType":"Event","cella:PrincipalTag/team":"red"}}"#),
              req([type: ["Event"], "cella:PrincipalTag/team": ["red"]]), .allowed),
        .init("keys are ANDed: one fails",
              allowIf(#"{"StringEquals":{"cella:InvocationType":"Event","cella:PrincipalTag/team":"red"}}"#),
              req([type: ["Event"], "cella:PrincipalTag/team": ["blue"]]), .implicitDeny),
        .init("operators are ANDed: both hold",
              allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"},"StringLike":{"cella:FunctionTag/env":"prod*"}}"#),
              req([type: ["Event"], "cella:FunctionTag/env": ["prod-eu"]]), .allowed),
        .init("operators are ANDed: one fails",
              allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"},"StringLike":{"cella:FunctionTag/env":"prod*"}}"#),
              req([type: ["Event"], "cella:FunctionTag/env": ["dev"]]), .implicitDeny),
        .init("tag keys ignore case", allowIf(#"{"StringEquals":{"cella:PrincipalTag/Team":"red"}}"#), req(["cella:principaltag/team": ["red"]]), .allowed),
        .init("a plain operator matches any request value", allowIf(#"{"StringLike":{"cella:TagKeys":"o*"}}"#), req(["cella:TagKeys": ["env", "owner"]]), .allowed),
        .init("a plain negated operator fails on any matching value", allowIf(#"{"StringNotEquals":{"cella:TagKeys":"env"}}"#), req(["cella:TagKeys": ["env", "owner"]]), .implicitDeny),
        .init("a number compared as text", allowIf(#"{"StringEquals":{"cella:PrincipalTag/level":3}}"#), req(["cella:PrincipalTag/level": ["3"]]), .allowed),
        .init("a boolean compared as text", allowIf(#"{"StringEquals":{"cella:SecureTransport":true}}"#), req(["cella:SecureTransport": ["true"]]), .allowed),
        .init("principal keys are filled in", allowIf(#"{"StringEquals":{"cella:PrincipalName":"alice","cella:TenantId":"acme"}}"#), req(), .allowed),
        .init("principal keys cannot be overridden", allowIf(#"{"StringEquals":{"cella:PrincipalName":"root"}}"#), req(["cella:PrincipalName": ["root"]]), .implicitDeny),
    ]

    @Test(arguments: cases)
    func evaluate(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }
}
