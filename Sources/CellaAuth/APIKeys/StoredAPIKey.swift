import CellaModel

/// The stored form of an API key: its id and the SHA-256 digest of its secret.
public struct StoredAPIKey: Sendable, Hashable, Codable {
    public let keyId: String
    /// SHA-256 of the key id and secret (see ``APIKey``).
    public let digest: [UInt8]

    public init(keyId: String, digest: [UInt8]) {
        self.keyId = keyId
        self.digest = digest
    }

    /// Checks a presented key against this stored one, comparing digests in constant time.
    /// - Throws: `AuthError` `.invalidAPIKey` when the key id or the secret does not match.
    public func verify(_ presented: APIKey) throws(AuthError) {
        let presentedDigest = presented.stored.digest
        guard presented.keyId == keyId, Bytes.constantTimeEqual(presentedDigest, digest) else {
            throw AuthError(.invalidAPIKey, "The API key is not valid.")
        }
    }
}
