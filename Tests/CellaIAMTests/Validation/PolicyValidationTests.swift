import CellaIAM
import Foundation
import Testing

/// Documents that must be rejected at attach time, each with the error code and JSON path.
@Suite struct PolicyValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let document: String
        let code: IAMError.Code
        let path: String
        var testDescription: String { name }

        init(_ name: String, _ document: String, _ code: IAMError.Code, _ path: String) {
            self.name = name
            self.document = document
            self.code = code
            self.path = path
        }
    }

    /// A document with one statement that allows `cella:InvokeFunction` on `*` under `condition`.
    static func withCondition(_ condition: String) -> String { doc(allow(condition: condition)) }

    static let grammarCases: [Case] = [
        .init("not JSON", "{", .malformedJSON, ""),
        .init("trailing comma", #"{"Version":"2012-10-17","Statement":[],}"#, .malformedJSON, ""),
        .init("syntax error inside a statement", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",]}"#, .malformedJSON, "Statement[0]"),
        .init("text after the document", doc(allow()) + " x", .malformedJSON, ""),
        .init("leading zero", #"{"Version":"2012-10-17","Statement":[],"Id":01}"#, .malformedJSON, "Id"),
        .init("lone surrogate", #"{"Version":"2012-10-17","Id":"\ud800","Statement":[]}"#, .malformedJSON, "Id"),
        .init("raw control character", "{\"Version\":\"2012-10-17\",\"Id\":\"a\u{1}\",\"Statement\":[]}", .malformedJSON, "Id"),
        .init("nesting too deep", String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
              .malformedJSON, String(repeating: "[0]", count: 32)),
        .init("root is an array", "[]", .invalidType, ""),
        .init("duplicate Version", #"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}"#, .duplicateKey, "Version"),
        .init("duplicate Effect", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}]}"#,
              .duplicateKey, "Statement[0].Effect"),
        .init("duplicate key spelt with an escape", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Eff\u0065ct":"Deny","Action":"*","Resource":"*"}]}"#,
              .duplicateKey, "Statement[0].Effect"),
        .init("duplicate condition key differing in case",
              withCondition(#"{"StringEquals":{"cella:InvocationType":"a","cella:invocationtype":"b"}}"#),
              .duplicateKey, "Statement[0].Condition.StringEquals.cella:invocationtype"),
        .init("unknown top-level key", #"{"Version":"2012-10-17","Statement":[],"Foo":1}"#, .unknownKey, "Foo"),
        .init("Principal in an identity policy", doc(#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#), .unknownKey, "Statement[0].Principal"),
        .init("element names are case-sensitive", doc(#"{"effect":"Allow","Action":"*","Resource":"*"}"#), .unknownKey, "Statement[0].effect"),
        .init("missing Version", #"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, .missingElement, ""),
        .init("unknown Version", doc(allow(), version: "2020-01-01"), .invalidVersion, "Version"),
        .init("Version as a number", #"{"Version":2012,"Statement":[]}"#, .invalidType, "Version"),
        .init("Id as a number", #"{"Version":"2012-10-17","Id":7,"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, .invalidType, "Id"),
        .init("missing Statement", #"{"Version":"2012-10-17"}"#, .missingElement, ""),
        .init("empty Statement", #"{"Version":"2012-10-17","Statement":[]}"#, .invalidType, "Statement"),
        .init("Statement as a string", #"{"Version":"2012-10-17","Statement":"Allow"}"#, .invalidType, "Statement"),
        .init("a statement that is not an object", doc(allow(), #""Allow""#), .invalidType, "Statement[1]"),
        .init("Effect in lower case", doc(stmt("allow")), .invalidEffect, "Statement[0].Effect"),
        .init("missing Effect", doc(#"{"Action":"*","Resource":"*"}"#), .missingElement, "Statement[0]"),
        .init("Action and NotAction", doc(allow(notAction: #""cella:GetLogs""#).replacingOccurrences(of: "{", with: #"{"Action":"*","#)),
              .conflictingElements, "Statement[0].NotAction"),
        .init("neither Action nor NotAction", doc(allow(action: nil)), .missingElement, "Statement[0]"),
        .init("Resource and NotResource", doc(allow(resource: nil, notResource: #""*""#).replacingOccurrences(of: "{", with: #"{"Resource":"*","#)),
              .conflictingElements, "Statement[0].NotResource"),
        .init("neither Resource nor NotResource", doc(allow(resource: nil)), .missingElement, "Statement[0]"),
        .init("empty Action list", doc(allow(action: "[]")), .invalidType, "Statement[0].Action"),
        .init("a number in the Action list", doc(allow(action: #"["cella:GetLogs",7]"#)), .invalidType, "Statement[0].Action[1]"),
        .init("misspelt action", doc(allow(action: #""cella:InvokeFuntion""#)), .invalidAction, "Statement[0].Action"),
        .init("an action pattern that matches no action", doc(allow(action: #""cella:InvokeFunction?""#)), .invalidAction, "Statement[0].Action"),
        .init("misspelt service", doc(allow(action: #"["cela:*"]"#)), .invalidAction, "Statement[0].Action[0]"),
        .init("another service's action", doc(allow(action: #""s3:GetObject""#)), .invalidAction, "Statement[0].Action"),
        .init("NotAction is checked too", doc(allow(action: nil, notAction: #"["cella:GetLogs","cella:Nope"]"#)), .invalidAction, "Statement[0].NotAction[1]"),
        .init("a Lambda ARN as resource", doc(allow(resource: #""arn:aws:lambda:us-east-1:123456789012:function:f""#)), .invalidResource, "Statement[0].Resource"),
        .init("a resource that is no crn", doc(allow(resource: #"["*","function:f"]"#)), .invalidResource, "Statement[0].Resource[1]"),
        .init("an unknown resource kind", doc(allow(resource: #""crn:cella:acme:bucket:x""#)), .invalidResource, "Statement[0].Resource"),
        .init("a bad function name", doc(allow(resource: #""crn:cella:acme:function:bad name""#)), .invalidResource, "Statement[0].Resource"),
        .init("a literal * from an escape is no name", doc(allow(resource: #""crn:cella:acme:function:f${*}""#)), .invalidResource, "Statement[0].Resource"),
        .init("a qualifier on a key", doc(allow(resource: #""crn:cella:acme:key:k:1""#)), .invalidResource, "Statement[0].Resource"),
        .init("Sid with a dash", doc(allow("my-sid")), .invalidSid, "Statement[0].Sid"),
        .init("empty Sid", doc(allow("")), .invalidSid, "Statement[0].Sid"),
        .init("duplicate Sid", doc(allow("S"), deny("S")), .duplicateSid, "Statement[1].Sid"),
        .init("too large", doc(allow(action: "[" + Array(repeating: #""cella:GetLogs""#, count: 500).joined(separator: ",") + "]")),
              .policyTooLarge, ""),
    ]

    static let conditionCases: [Case] = [
        .init("Condition not an object", withCondition(#"["StringEquals"]"#), .invalidType, "Statement[0].Condition"),
        .init("misspelt operator", withCondition(#"{"StringEqual":{"cella:InvocationType":"a"}}"#), .unknownOperator, "Statement[0].Condition.StringEqual"),
        .init("operator in lower case", withCondition(#"{"stringequals":{"cella:InvocationType":"a"}}"#), .unknownOperator, "Statement[0].Condition.stringequals"),
        .init("NullIfExists", withCondition(#"{"NullIfExists":{"cella:InvocationType":true}}"#), .unknownOperator, "Statement[0].Condition.NullIfExists"),
        .init("ForAnyValue:Null", withCondition(#"{"ForAnyValue:Null":{"cella:TagKeys":true}}"#), .unknownOperator, "Statement[0].Condition.ForAnyValue:Null"),
        .init("unknown set qualifier", withCondition(#"{"ForSomeValues:StringEquals":{"cella:TagKeys":"a"}}"#), .unknownOperator, "Statement[0].Condition.ForSomeValues:StringEquals"),
        .init("empty operator block", withCondition(#"{"StringEquals":{}}"#), .invalidType, "Statement[0].Condition.StringEquals"),
        .init("unknown condition key", withCondition(#"{"StringEquals":{"cella:Foo":"a"}}"#), .unknownConditionKey, "Statement[0].Condition.StringEquals.cella:Foo"),
        .init("AWS's key name", withCondition(#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#), .unknownConditionKey, "Statement[0].Condition.IpAddress.aws:SourceIp"),
        .init("tag key without a tag", withCondition(#"{"StringEquals":{"cella:PrincipalTag/":"a"}}"#), .unknownConditionKey, "Statement[0].Condition.StringEquals.cella:PrincipalTag/"),
        .init("an object as value", withCondition(#"{"StringEquals":{"cella:InvocationType":{"a":1}}}"#), .invalidType, "Statement[0].Condition.StringEquals.cella:InvocationType"),
        .init("null as value", withCondition(#"{"StringEquals":{"cella:InvocationType":[null]}}"#), .invalidType, "Statement[0].Condition.StringEquals.cella:InvocationType[0]"),
        .init("an empty value list", withCondition(#"{"StringEquals":{"cella:InvocationType":[]}}"#), .invalidType, "Statement[0].Condition.StringEquals.cella:InvocationType"),
        .init("prefix too long", withCondition(#"{"IpAddress":{"cella:SourceIp":["10.0.0.0/8","10.0.0.0/33"]}}"#), .invalidConditionValue, "Statement[0].Condition.IpAddress.cella:SourceIp[1]"),
        .init("octet too large", withCondition(#"{"IpAddress":{"cella:SourceIp":"300.1.1.1"}}"#), .invalidConditionValue, "Statement[0].Condition.IpAddress.cella:SourceIp"),
        .init("octet with a leading zero", withCondition(#"{"NotIpAddress":{"cella:SourceIp":"010.0.0.1"}}"#), .invalidConditionValue, "Statement[0].Condition.NotIpAddress.cella:SourceIp"),
        .init("IPv6 with :::", withCondition(#"{"IpAddress":{"cella:SourceIp":"2001:db8:::1"}}"#), .invalidConditionValue, "Statement[0].Condition.IpAddress.cella:SourceIp"),
        .init("IPv6 prefix too long", withCondition(#"{"IpAddress":{"cella:SourceIp":"::/129"}}"#), .invalidConditionValue, "Statement[0].Condition.IpAddress.cella:SourceIp"),
        .init("an address as a number", withCondition(#"{"IpAddress":{"cella:SourceIp":10}}"#), .invalidConditionValue, "Statement[0].Condition.IpAddress.cella:SourceIp"),
        .init("30 February", withCondition(#"{"DateLessThan":{"cella:CurrentTime":"2026-02-30"}}"#), .invalidConditionValue, "Statement[0].Condition.DateLessThan.cella:CurrentTime"),
        .init("a date that is a word", withCondition(#"{"DateGreaterThan":{"cella:CurrentTime":["2026-01-01","tomorrow"]}}"#), .invalidConditionValue, "Statement[0].Condition.DateGreaterThan.cella:CurrentTime[1]"),
        .init("hour 24", withCondition(#"{"DateEquals":{"cella:CurrentTime":"2026-01-01T24:00:00Z"}}"#), .invalidConditionValue, "Statement[0].Condition.DateEquals.cella:CurrentTime"),
        .init("a time without a zone", withCondition(#"{"DateEquals":{"cella:CurrentTime":"2026-01-01T10:00:00"}}"#), .invalidConditionValue, "Statement[0].Condition.DateEquals.cella:CurrentTime"),
        .init("a number that is a word", withCondition(#"{"NumericEquals":{"cella:EpochTime":"ten"}}"#), .invalidConditionValue, "Statement[0].Condition.NumericEquals.cella:EpochTime"),
        .init("a hexadecimal number", withCondition(#"{"NumericLessThan":{"cella:EpochTime":"0x10"}}"#), .invalidConditionValue, "Statement[0].Condition.NumericLessThan.cella:EpochTime"),
        .init("a boolean as a number", withCondition(#"{"NumericLessThan":{"cella:EpochTime":true}}"#), .invalidConditionValue, "Statement[0].Condition.NumericLessThan.cella:EpochTime"),
        .init("Bool yes", withCondition(#"{"Bool":{"cella:SecureTransport":"yes"}}"#), .invalidConditionValue, "Statement[0].Condition.Bool.cella:SecureTransport"),
        .init("Bool 1", withCondition(#"{"Bool":{"cella:SecureTransport":1}}"#), .invalidConditionValue, "Statement[0].Condition.Bool.cella:SecureTransport"),
        .init("Null maybe", withCondition(#"{"Null":{"cella:SourceIp":"maybe"}}"#), .invalidConditionValue, "Statement[0].Condition.Null.cella:SourceIp"),
        .init("BinaryEquals not base64", withCondition(#"{"BinaryEquals":{"cella:PrincipalTag/b":"***"}}"#), .invalidConditionValue, "Statement[0].Condition.BinaryEquals.cella:PrincipalTag/b"),
        .init("a variable in a 2008-10-17 resource", doc(allow(resource: #""crn:cella:${cella:TenantId}:function:*""#), version: "2008-10-17"),
              .variableNeedsVersion2012, "Statement[0].Resource"),
        .init("a variable in a 2008-10-17 condition",
              doc(allow(condition: #"{"StringEquals":{"cella:FunctionTag/owner":"${cella:PrincipalName}"}}"#), version: "2008-10-17"),
              .variableNeedsVersion2012, "Statement[0].Condition.StringEquals.cella:FunctionTag/owner"),
        .init("an unknown variable", doc(allow(resource: #""crn:cella:acme:function:${cella:Nope}""#)), .invalidVariable, "Statement[0].Resource"),
        .init("an unterminated variable", doc(allow(resource: #"["*","crn:cella:acme:function:${cella:PrincipalName"]"#)), .invalidVariable, "Statement[0].Resource[1]"),
        .init("a default without quotes",
              withCondition(#"{"StringLike":{"cella:FunctionTag/owner":"${cella:PrincipalName, nobody}"}}"#),
              .invalidVariable, "Statement[0].Condition.StringLike.cella:FunctionTag/owner"),
        .init("a variable in a numeric condition is no number",
              withCondition(#"{"NumericEquals":{"cella:PrincipalTag/level":"${cella:PrincipalTag/max}"}}"#),
              .invalidConditionValue, "Statement[0].Condition.NumericEquals.cella:PrincipalTag/level"),
    ]

    @Test(arguments: grammarCases + conditionCases)
    func rejects(_ testCase: Case) {
        let error = #expect(throws: IAMError.self) { try CompiledPolicy.validate(testCase.document) }
        #expect(error?.code == testCase.code, "\(error.map(String.init(describing:)) ?? "accepted")")
        #expect(error?.path == testCase.path, "\(error.map(String.init(describing:)) ?? "accepted")")
    }

    @Test func errorDescribesCodePathAndReason() {
        do throws(IAMError) {
            try CompiledPolicy.validate(Self.withCondition(#"{"IpAddress":{"cella:SourceIp":["10.0.0.0/8","10.0.0.0/33"]}}"#))
            Issue.record("expected a rejection")
        } catch {
            #expect(error.description == #"InvalidConditionValue at Statement[0].Condition.IpAddress.cella:SourceIp[1]: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR block"#)
        }
    }

    @Test func whitespaceDoesNotCountTowardsTheLimit() throws {
        let padded = doc(allow()).replacingOccurrences(of: ",", with: "," + String(repeating: " ", count: 3_000))
        #expect(padded.utf8.count > 6_144)
        try CompiledPolicy.validate(padded)
    }

    @Test func limitsAreConfigurable() throws {
        let document = doc(allow())
        #expect(throws: IAMError.self) { try CompiledPolicy.validate(document, options: PolicyOptions(maxCharacters: 20)) }
        #expect(throws: IAMError.self) { try CompiledPolicy.validate(document, options: PolicyOptions(maxBytes: 20)) }
        try CompiledPolicy.validate(document, options: PolicyOptions(maxCharacters: 200))
    }

    @Test func acceptsTheWholeGrammar() throws {
        let document = #"""
        {
          "Version": "2012-10-17",
          "Id": "team-policy",
          "Statement": [
            {"Sid": "Invoke", "Effect": "Allow", "Action": ["cella:InvokeFunction", "lambda:Get*"],
             "Resource": "crn:cella:${cella:TenantId}:function:team-*",
             "Condition": {"IpAddress": {"cella:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                           "DateLessThan": {"cella:CurrentTime": "2030-01-01T00:00:00Z"},
                           "ForAllValues:StringLike": {"cella:TagKeys": "team-*"},
                           "Null": {"cella:PrincipalTag/team": false}}},
            {"Effect": "Deny", "NotAction": "cella:Get*", "NotResource": ["crn:cella:acme:function:public-*"]}
          ]
        }
        """#
        let policy = try CompiledPolicy(id: "team", document: document)
        #expect(policy.version == .v2012_10_17)
        #expect(policy.statements.map(\.sid) == ["Invoke", nil])
        #expect(policy.statements.map(\.effect) == [.allow, .deny])
    }
}
