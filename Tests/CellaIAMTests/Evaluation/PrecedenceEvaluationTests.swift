import CellaIAM
import Testing

/// Explicit deny over allow over implicit deny, across statements and policies, and which
/// statement is reported.
@Suite struct PrecedenceEvaluationTests {
    static let cases: [EvaluationCase] = [
        .init("no policies", [], req(), .implicitDeny),
        .init("no applicable statement", [doc(allow(action: #""cella:GetLogs""#))], req(), .implicitDeny),
        .init("deny beats allow in one policy", [doc(allow(), deny())], req(), .explicitDeny, sid: "D"),
        .init("deny first beats allow after", [doc(deny(), allow())], req(), .explicitDeny, sid: "D"),
        .init("deny in a later policy beats an earlier allow", [doc(allow()), doc(deny())], req(), .explicitDeny, sid: "D", policy: "p1"),
        .init("deny in an earlier policy beats a later allow", [doc(deny()), doc(allow())], req(), .explicitDeny, sid: "D", policy: "p0"),
        .init("a deny * beats a specific allow", [doc(allow(), deny(action: #""*""#))], req(), .explicitDeny, sid: "D"),
        .init("a deny for another action does not apply", [doc(allow(), deny(action: #""cella:DeleteFunction""#))], req(), .allowed, sid: "A"),
        .init("a deny for another resource does not apply",
              [doc(allow(), deny(resource: #""crn:cella:acme:function:g""#))], req(), .allowed, sid: "A"),
        .init("a deny whose condition fails does not apply",
              [doc(allow(), deny(condition: #"{"StringEquals":{"cella:InvocationType":"Event"}}"#))],
              req(["cella:InvocationType": ["RequestResponse"]]), .allowed, sid: "A"),
        .init("a deny whose conditions all hold applies",
              [doc(allow(), deny(condition: #"{"StringEquals":{"cella:InvocationType":"Event"},"Bool":{"cella:SecureTransport":"false"}}"#))],
              req(["cella:InvocationType": ["Event"], "cella:SecureTransport": ["false"]]), .explicitDeny, sid: "D"),
        .init("a deny with one failing condition does not apply",
              [doc(allow(), deny(condition: #"{"StringEquals":{"cella:InvocationType":"Event"},"Bool":{"cella:SecureTransport":"false"}}"#))],
              req(["cella:InvocationType": ["Event"], "cella:SecureTransport": ["true"]]), .allowed, sid: "A"),
        .init("an allow whose condition fails is not a deny",
              allowIf(#"{"StringEquals":{"cella:InvocationType":"Event"}}"#), req(["cella:InvocationType": ["DryRun"]]), .implicitDeny),
        .init("the first applicable allow is reported", [doc(allow("A1"), allow("A2"))], req(), .allowed, sid: "A1"),
        .init("an allow in the second policy", [doc(allow("A1", action: #""cella:GetLogs""#)), doc(allow("A2"))], req(), .allowed, sid: "A2", policy: "p1"),
        .init("the first applicable deny is reported", [doc(deny("D1"), deny("D2"))], req(), .explicitDeny, sid: "D1"),
        .init("a deny after many allows", [doc(allow("A1"), allow("A2")), doc(allow("A3")), doc(deny("D9"))], req(), .explicitDeny, sid: "D9", policy: "p2"),
        .init("a single statement object", [#"{"Version":"2012-10-17","Statement":{"Sid":"S","Effect":"Allow","Action":"cella:*","Resource":"*"}}"#], req(), .allowed, sid: "S"),
        .init("allow on one resource, request on another", [doc(allow(resource: #""crn:cella:acme:function:g""#))], req(), .implicitDeny),
        .init("group and principal policies combine", [doc(allow(action: #""cella:Get*""#)), doc(allow("B", action: #""cella:InvokeFunction""#))], req(), .allowed, sid: "B"),
    ]

    @Test(arguments: cases)
    func evaluate(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }

    @Test func statementWithoutSidIsReportedByIndex() throws {
        let policy = try CompiledPolicy(id: "team", document: doc(allow(nil, action: #""cella:GetLogs""#), allow(nil)))
        let decision = PolicyEvaluator.evaluate(req().context, policies: [policy])
        #expect(decision.statement == StatementReference(policyId: "team", index: 1, sid: nil))
        #expect(decision.description == "allowed by team/Statement[1]")
    }
}
