@testable import CellaAuth
import CellaModel
import Crypto
import Foundation
import Testing

/// What must be accepted, the skew boundary, error mapping, and the canonical forms' details.
@Suite struct SigV4VerifierTests {
    let verifier = SigV4Verifier(credentials: StaticCredentialProvider([
        SigV4Credential(accessKeyId: TestSigner.accessKey, secretAccessKey: TestSigner.secret, principalId: "alice"),
    ]))
    let body = Array(#"{"k":1}"#.utf8)

    @Test func acceptsOwnSignature() async throws {
        let identity = try await verifier.verify(try TestSigner.sign(), body: body, now: TestSigner.signedAt)
        #expect(identity.principalId == "alice" && !identity.usedSessionToken)
    }

    @Test(arguments: [-900.0, -840.0, 0.0, 840.0, 900.0] as [Double])
    func acceptsSkewUpToFifteenMinutes(offset: Double) async throws {
        _ = try await verifier.verify(try TestSigner.sign(), body: body, now: TestSigner.signedAt + offset)
    }

    @Test func expiredMessageNamesTheTimes() async throws {
        let error = await #expect(throws: AuthError.self) {
            try await verifier.verify(try TestSigner.sign(), body: body, now: TestSigner.signedAt + 16 * 60)
        }
        #expect(error?.message == "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)")
        #expect(error?.awsErrorType == "InvalidSignatureException")
        #expect(error?.httpStatus == 403)
    }

    @Test func unsignedHeadersMayChange() async throws {
        let request = try TestSigner.sign(signedHeaders: ["host", "x-amz-date"])
        let changed = request.replacingHeader("User-Agent", with: "proxy/1.0")
        _ = try await verifier.verify(changed, body: body, now: TestSigner.signedAt)
    }

    @Test func headerNamesAnyCaseAndValuesAnySpacing() async throws {
        let headers = [(name: "Host", value: "h:9001"), (name: "X-Custom", value: "  a   b\t c  "), (name: "x-custom", value: "d")]
        let request = try TestSigner.sign(headers: headers)
        let respaced = SigV4Request(method: request.method, target: "/2015-03-31/functions/f/invocations",
                                    headers: request.headers.map { $0.name == "X-Custom" ? (name: "X-CUSTOM", value: "a b c") : $0 })
        _ = try await verifier.verify(respaced, body: body, now: TestSigner.signedAt)
    }

    @Test func acceptsMatchingContentHashAndUnsignedPayload() async throws {
        let hash = Bytes.hexString(SHA256.hash(data: body))
        let hashed = try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Content-Sha256", value: hash)], payloadHash: hash)
        _ = try await verifier.verify(hashed, body: body, now: TestSigner.signedAt)
        let unsigned = try TestSigner.sign(headers: [(name: "Host", value: "h"), (name: "X-Amz-Content-Sha256", value: "UNSIGNED-PAYLOAD")],
                                           payloadHash: "UNSIGNED-PAYLOAD")
        _ = try await verifier.verify(unsigned, body: Array("anything".utf8), now: TestSigner.signedAt)
    }

    @Test func lookupFailureKeepsItsCause() async throws {
        let failing = SigV4Verifier(credentials: FailingCredentialProvider())
        let error = await #expect(throws: AuthError.self) {
            try await failing.verify(try TestSigner.sign(), body: body, now: TestSigner.signedAt)
        }
        #expect(error?.underlying is FailingCredentialProvider.StoreDown)
        #expect(error?.httpStatus == 500)
    }

    @Test(arguments: [
        ("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations", "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"),
        ("/a b/~x_y-z.1", "/a%20b/~x_y-z.1"),
        ("/a%20b", "/a%2520b"),
        ("/a//b/./c/../d/", "/a/b/d/"),
        ("/..", "/"),
        ("/", "/"),
        ("", "/"),
        ("/f/$LATEST:1", "/f/%24LATEST%3A1"),
        ("/é", "/%C3%A9"),
    ])
    func canonicalURI(raw: String, canonical: String) {
        var output: [UInt8] = []
        SigV4Canonical.appendURI(raw, to: &output)
        #expect(String(decoding: output, as: UTF8.self) == canonical)
    }

    @Test(arguments: [
        ("MaxItems=10&Marker=abc", "Marker=abc&MaxItems=10"),
        ("a=2&a=1", "a=1&a=2"),
        ("b&a=1", "a=1&b="),
        ("Qualifier=%24LATEST", "Qualifier=%24LATEST"),
        ("x=a%20b&x=a+b", "x=a%20b&x=a+b"),
        ("k=v=w", "k=v=w"),
        ("", ""),
    ])
    func canonicalQuery(raw: String, canonical: String) {
        var output: [UInt8] = []
        SigV4Canonical.appendQuery(raw, to: &output)
        #expect(String(decoding: output, as: UTF8.self) == canonical)
    }

    @Test(arguments: [("  a   b  ", "a b"), ("a\t\tb", "a b"), ("", ""), ("   ", ""), ("x", "x"), ("a \r\n b", "a b")])
    func canonicalHeaderValue(raw: String, canonical: String) {
        var output: [UInt8] = []
        SigV4Canonical.appendHeaderValue(raw, to: &output)
        #expect(String(decoding: output, as: UTF8.self) == canonical)
    }

    @Test func constantTimeEquality() {
        #expect(Bytes.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Bytes.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Bytes.constantTimeEqual([1, 2, 3], [1, 2]))
        // Lengths differ where the shorter side is padded with zeros while comparing.
        #expect(!Bytes.constantTimeEqual([1, 2], [1, 2, 0]))
        #expect(!Bytes.constantTimeEqual([1, 2, 0], [1, 2]))
        #expect(Bytes.constantTimeEqual([UInt8](), []))
    }

    @Test func signingKeysAreCached() {
        let cache = SigningKeyCache(capacity: 2)
        let first = cache.signingKey(secret: "s", date: "20150830", region: "r", service: "x")
        let again = cache.signingKey(secret: "s", date: "20150830", region: "r", service: "x")
        #expect(first == again)
        #expect(first != cache.signingKey(secret: "t", date: "20150830", region: "r", service: "x"))
        _ = cache.signingKey(secret: "u", date: "20150830", region: "r", service: "x")
        #expect(cache.signingKey(secret: "s", date: "20150830", region: "r", service: "x") == first)
    }

    @Test func credentialsDoNotPrintSecrets() {
        let credential = SigV4Credential(accessKeyId: "AKID", secretAccessKey: "SECRETVALUE", principalId: "p", sessionToken: "TOKENVALUE")
        var dumped = ""
        dump(credential, to: &dumped)
        for text in [credential.description, credential.debugDescription, String(reflecting: credential), dumped, "\(credential)"] {
            #expect(!text.contains("SECRETVALUE") && !text.contains("TOKENVALUE"), "\(text)")
            #expect(text.contains("AKID"))
        }
    }
}
