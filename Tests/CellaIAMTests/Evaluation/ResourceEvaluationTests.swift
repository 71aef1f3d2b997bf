import CellaIAM
import Testing

/// Resources: case-sensitive, `*` and `?`, lists, `NotResource`, and the tenant boundary.
@Suite struct ResourceEvaluationTests {
    static let cases: [EvaluationCase] = [
        .init("exact resource", [doc(allow(resource: #""crn:cella:acme:function:f""#))], req(), .allowed),
        .init("resources are case-sensitive", [doc(allow(resource: #""crn:cella:acme:function:F""#))], req(), .implicitDeny),
        .init("function:* matches a function", [doc(allow(resource: #""crn:cella:acme:function:*""#))], req(), .allowed),
        .init("function:* also matches a qualified function", [doc(allow(resource: #""crn:cella:acme:function:*""#))], req(.invokeFunction, fn("f:3")), .allowed),
        .init("an unqualified name does not match a qualified one", [doc(allow(resource: #""crn:cella:acme:function:f""#))], req(.invokeFunction, fn("f:3")), .implicitDeny),
        .init("f:* matches f:3", [doc(allow(resource: #""crn:cella:acme:function:f:*""#))], req(.invokeFunction, fn("f:3")), .allowed),
        .init("f:* does not match f", [doc(allow(resource: #""crn:cella:acme:function:f:*""#))], req(), .implicitDeny),
        .init("f? matches f1", [doc(allow(resource: #""crn:cella:acme:function:f?""#))], req(.invokeFunction, fn("f1")), .allowed),
        .init("f? does not match f", [doc(allow(resource: #""crn:cella:acme:function:f?""#))], req(.invokeFunction, fn("f")), .implicitDeny),
        .init("f? does not match f12", [doc(allow(resource: #""crn:cella:acme:function:f?""#))], req(.invokeFunction, fn("f12")), .implicitDeny),
        .init("prefix wildcard matches", [doc(allow(resource: #""crn:cella:acme:function:img-*""#))], req(.invokeFunction, fn("img-resize")), .allowed),
        .init("prefix wildcard does not match", [doc(allow(resource: #""crn:cella:acme:function:img-*""#))], req(.invokeFunction, fn("video")), .implicitDeny),
        .init("* matches every resource", [doc(allow(resource: #""*""#))], req(.invokeFunction, fn("anything:7")), .allowed),
        .init("wildcard tenant segment", [doc(allow(resource: #""crn:cella:*:function:f""#))], req(), .allowed),
        .init("another kind does not match", [doc(allow(resource: #""crn:cella:acme:key:*""#))], req(), .implicitDeny),
        .init("a list of resources is ORed", [doc(allow(resource: #"["crn:cella:acme:function:a","crn:cella:acme:function:b"]"#))], req(.invokeFunction, fn("b")), .allowed),
        .init("$LATEST is literal", [doc(allow(resource: #""crn:cella:acme:function:f:$LATEST""#))], req(.invokeFunction, fn("f:$LATEST")), .allowed),
        .init("? matches one multi-byte character", [doc(allow(resource: #""crn:cella:acme:principal:?""#))], req(.invokeFunction, "crn:cella:acme:principal:é"), .allowed),
        .init("?? does not match one multi-byte character", [doc(allow(resource: #""crn:cella:acme:principal:??""#))], req(.invokeFunction, "crn:cella:acme:principal:é"), .implicitDeny),
        .init("a list request resource needs a covering pattern", [doc(allow(action: #""*""#, resource: #""crn:cella:acme:function:img-*""#))], req(.listFunctions, fn("*")), .implicitDeny),
        .init("function:* covers the list resource", [doc(allow(action: #""cella:ListFunctions""#, resource: #""crn:cella:acme:function:*""#))], req(.listFunctions, fn("*")), .allowed),
        .init("a non-crn request resource", [doc(allow(action: #""cella:ManageNodes""#))], req(.manageNodes, "*"), .allowed),
        // NotResource: everything but what is listed.
        .init("NotResource allows other resources", [doc(allow(resource: nil, notResource: #""crn:cella:acme:function:secret""#))], req(), .allowed),
        .init("NotResource excludes the listed one", [doc(allow(resource: nil, notResource: #""crn:cella:acme:function:secret""#))], req(.invokeFunction, fn("secret")), .implicitDeny),
        .init("NotResource wildcard excludes", [doc(allow(resource: nil, notResource: #"["crn:cella:acme:function:admin-*"]"#))], req(.invokeFunction, fn("admin-x")), .implicitDeny),
        .init("NotResource wildcard lets others through", [doc(allow(resource: nil, notResource: #"["crn:cella:acme:function:admin-*"]"#))], req(.invokeFunction, fn("user")), .allowed),
        .init("Deny NotResource spares the listed one",
              [doc(deny(resource: nil, notResource: #""crn:cella:acme:function:public-*""#), allow())], req(.invokeFunction, fn("public-a")), .allowed, sid: "A"),
        .init("Deny NotResource denies the others",
              [doc(deny(resource: nil, notResource: #""crn:cella:acme:function:public-*""#), allow())], req(.invokeFunction, fn("private")), .explicitDeny, sid: "D"),
        // The tenant boundary comes before any policy.
        .init("Resource * does not reach another tenant", [doc(allow(action: #""*""#))], req(.invokeFunction, fn("f", tenant: "other")), .implicitDeny),
        .init("naming another tenant does not reach it", [doc(allow(resource: #""crn:cella:other:function:*""#))], req(.invokeFunction, fn("f", tenant: "other")), .implicitDeny),
        .init("a tenant whose id extends ours is another tenant", [doc(allow())], req(.invokeFunction, fn("f", tenant: "acme2")), .implicitDeny),
    ]

    @Test(arguments: cases)
    func evaluate(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }

    @Test func tenantBoundaryIsReported() throws {
        let policy = try CompiledPolicy(id: "p", document: doc(allow()))
        let decision = PolicyEvaluator.evaluate(req(.invokeFunction, fn("f", tenant: "other")).context, policies: [policy])
        #expect(decision.deniedAtTenantBoundary)
        let own = PolicyEvaluator.evaluate(req().context, policies: [policy])
        #expect(!own.deniedAtTenantBoundary && own.isAllowed)
    }
}
