import CellaIAM
import Testing

/// `...IfExists`, `ForAnyValue:` and `ForAllValues:`, with present, missing and empty keys.
@Suite struct IfExistsSetEvaluationTests {
    static let type = "cella:InvocationType"
    static let tags = "cella:TagKeys"

    static let ifExistsCases: [EvaluationCase] = [
        .init("StringEqualsIfExists missing key holds", allowIf(#"{"StringEqualsIfExists":{"cella:InvocationType":"Event"}}"#), req([:]), .allowed),
        .init("StringEqualsIfExists present and equal", allowIf(#"{"StringEqualsIfExists":{"cella:InvocationType":"Event"}}"#), req([type: ["Event"]]), .allowed),
        .init("StringEqualsIfExists present and different", allowIf(#"{"StringEqualsIfExists":{"cella:InvocationType":"Event"}}"#), req([type: ["DryRun"]]), .implicitDeny),
        .init("StringNotEqualsIfExists present and equal", allowIf(#"{"StringNotEqualsIfExists":{"cella:InvocationType":"Event"}}"#), req([type: ["Event"]]), .implicitDeny),
        .init("NumericLessThanIfExists missing key holds", allowIf(#"{"NumericLessThanIfExists":{"cella:PrincipalTag/level":3}}"#), req([:]), .allowed),
        .init("NumericLessThanIfExists present above", allowIf(#"{"NumericLessThanIfExists":{"cella:PrincipalTag/level":3}}"#), req(["cella:PrincipalTag/level": ["4"]]), .implicitDeny),
        .init("IpAddressIfExists present outside", allowIf(#"{"IpAddressIfExists":{"cella:SourceIp":"10.0.0.0/8"}}"#), req(["cella:SourceIp": ["8.8.8.8"]]), .implicitDeny),
        .init("IpAddressIfExists missing key holds", allowIf(#"{"IpAddressIfExists":{"cella:SourceIp":"10.0.0.0/8"}}"#), req([:]), .allowed),
        .init("DateLessThanIfExists missing key holds", allowIf(#"{"DateLessThanIfExists":{"cella:CurrentTime":"2030-01-01"}}"#), req([:]), .allowed),
        .init("ArnLikeIfExists present and different", allowIf(#"{"ArnLikeIfExists":{"cella:PrincipalCrn":"crn:cella:acme:principal:bob"}}"#), req(), .implicitDeny),
        .init("IfExists does not excuse another key",
              allowIf(#"{"StringEqualsIfExists":{"cella:InvocationType":"Event"},"StringEquals":{"cella:PrincipalTag/team":"red"}}"#),
              req([:]), .implicitDeny),
    ]

    static let setCases: [EvaluationCase] = [
        .init("ForAnyValue one value matches", allowIf(#"{"ForAnyValue:StringEquals":{"cella:TagKeys":"env"}}"#), req([tags: ["env", "owner"]]), .allowed),
        .init("ForAnyValue no value matches", allowIf(#"{"ForAnyValue:StringEquals":{"cella:TagKeys":"env"}}"#), req([tags: ["owner"]]), .implicitDeny),
        .init("ForAnyValue missing key is false", allowIf(#"{"ForAnyValue:StringEquals":{"cella:TagKeys":"env"}}"#), req([:]), .implicitDeny),
        .init("ForAnyValue empty set is false", allowIf(#"{"ForAnyValue:StringEquals":{"cella:TagKeys":"env"}}"#), req([tags: []]), .implicitDeny),
        .init("ForAllValues every value listed", allowIf(#"{"ForAllValues:StringEquals":{"cella:TagKeys":["env","owner"]}}"#), req([tags: ["env"]]), .allowed),
        .init("ForAllValues one value not listed", allowIf(#"{"ForAllValues:StringEquals":{"cella:TagKeys":["env","owner"]}}"#), req([tags: ["env", "cost"]]), .implicitDeny),
        .init("ForAllValues missing key is true", allowIf(#"{"ForAllValues:StringEquals":{"cella:TagKeys":["env"]}}"#), req([:]), .allowed),
        .init("ForAllValues empty set is true", allowIf(#"{"ForAllValues:StringEquals":{"cella:TagKeys":["env"]}}"#), req([tags: []]), .allowed),
        .init("ForAllValues:StringLike", allowIf(#"{"ForAllValues:StringLike":{"cella:TagKeys":"team-*"}}"#), req([tags: ["team-a", "team-b"]]), .allowed),
        .init("ForAllValues:StringLike one outlier", allowIf(#"{"ForAllValues:StringLike":{"cella:TagKeys":"team-*"}}"#), req([tags: ["team-a", "cost"]]), .implicitDeny),
        .init("ForAnyValue:StringNotEquals some value differs", allowIf(#"{"ForAnyValue:StringNotEquals":{"cella:TagKeys":"env"}}"#), req([tags: ["env", "owner"]]), .allowed),
        .init("ForAnyValue:StringNotEquals every value equal", allowIf(#"{"ForAnyValue:StringNotEquals":{"cella:TagKeys":"env"}}"#), req([tags: ["env"]]), .implicitDeny),
        .init("ForAnyValue:StringNotEquals missing key is false", allowIf(#"{"ForAnyValue:StringNotEquals":{"cella:TagKeys":"env"}}"#), req([:]), .implicitDeny),
        .init("ForAllValues:StringNotEquals none listed", allowIf(#"{"ForAllValues:StringNotEquals":{"cella:TagKeys":"secret"}}"#), req([tags: ["env", "owner"]]), .allowed),
        .init("ForAllValues:StringNotEquals one listed", allowIf(#"{"ForAllValues:StringNotEquals":{"cella:TagKeys":"secret"}}"#), req([tags: ["env", "secret"]]), .implicitDeny),
        .init("ForAllValues:StringNotLike missing key is true", allowIf(#"{"ForAllValues:StringNotLike":{"cella:TagKeys":"x*"}}"#), req([:]), .allowed),
        .init("ForAllValues:StringEqualsIgnoreCase", allowIf(#"{"ForAllValues:StringEqualsIgnoreCase":{"cella:TagKeys":"ENV"}}"#), req([tags: ["env", "Env"]]), .allowed),
        .init("ForAnyValue:StringEqualsIfExists missing key holds", allowIf(#"{"ForAnyValue:StringEqualsIfExists":{"cella:TagKeys":"env"}}"#), req([:]), .allowed),
        .init("ForAllValues:NumericLessThan all below", allowIf(#"{"ForAllValues:NumericLessThan":{"cella:PrincipalTag/scores":10}}"#), req(["cella:PrincipalTag/scores": ["1", "5"]]), .allowed),
        .init("ForAllValues:NumericLessThan one above", allowIf(#"{"ForAllValues:NumericLessThan":{"cella:PrincipalTag/scores":10}}"#), req(["cella:PrincipalTag/scores": ["1", "50"]]), .implicitDeny),
        .init("ForAnyValue:IpAddress", allowIf(#"{"ForAnyValue:IpAddress":{"cella:SourceIp":"10.0.0.0/8"}}"#), req(["cella:SourceIp": ["8.8.8.8", "10.0.0.1"]]), .allowed),
        .init("a set operator on a single value", allowIf(#"{"ForAllValues:StringEquals":{"cella:InvocationType":["Event","DryRun"]}}"#), req([type: ["Event"]]), .allowed),
        .init("deny when any protected tag is set",
              [doc(deny(condition: #"{"ForAnyValue:StringEquals":{"cella:TagKeys":"protected"}}"#), allow())],
              req([tags: ["a", "protected"]]), .explicitDeny, sid: "D"),
        .init("no deny when no protected tag is set",
              [doc(deny(condition: #"{"ForAnyValue:StringEquals":{"cella:TagKeys":"protected"}}"#), allow())],
              req([tags: ["a"]]), .allowed, sid: "A"),
    ]

    @Test(arguments: ifExistsCases) func ifExists(_ testCase: EvaluationCase) throws { try testCase.check() }
    @Test(arguments: setCases) func setOperators(_ testCase: EvaluationCase) throws { try testCase.check() }
}
