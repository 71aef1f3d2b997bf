import CellaModel
import Crypto

/// Signs a request the way the verifier checks it, for tests and benchmarks inside the package.
/// Its canonical forms are the verifier's, which the botocore vectors pin.
package enum SigV4Signer {
    /// The `Authorization` value for `request`, which must already carry `X-Amz-Date` (and any
    /// header named in `signedHeaders`).
    /// - Parameters:
    ///   - request: The request to sign, without `Authorization`.
    ///   - payloadHash: Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    ///   - signedHeaders: Lowercase names to sign.
    ///   - accessKeyId: The access key id.
    ///   - secret: The secret access key.
    ///   - scopeDate: `YYYYMMDD`; normally the date of `X-Amz-Date`.
    ///   - region: The scope's region.
    ///   - service: The scope's service.
    /// - Throws: `AuthError` `.signedHeaderMissing` when a named header is absent.
    package static func authorization(
        for request: SigV4Request,
        payloadHash: String,
        signedHeaders: [String],
        accessKeyId: String,
        secret: String,
        scopeDate: String,
        region: String,
        service: String
    ) throws(AuthError) -> String {
        let names = Array(Set(signedHeaders)).sorted()
        let canonical = try SigV4Canonical.canonicalRequest(request, signedHeaders: names, payloadHash: payloadHash)
        let scope = "\(scopeDate)/\(region)/\(service)/aws4_request"
        let amzDate = request.values(ofHeader: "x-amz-date").first ?? ""
        let stringToSign = SigV4Canonical.stringToSign(amzDate: amzDate, credentialScope: scope, canonicalRequest: canonical)
        let key = SymmetricKey(data: SigningKeyCache.derive(secret: secret, date: scopeDate, region: region, service: service))
        let signature = Bytes.hexString(HMAC<SHA256>.authenticationCode(for: stringToSign, using: key))
        return "\(SigV4Authorization.algorithm) Credential=\(accessKeyId)/\(scope), "
            + "SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"
    }
}
