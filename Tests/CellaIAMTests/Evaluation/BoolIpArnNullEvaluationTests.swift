import CellaIAM
import Testing

/// `Bool`, `BinaryEquals`, `IpAddress`/`NotIpAddress`, the ARN operators and `Null`.
@Suite struct BoolIpArnNullEvaluationTests {
    static let tls = "cella:SecureTransport"
    static let ip = "cella:SourceIp"

    static func ipIf(_ op: String, _ blocks: String) -> [String] {
        allowIf(#"{"\#(op)":{"cella:SourceIp":\#(blocks)}}"#)
    }

    static let boolCases: [EvaluationCase] = [
        .init("Bool true", allowIf(#"{"Bool":{"cella:SecureTransport":true}}"#), req([tls: ["true"]]), .allowed),
        .init("Bool true against false", allowIf(#"{"Bool":{"cella:SecureTransport":true}}"#), req([tls: ["false"]]), .implicitDeny),
        .init("Bool missing key", allowIf(#"{"Bool":{"cella:SecureTransport":true}}"#), req([:]), .implicitDeny),
        .init("Bool written as a string", allowIf(#"{"Bool":{"cella:SecureTransport":"false"}}"#), req([tls: ["false"]]), .allowed),
        .init("Bool request values ignore case", allowIf(#"{"Bool":{"cella:SecureTransport":true}}"#), req([tls: ["TRUE"]]), .allowed),
        .init("Bool request value that is not a boolean", allowIf(#"{"Bool":{"cella:SecureTransport":true}}"#), req([tls: ["yes"]]), .implicitDeny),
        .init("deny plain HTTP",
              [doc(deny(condition: #"{"Bool":{"cella:SecureTransport":false}}"#), allow())], req([tls: ["false"]]), .explicitDeny, sid: "D"),
        .init("a Bool deny does not apply when the key is missing",
              [doc(deny(condition: #"{"Bool":{"cella:SecureTransport":false}}"#), allow())], req([:]), .allowed, sid: "A"),
        .init("BoolIfExists deny applies when the key is missing",
              [doc(deny(condition: #"{"BoolIfExists":{"cella:SecureTransport":false}}"#), allow())], req([:]), .explicitDeny, sid: "D"),
        .init("BinaryEquals compares the decoded bytes",
              allowIf(#"{"BinaryEquals":{"cella:PrincipalTag/blob":"aGVsbG8="}}"#), req(["cella:PrincipalTag/blob": ["hello"]]), .allowed),
        .init("BinaryEquals other bytes",
              allowIf(#"{"BinaryEquals":{"cella:PrincipalTag/blob":"aGVsbG8="}}"#), req(["cella:PrincipalTag/blob": ["hellO"]]), .implicitDeny),
    ]

    static let ipCases: [EvaluationCase] = [
        .init("IPv4 inside a /8", ipIf("IpAddress", #""10.0.0.0/8""#), req([ip: ["10.1.2.3"]]), .allowed),
        .init("IPv4 outside a /8", ipIf("IpAddress", #""10.0.0.0/8""#), req([ip: ["11.0.0.1"]]), .implicitDeny),
        .init("a bare IPv4 is a /32", ipIf("IpAddress", #""192.168.1.10""#), req([ip: ["192.168.1.10"]]), .allowed),
        .init("a bare IPv4 is only itself", ipIf("IpAddress", #""192.168.1.10""#), req([ip: ["192.168.1.11"]]), .implicitDeny),
        .init("a /31 holds two addresses", ipIf("IpAddress", #""192.168.1.10/31""#), req([ip: ["192.168.1.11"]]), .allowed),
        .init("IPv6 inside a /32", ipIf("IpAddress", #""2001:db8::/32""#), req([ip: ["2001:db8:1::5"]]), .allowed),
        .init("IPv6 outside a /32", ipIf("IpAddress", #""2001:db8::/32""#), req([ip: ["2001:db9::1"]]), .implicitDeny),
        .init("a bare IPv6 is a /128", ipIf("IpAddress", #""::1""#), req([ip: ["::1"]]), .allowed),
        .init("a bare IPv6 is only itself", ipIf("IpAddress", #""::1""#), req([ip: ["::2"]]), .implicitDeny),
        .init("an IPv4 block never holds an IPv6 address", ipIf("IpAddress", #""0.0.0.0/0""#), req([ip: ["2001:db8::1"]]), .implicitDeny),
        .init("0.0.0.0/0 holds every IPv4 address", ipIf("IpAddress", #""0.0.0.0/0""#), req([ip: ["203.0.113.9"]]), .allowed),
        .init("an IPv4-mapped request address", ipIf("IpAddress", #""10.0.0.0/8""#), req([ip: ["::ffff:10.0.0.5"]]), .allowed),
        .init("host bits in the block are ignored", ipIf("IpAddress", #""10.1.2.3/8""#), req([ip: ["10.200.0.1"]]), .allowed),
        .init("blocks are ORed", ipIf("IpAddress", #"["10.0.0.0/8","192.168.0.0/16"]"#), req([ip: ["192.168.7.7"]]), .allowed),
        .init("IpAddress missing key", ipIf("IpAddress", #""10.0.0.0/8""#), req([:]), .implicitDeny),
        .init("a request value that is not an address", ipIf("IpAddress", #""0.0.0.0/0""#), req([ip: ["localhost"]]), .implicitDeny),
        .init("NotIpAddress outside", ipIf("NotIpAddress", #""10.0.0.0/8""#), req([ip: ["8.8.8.8"]]), .allowed),
        .init("NotIpAddress inside", ipIf("NotIpAddress", #""10.0.0.0/8""#), req([ip: ["10.0.0.1"]]), .implicitDeny),
        .init("NotIpAddress missing key holds", ipIf("NotIpAddress", #""10.0.0.0/8""#), req([:]), .allowed),
        .init("deny from outside the office",
              [doc(deny(condition: #"{"NotIpAddress":{"cella:SourceIp":"198.51.100.0/24"}}"#), allow())],
              req([ip: ["203.0.113.1"]]), .explicitDeny, sid: "D"),
    ]

    static let arnCases: [EvaluationCase] = [
        .init("ArnEquals", allowIf(#"{"ArnEquals":{"cella:PrincipalCrn":"crn:cella:acme:principal:alice"}}"#), req(), .allowed),
        .init("ArnEquals takes wildcards like ArnLike", allowIf(#"{"ArnEquals":{"cella:PrincipalCrn":"crn:cella:acme:principal:*"}}"#), req(), .allowed),
        .init("ArnLike", allowIf(#"{"ArnLike":{"cella:PrincipalCrn":"crn:cella:acme:principal:a*"}}"#), req(), .allowed),
        .init("ArnLike wildcard components", allowIf(#"{"ArnLike":{"cella:PrincipalCrn":"crn:*:acme:*:alice"}}"#), req(), .allowed),
        .init("ArnLike * does not span a colon", allowIf(#"{"ArnLike":{"cella:PrincipalCrn":"crn:cella:acme:*"}}"#), req(), .implicitDeny),
        .init("ArnLike is case-sensitive", allowIf(#"{"ArnLike":{"cella:PrincipalCrn":"crn:cella:ACME:principal:alice"}}"#), req(), .implicitDeny),
        .init("ArnNotEquals same", allowIf(#"{"ArnNotEquals":{"cella:PrincipalCrn":"crn:cella:acme:principal:alice"}}"#), req(), .implicitDeny),
        .init("ArnNotLike other", allowIf(#"{"ArnNotLike":{"cella:PrincipalCrn":"crn:cella:acme:principal:bob"}}"#), req(), .allowed),
        .init("ArnLike missing key", allowIf(#"{"ArnLike":{"cella:FunctionTag/owner":"crn:*"}}"#), req([:]), .implicitDeny),
        .init("ArnNotLike missing key holds", allowIf(#"{"ArnNotLike":{"cella:FunctionTag/owner":"crn:*"}}"#), req([:]), .allowed),
        .init("ArnLike the sixth component takes the rest",
              allowIf(#"{"ArnLike":{"cella:FunctionTag/src":"crn:cella:acme:function:f:*"}}"#),
              req(["cella:FunctionTag/src": ["crn:cella:acme:function:f:1:extra"]]), .allowed),
    ]

    static let nullCases: [EvaluationCase] = [
        .init("Null true on a missing key", allowIf(#"{"Null":{"cella:PrincipalTag/team":"true"}}"#), req([:]), .allowed),
        .init("Null true on a present key", allowIf(#"{"Null":{"cella:PrincipalTag/team":"true"}}"#), req(["cella:PrincipalTag/team": ["red"]]), .implicitDeny),
        .init("Null false on a present key", allowIf(#"{"Null":{"cella:PrincipalTag/team":false}}"#), req(["cella:PrincipalTag/team": ["red"]]), .allowed),
        .init("Null false on a missing key", allowIf(#"{"Null":{"cella:PrincipalTag/team":false}}"#), req([:]), .implicitDeny),
        .init("an empty value list is missing", allowIf(#"{"Null":{"cella:TagKeys":true}}"#), req(["cella:TagKeys": []]), .allowed),
        .init("deny when a required tag is absent",
              [doc(deny(condition: #"{"Null":{"cella:RequestTag/cost-center":"true"}}"#), allow())], req([:]), .explicitDeny, sid: "D"),
        .init("no deny when the required tag is there",
              [doc(deny(condition: #"{"Null":{"cella:RequestTag/cost-center":"true"}}"#), allow())],
              req(["cella:RequestTag/cost-center": ["42"]]), .allowed, sid: "A"),
    ]

    @Test(arguments: boolCases) func bool(_ testCase: EvaluationCase) throws { try testCase.check() }
    @Test(arguments: ipCases) func ipAddress(_ testCase: EvaluationCase) throws { try testCase.check() }
    @Test(arguments: arnCases) func arn(_ testCase: EvaluationCase) throws { try testCase.check() }
    @Test(arguments: nullCases) func null(_ testCase: EvaluationCase) throws { try testCase.check() }
}
