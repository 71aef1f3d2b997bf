/// What the credential store knows about one access key: its secret, the principal it
/// authenticates, and, for temporary credentials, the session token requests must carry.
///
/// `description`, `debugDescription` and the reflection mirror (`dump`) redact the secret and the
/// token, so a credential can be logged or printed by accident without leaking them.
public struct SigV4Credential: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let accessKeyId: String
    /// The secret access key; used only to derive signing keys.
    public let secretAccessKey: String
    /// The principal the key belongs to.
    public let principalId: String
    /// For temporary credentials: the `X-Amz-Security-Token` requests must sign and carry.
    public let sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, principalId: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.principalId = principalId
        self.sessionToken = sessionToken
    }

    public var description: String {
        "SigV4Credential(accessKeyId: \(accessKeyId), principalId: \(principalId), secret: <redacted>"
            + (sessionToken == nil ? ")" : ", sessionToken: <redacted>)")
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: [
            "accessKeyId": accessKeyId, "principalId": principalId, "secretAccessKey": "<redacted>",
            "sessionToken": sessionToken == nil ? "nil" : "<redacted>",
        ])
    }
}

/// Looks access keys up, usually in the store (a cache in front of it is the caller's business).
public protocol SigV4CredentialProvider: Sendable {
    /// The credential for `accessKeyId`, or nil when there is none.
    /// - Throws: When the lookup itself fails (the verifier reports
    ///   ``AuthError/Code/credentialLookupFailed``).
    func credential(forAccessKeyId accessKeyId: String) async throws -> SigV4Credential?
}
