/// Who signed a verified request.
public struct SigV4Identity: Sendable, Hashable {
    public let accessKeyId: String
    public let principalId: String
    /// The region and service of the credential scope, as the client signed them.
    public let region: String
    public let service: String
    /// Whether the credential was temporary (signed with a session token).
    public let usedSessionToken: Bool
}
