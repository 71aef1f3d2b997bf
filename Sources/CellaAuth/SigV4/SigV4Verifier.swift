import CellaIAM
import CellaModel
import Crypto
import Foundation

/// Verifies AWS Signature Version 4 on requests as received (PROTOCOLS.md §3).
///
/// Order of checks, each failing with its own ``AuthError/Code``: parse `Authorization` → look
/// up the access key → `X-Amz-Date` present, well-formed, equal to the scope's date and within
/// the allowed skew of `now` → `host` signed → session token (present, signed and equal when the
/// credential has one; absent otherwise) → payload hash (`X-Amz-Content-Sha256` must be the
/// body's SHA-256 unless `UNSIGNED-PAYLOAD`) → signature, compared in constant time.
public final class SigV4Verifier: Sendable {
    /// What the verifier accepts.
    public struct Configuration: Sendable {
        /// How far `X-Amz-Date` may be from now, either way: AWS's 15 minutes by default.
        public var allowedClockSkew: TimeInterval
        /// The only region accepted in the credential scope; nil accepts any (Cella has none).
        public var region: String?
        /// The only service accepted in the credential scope (`lambda` for the Lambda routes);
        /// nil accepts any.
        public var service: String?
        /// Whether `X-Amz-Content-Sha256: UNSIGNED-PAYLOAD` is accepted.
        public var allowUnsignedPayload: Bool
        /// How many derived signing keys are cached.
        public var signingKeyCacheCapacity: Int

        public init(
            allowedClockSkew: TimeInterval = 15 * 60,
            region: String? = nil,
            service: String? = nil,
            allowUnsignedPayload: Bool = true,
            signingKeyCacheCapacity: Int = 1_024
        ) {
            self.allowedClockSkew = allowedClockSkew
            self.region = region
            self.service = service
            self.allowUnsignedPayload = allowUnsignedPayload
            self.signingKeyCacheCapacity = signingKeyCacheCapacity
        }
    }

    public let configuration: Configuration
    private let credentials: any SigV4CredentialProvider
    private let keyCache: SigningKeyCache

    private static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Creates a verifier.
    /// - Parameters:
    ///   - credentials: Looks up access keys.
    ///   - configuration: Skew, scope and payload rules.
    public init(credentials: any SigV4CredentialProvider, configuration: Configuration = Configuration()) {
        self.credentials = credentials
        self.configuration = configuration
        keyCache = SigningKeyCache(capacity: configuration.signingKeyCacheCapacity)
    }

    /// Verifies `request`.
    /// - Parameters:
    ///   - request: Method, raw path and query, headers, as received.
    ///   - body: The body bytes as received.
    ///   - now: The current time.
    /// - Returns: The access key and principal that signed the request.
    /// - Throws: `AuthError` with the code of the first check that failed.
    public func verify(_ request: SigV4Request, body: some DataProtocol, now: Date) async throws(AuthError) -> SigV4Identity {
        let authorizations = request.values(ofHeader: "authorization")
        guard let header = authorizations.first else {
            throw AuthError(.missingAuthentication, "Missing Authentication Token")
        }
        guard authorizations.count == 1 else {
            throw AuthError(.malformedAuthorization, "more than one Authorization header")
        }
        let authorization = try SigV4Authorization(parsing: header)
        let credential = try await lookUp(authorization.accessKeyId)
        let amzDate = try checkDate(request, scopeDate: authorization.scopeDate, now: now)
        try checkScope(authorization)
        guard authorization.signedHeaders.contains("host") else {
            throw AuthError(.hostNotSigned, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        }
        try checkSessionToken(request, authorization: authorization, credential: credential)
        let payloadHash = try self.payloadHash(request, body: body)
        let canonical = try SigV4Canonical.canonicalRequest(
            request, signedHeaders: authorization.signedHeaders, payloadHash: payloadHash)
        let stringToSign = SigV4Canonical.stringToSign(
            amzDate: amzDate, credentialScope: authorization.credentialScope, canonicalRequest: canonical)
        let key = keyCache.signingKey(secret: credential.secretAccessKey, date: authorization.scopeDate,
                                      region: authorization.region, service: authorization.service)
        let expected = Bytes.hex(HMAC<SHA256>.authenticationCode(for: stringToSign, using: key))
        guard Bytes.constantTimeEqual(authorization.signature, expected) else {
            throw AuthError(.signatureMismatch, """
                The request signature we calculated does not match the signature you provided. \
                Check your AWS Secret Access Key and signing method. Consult the service documentation for details.
                """)
        }
        return SigV4Identity(accessKeyId: credential.accessKeyId, principalId: credential.principalId,
                             region: authorization.region, service: authorization.service,
                             usedSessionToken: credential.sessionToken != nil)
    }

    private func lookUp(_ accessKeyId: String) async throws(AuthError) -> SigV4Credential {
        let found: SigV4Credential?
        do {
            found = try await credentials.credential(forAccessKeyId: accessKeyId)
        } catch {
            throw AuthError(.credentialLookupFailed, "the credential store failed", underlying: error)
        }
        guard let found, found.accessKeyId == accessKeyId else {
            throw AuthError(.unknownAccessKey, "The security token included in the request is invalid.")
        }
        return found
    }

    /// `X-Amz-Date`, checked against the scope date and `now`; returned as sent.
    private func checkDate(_ request: SigV4Request, scopeDate: String, now: Date) throws(AuthError) -> String {
        guard let amzDate = request.values(ofHeader: "x-amz-date").first else {
            throw AuthError(.missingDate, "Authorization header requires existence of a 'X-Amz-Date' header.")
        }
        guard let signedAt = AmzDate.parse(amzDate) else {
            throw AuthError(.invalidDate, "X-Amz-Date must be in ISO 8601 basic format: YYYYMMDDTHHMMSSZ.")
        }
        guard amzDate.hasPrefix(scopeDate) else {
            throw AuthError(.credentialScopeMismatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(scopeDate)' != '\(amzDate.prefix(8))'")
        }
        let skew = configuration.allowedClockSkew
        let nowSeconds = now.timeIntervalSince1970
        let minutes = Int(skew / 60)
        if signedAt < nowSeconds - skew {
            throw AuthError(.signatureExpired, "Signature expired: \(amzDate) is now earlier than \(AmzDate.format(nowSeconds - skew)) (\(AmzDate.format(nowSeconds)) - \(minutes) min.)")
        }
        if signedAt > nowSeconds + skew {
            throw AuthError(.signatureExpired, "Signature not yet current: \(amzDate) is still later than \(AmzDate.format(nowSeconds + skew)) (\(AmzDate.format(nowSeconds)) + \(minutes) min.)")
        }
        return amzDate
    }

    private func checkScope(_ authorization: SigV4Authorization) throws(AuthError) {
        if let region = configuration.region, authorization.region != region {
            throw AuthError(.credentialScopeMismatch, "Credential should be scoped to a valid region.")
        }
        if let service = configuration.service, authorization.service != service {
            throw AuthError(.credentialScopeMismatch, "Credential should be scoped to correct service: '\(service)'.")
        }
    }

    private func checkSessionToken(
        _ request: SigV4Request, authorization: SigV4Authorization, credential: SigV4Credential
    ) throws(AuthError) {
        let tokens = request.values(ofHeader: "x-amz-security-token")
        guard let expected = credential.sessionToken else {
            guard tokens.isEmpty else {
                throw AuthError(.invalidSecurityToken, "The security token included in the request is invalid.")
            }
            return
        }
        guard let token = tokens.first else {
            throw AuthError(.missingSecurityToken, "The security token included in the request is invalid.")
        }
        guard authorization.signedHeaders.contains("x-amz-security-token") else {
            throw AuthError(.invalidSecurityToken, "X-Amz-Security-Token must be a signed header.")
        }
        guard tokens.count == 1, Bytes.constantTimeEqual(Array(token.utf8), Array(expected.utf8)) else {
            throw AuthError(.invalidSecurityToken, "The security token included in the request is invalid.")
        }
    }

    /// `X-Amz-Content-Sha256` when present (checked against the body), else the body's hash.
    private func payloadHash(_ request: SigV4Request, body: some DataProtocol) throws(AuthError) -> String {
        guard let declared = request.values(ofHeader: "x-amz-content-sha256").first else {
            return Bytes.hexString(SHA256.hash(data: body))
        }
        if declared == Self.unsignedPayload, configuration.allowUnsignedPayload {
            return declared
        }
        let actual = Bytes.hexString(SHA256.hash(data: body))
        guard declared == actual else {
            throw AuthError(.contentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        return declared
    }
}
