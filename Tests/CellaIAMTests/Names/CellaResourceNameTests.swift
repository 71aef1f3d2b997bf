@testable import CellaIAM
import Foundation
import Testing

@Suite struct CellaResourceNameTests {
    @Test(arguments: [
        ("crn:cella:acme:function:resize", CellaResourceName.Kind.function, "resize", nil as String?),
        ("crn:cella:acme:function:resize:3", .function, "resize", "3"),
        ("crn:cella:acme:function:resize:$LATEST", .function, "resize", "$LATEST"),
        ("crn:cella:acme:key:AK123", .key, "AK123", nil),
        ("crn:cella:acme:policy:team.read", .policy, "team.read", nil),
        ("crn:cella:acme:principal:alice@example.com", .principal, "alice@example.com", nil),
        ("crn:cella:acme:group:ops", .group, "ops", nil),
    ])
    func parsesAndFormats(text: String, kind: CellaResourceName.Kind, name: String, qualifier: String?) throws {
        let parsed = try CellaResourceName.parse(text)
        #expect(parsed.tenant == "acme")
        #expect(parsed.kind == kind)
        #expect(parsed.name == name)
        #expect(parsed.qualifier == qualifier)
        #expect(parsed.description == text)
        #expect(CellaResourceName(text) == parsed)
    }

    @Test(arguments: [
        "arn:cella:acme:function:f", "crn:other:acme:function:f", "crn:cella:acme:function",
        "crn:cella::function:f", "crn:cella:acme:bucket:f", "crn:cella:acme:function:f:1:2",
        "crn:cella:acme:function:f*", "crn:cella:acme:function:", "crn:cella:acme:key:k:1",
        "crn:cella:acme:function:has space", "crn:cella:ac/me:function:f",
    ])
    func rejects(text: String) {
        let error = #expect(throws: IAMError.self) { try CellaResourceName.parse(text) }
        #expect(error?.code == .invalidResourceName)
        #expect(CellaResourceName(text) == nil)
    }

    @Test(arguments: [
        ("arn:aws:lambda:us-east-1:123456789012:function:my-function", "crn:cella:123456789012:function:my-function"),
        ("arn:aws:lambda:eu-west-1:acme:function:f:$LATEST", "crn:cella:acme:function:f:$LATEST"),
        ("arn:aws-cn:lambda:cn-north-1:acme:function:f:prod", "crn:cella:acme:function:f:prod"),
    ])
    func mapsLambdaARNs(arn: String, crn: String) throws {
        #expect(try CellaResourceName.fromLambdaARN(arn).description == crn)
    }

    @Test(arguments: [
        "arn:aws:s3:::bucket", "arn:aws:lambda:us-east-1:acme:layer:l", "arn:aws:lambda::acme:function:f",
        "arn:aws:lambda:us-east-1:acme:function", "arn:gcp:lambda:us-east-1:acme:function:f",
    ])
    func rejectsOtherARNs(arn: String) {
        #expect(throws: IAMError.self) { try CellaResourceName.fromLambdaARN(arn) }
    }

    @Test(arguments: [
        ("my-function", "crn:cella:acme:function:my-function"),
        ("my-function:7", "crn:cella:acme:function:my-function:7"),
        ("acme:function:my-function", "crn:cella:acme:function:my-function"),
        ("acme:function:my-function:live", "crn:cella:acme:function:my-function:live"),
        ("arn:aws:lambda:us-east-1:other:function:f", "crn:cella:other:function:f"),
    ])
    func mapsLambdaFunctionNames(functionName: String, crn: String) throws {
        #expect(try CellaResourceName.fromLambdaFunctionName(functionName, tenant: "acme").description == crn)
    }

    @Test func codableAsText() throws {
        let name = try CellaResourceName.function(tenant: "acme", name: "f", qualifier: "2")
        let data = try JSONEncoder().encode([name])
        #expect(String(decoding: data, as: UTF8.self) == #"["crn:cella:acme:function:f:2"]"#)
        #expect(try JSONDecoder().decode([CellaResourceName].self, from: data) == [name])
        #expect(name.unqualified.description == "crn:cella:acme:function:f")
    }

    @Test func actionCatalogue() {
        #expect(Action(named: "lambda:invokefunction") == .invokeFunction)
        #expect(Action(named: "CELLA:GetLogs") == .getLogs)
        #expect(Action(named: "lambda:GetLogs") == nil)
        #expect(Action(named: "cella:Nope") == nil)
        #expect(Set(Action.all.map(\.name)).count == Action.all.count)
        #expect(Action.all.compactMap(\.lambdaName).count == 8)
        #expect(Action.all.count <= 64)
        #expect(Action.all.enumerated().allSatisfy { $0.offset == $0.element.ordinal })
    }
}
