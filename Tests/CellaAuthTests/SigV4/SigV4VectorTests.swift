@testable import CellaAuth
import CellaModel
import Crypto
import Foundation
import Testing

/// Every vector in `Tests/Fixtures/sigv4.json` (from `../shared/vectors/sigv4.json`): the canonical request, the string to sign and
/// the signing key we build equal botocore's, and verification accepts botocore's Authorization.
@Suite struct SigV4VectorTests {
    @Test func vectorsAreThere() {
        #expect(SigV4Vector.all.count == 6)
    }

    @Test(arguments: SigV4Vector.all)
    func canonicalRequestAndStringToSign(_ vector: SigV4Vector) throws {
        let authorization = try SigV4Authorization(parsing: vector.authorization)
        let payloadHash = Bytes.hexString(SHA256.hash(data: vector.bodyBytes))
        let canonical = try SigV4Canonical.canonicalRequest(
            vector.request, signedHeaders: authorization.signedHeaders, payloadHash: payloadHash)
        #expect(String(decoding: canonical, as: UTF8.self) == vector.canonicalRequest)
        let stringToSign = SigV4Canonical.stringToSign(
            amzDate: vector.amzDate, credentialScope: authorization.credentialScope, canonicalRequest: canonical)
        #expect(String(decoding: stringToSign, as: UTF8.self) == vector.stringToSign)
        let key = SigningKeyCache.derive(secret: vector.secretKey, date: authorization.scopeDate,
                                         region: vector.region, service: vector.service)
        #expect(Bytes.hexString(key) == vector.signingKeyHex)
    }

    @Test(arguments: SigV4Vector.all)
    func verifierAcceptsBotocoreSignature(_ vector: SigV4Vector) async throws {
        let verifier = SigV4Verifier(credentials: StaticCredentialProvider([vector.credential]))
        let identity = try await verifier.verify(vector.request, body: vector.bodyBytes, now: vector.signedAt)
        #expect(identity.accessKeyId == vector.accessKey)
        #expect(identity.principalId == "principal-\(vector.accessKey)")
        #expect(identity.region == vector.region && identity.service == vector.service)
        #expect(identity.usedSessionToken == (vector.sessionToken != nil))
    }

    @Test(arguments: SigV4Vector.all)
    func signerReproducesBotocoreAuthorization(_ vector: SigV4Vector) throws {
        let authorization = try SigV4Authorization(parsing: vector.authorization)
        let unsigned = vector.request.replacingHeader("Authorization", with: nil)
        let signed = try SigV4Signer.authorization(
            for: unsigned, payloadHash: Bytes.hexString(SHA256.hash(data: vector.bodyBytes)),
            signedHeaders: authorization.signedHeaders, accessKeyId: vector.accessKey, secret: vector.secretKey,
            scopeDate: authorization.scopeDate, region: vector.region, service: vector.service)
        #expect(signed == vector.authorization)
    }

    @Test(arguments: SigV4Vector.all)
    func verifierRejectsTheVectorWithAnotherSecret(_ vector: SigV4Vector) async {
        let wrong = SigV4Credential(accessKeyId: vector.accessKey, secretAccessKey: vector.secretKey + "x",
                                    principalId: "p", sessionToken: vector.sessionToken)
        let verifier = SigV4Verifier(credentials: StaticCredentialProvider([wrong]))
        await #expect(throws: AuthError.self) {
            try await verifier.verify(vector.request, body: vector.bodyBytes, now: vector.signedAt)
        }
    }
}
