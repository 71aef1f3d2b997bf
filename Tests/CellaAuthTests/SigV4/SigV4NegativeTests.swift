@testable import CellaAuth
import CellaModel
import Crypto
import Foundation
import Testing

/// Requests that must be refused, each for its stated reason (asserted by error code). Each is a
/// botocore vector or a validly signed request with exactly one thing broken.
@Suite struct SigV4NegativeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let expected: AuthError.Code
        var body: [UInt8] = Array(#"{"k":1}"#.utf8)
        var now: Date = TestSigner.signedAt
        var credential = SigV4Credential(accessKeyId: TestSigner.accessKey, secretAccessKey: TestSigner.secret, principalId: "alice")
        var configuration = SigV4Verifier.Configuration()
        let request: @Sendable () throws -> SigV4Request
        var testDescription: String { name }
    }

    static let invoke = SigV4Vector.all[0]
    static let sessionVector = SigV4Vector.all[2]
    static let vectorCredential = invoke.credential

    static let cases: [Case] = [
        Case(name: "tampered body", expected: .signatureMismatch, body: Array(#"{"key":"valuf"}"#.utf8),
             credential: vectorCredential) { invoke.request },
        Case(name: "tampered signed header", expected: .signatureMismatch, body: invoke.bodyBytes, credential: vectorCredential) {
            invoke.request.replacingHeader("X-Amz-Invocation-Type", with: "Event")
        },
        Case(name: "tampered host port", expected: .signatureMismatch, body: invoke.bodyBytes, credential: vectorCredential) {
            invoke.request.replacingHeader("Host", with: "lambda.us-east-1.amazonaws.com:443")
        },
        Case(name: "tampered path", expected: .signatureMismatch, body: invoke.bodyBytes, credential: vectorCredential) {
            var request = invoke.request
            request.rawPath = "/2015-03-31/functions/other-function/invocations"
            return request
        },
        Case(name: "tampered query", expected: .signatureMismatch) {
            var request = try TestSigner.sign(target: "/2015-03-31/functions/f/invocations?Qualifier=1")
            request.rawQuery = "Qualifier=2"
            return request
        },
        Case(name: "path decoded by a proxy", expected: .signatureMismatch, body: SigV4Vector.all[1].bodyBytes,
             credential: SigV4Vector.all[1].credential) {
            var request = SigV4Vector.all[1].request
            request.rawPath = request.rawPath.replacingOccurrences(of: "%3A", with: ":")
            return request
        },
        Case(name: "wrong secret", expected: .signatureMismatch) { try TestSigner.sign(secret: "not-the-secret") },
        Case(name: "signature of another request", expected: .signatureMismatch) {
            let other = try TestSigner.sign(target: "/2015-03-31/functions/g/invocations")
            let authorization = other.headers.first { $0.name == "Authorization" }?.value
            return try TestSigner.sign().replacingHeader("Authorization", with: authorization)
        },
        Case(name: "16 minutes late", expected: .signatureExpired, now: TestSigner.signedAt + 16 * 60) { try TestSigner.sign() },
        Case(name: "16 minutes early", expected: .signatureExpired, now: TestSigner.signedAt - 16 * 60) { try TestSigner.sign() },
        Case(name: "host not signed", expected: .hostNotSigned) { try TestSigner.sign(signedHeaders: ["x-amz-date"]) },
        Case(name: "missing X-Amz-Date", expected: .missingDate) { try TestSigner.sign().replacingHeader("X-Amz-Date", with: nil) },
        Case(name: "X-Amz-Date in extended format", expected: .invalidDate) {
            try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Date", value: "2015-08-30T12:36:00Z")])
        },
        Case(name: "X-Amz-Date on 31 September", expected: .invalidDate) {
            try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Date", value: "20150931T123600Z")])
        },
        Case(name: "scope date differs from X-Amz-Date", expected: .credentialScopeMismatch) { try TestSigner.sign(scopeDate: "20150829") },
        Case(name: "scope for another service", expected: .credentialScopeMismatch,
             configuration: .init(service: "lambda")) { try TestSigner.sign(service: "s3") },
        Case(name: "scope for another region", expected: .credentialScopeMismatch,
             configuration: .init(region: "us-east-1")) { try TestSigner.sign(region: "eu-west-1") },
        Case(name: "no Authorization", expected: .missingAuthentication) { try TestSigner.sign().replacingHeader("Authorization", with: nil) },
        Case(name: "two Authorization headers", expected: .malformedAuthorization) {
            let request = try TestSigner.sign()
            return SigV4Request(method: request.method, rawPath: request.rawPath,
                                headers: request.headers + request.headers.filter { $0.name == "Authorization" })
        },
        Case(name: "unknown access key", expected: .unknownAccessKey,
             credential: SigV4Credential(accessKeyId: "AKIDOTHER", secretAccessKey: TestSigner.secret, principalId: "bob")) {
            try TestSigner.sign()
        },
        Case(name: "signed header missing from the request", expected: .signedHeaderMissing) {
            try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Trace", value: "1")])
                .replacingHeader("X-Trace", with: nil)
        },
        Case(name: "content hash of another body", expected: .contentSHA256Mismatch) {
            let other = Bytes.hexString(SHA256.hash(data: Array("other".utf8)))
            return try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Content-Sha256", value: other)],
                                       payloadHash: other)
        },
        Case(name: "UNSIGNED-PAYLOAD when not allowed", expected: .contentSHA256Mismatch,
             configuration: .init(allowUnsignedPayload: false)) {
            try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Content-Sha256", value: "UNSIGNED-PAYLOAD")],
                                payloadHash: "UNSIGNED-PAYLOAD")
        },
        Case(name: "session token required but absent", expected: .missingSecurityToken, body: sessionVector.bodyBytes,
             credential: sessionVector.credential) {
            sessionVector.request.replacingHeader("X-Amz-Security-Token", with: nil)
        },
        Case(name: "wrong session token", expected: .invalidSecurityToken, body: sessionVector.bodyBytes,
             credential: sessionVector.credential) {
            sessionVector.request.replacingHeader("X-Amz-Security-Token", with: "FQoGZXIvYXdzEXAMPLETOKEX")
        },
        Case(name: "session token not signed", expected: .invalidSecurityToken,
             credential: SigV4Credential(accessKeyId: TestSigner.accessKey, secretAccessKey: TestSigner.secret, principalId: "a", sessionToken: "tok")) {
            try TestSigner.sign(signedHeaders: ["host", "x-amz-date"]).replacingHeader("X-Amz-Security-Token", with: "tok")
        },
        Case(name: "session token for a long-term key", expected: .invalidSecurityToken) {
            try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Security-Token", value: "tok")])
        },
        Case(name: "credential store down", expected: .credentialLookupFailed) { try TestSigner.sign() },
    ]

    static let malformedAuthorizations = [
        "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request SignedHeaders=host;x-amz-date Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda, SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws5_request, SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=Host;X-Amz-Date, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;;x-amz-date, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "a", count: 63))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=\(String(repeating: "A", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=\(String(repeating: "a", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=\(String(repeating: "a", count: 64)), Extra=1",
        "Bearer cella_abc",
        "",
    ]

    @Test(arguments: cases)
    func refuses(_ testCase: Case) async throws {
        let request = try testCase.request()
        let provider: any SigV4CredentialProvider = testCase.expected == .credentialLookupFailed
            ? FailingCredentialProvider() : StaticCredentialProvider([testCase.credential])
        let verifier = SigV4Verifier(credentials: provider, configuration: testCase.configuration)
        let error = await #expect(throws: AuthError.self) {
            try await verifier.verify(request, body: testCase.body, now: testCase.now)
        }
        #expect(error?.code == testCase.expected, "\(error.map(String.init(describing:)) ?? "accepted")")
    }

    @Test(arguments: malformedAuthorizations)
    func refusesMalformedAuthorization(_ header: String) async throws {
        let request = try TestSigner.sign().replacingHeader("Authorization", with: header)
        let verifier = SigV4Verifier(credentials: StaticCredentialProvider([Self.cases[0].credential]))
        let error = await #expect(throws: AuthError.self) {
            try await verifier.verify(request, body: Array(#"{"k":1}"#.utf8), now: TestSigner.signedAt)
        }
        #expect(error?.code == .malformedAuthorization, "\(error.map(String.init(describing:)) ?? "accepted")")
    }
}
