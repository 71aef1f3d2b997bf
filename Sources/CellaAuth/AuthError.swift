/// The one error type of `CellaAuth`: a stable ``Code``, a message safe to return to the client
/// (it never holds a secret, a token or the expected signature), and the underlying cause when
/// another component failed.
///
/// ``awsErrorType`` and ``httpStatus`` give the answer AWS SDKs expect for a SigV4 failure
/// (`X-Amzn-ErrorType` and status), so routes map errors without matching on text.
public struct AuthError: Error, CustomStringConvertible {
    /// Stable, machine-readable codes.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// No `Authorization` header.
        case missingAuthentication = "MissingAuthentication"
        /// `Authorization` is not `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
        case malformedAuthorization = "MalformedAuthorization"
        /// The access key id is not known.
        case unknownAccessKey = "UnknownAccessKey"
        /// No `X-Amz-Date` header.
        case missingDate = "MissingDate"
        /// `X-Amz-Date` is not `YYYYMMDDTHHMMSSZ`.
        case invalidDate = "InvalidDate"
        /// The credential scope's date, region or service does not fit the request.
        case credentialScopeMismatch = "CredentialScopeMismatch"
        /// `X-Amz-Date` is more than the allowed skew (15 minutes) away from now.
        case signatureExpired = "SignatureExpired"
        /// `host` is not among the signed headers.
        case hostNotSigned = "HostNotSigned"
        /// A header listed in SignedHeaders is not in the request.
        case signedHeaderMissing = "SignedHeaderMissing"
        /// `X-Amz-Content-Sha256` is not the SHA-256 of the body (nor `UNSIGNED-PAYLOAD`).
        case contentSHA256Mismatch = "ContentSHA256Mismatch"
        /// The credential needs `X-Amz-Security-Token` and the request has none.
        case missingSecurityToken = "MissingSecurityToken"
        /// The security token is wrong, unsigned, or sent with a credential that takes none.
        case invalidSecurityToken = "InvalidSecurityToken"
        /// The signature does not match.
        case signatureMismatch = "SignatureMismatch"
        /// The credential store failed; see ``underlying``.
        case credentialLookupFailed = "CredentialLookupFailed"
        /// A bearer token that is not `cella_<keyid>_<secret>`.
        case malformedAPIKey = "MalformedAPIKey"
        /// An API key that is unknown or whose secret does not match (not told apart on purpose).
        case invalidAPIKey = "InvalidAPIKey"
    }

    public let code: Code
    /// For people; not stable: never match on it.
    public let message: String
    /// What failed underneath, for ``Code/credentialLookupFailed``.
    public let underlying: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The AWS error type (`X-Amzn-ErrorType`) for this failure.
    public var awsErrorType: String {
        switch code {
        case .missingAuthentication: "MissingAuthenticationTokenException"
        case .malformedAuthorization, .missingDate, .invalidDate, .hostNotSigned: "IncompleteSignatureException"
        case .unknownAccessKey, .missingSecurityToken, .invalidSecurityToken, .malformedAPIKey, .invalidAPIKey:
            "UnrecognizedClientException"
        case .credentialScopeMismatch, .signatureExpired, .signedHeaderMissing, .contentSHA256Mismatch, .signatureMismatch:
            "InvalidSignatureException"
        case .credentialLookupFailed: "ServiceException"
        }
    }

    /// The HTTP status for this failure.
    public var httpStatus: Int {
        switch code {
        case .malformedAuthorization, .missingDate, .invalidDate, .hostNotSigned: 400
        case .malformedAPIKey, .invalidAPIKey: 401
        case .credentialLookupFailed: 500
        default: 403
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
