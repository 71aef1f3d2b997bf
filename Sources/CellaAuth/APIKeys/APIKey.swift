import Crypto

/// A Cella API key: `cella_<keyid>_<secret>`, sent as `Authorization: Bearer <key>`.
///
/// - `cella_` makes leaked keys recognizable to people and secret scanners.
/// - The key id (80 random bits, 16 base32 characters) is not secret and indexes the store, so
///   verification is one lookup, never a scan over all keys.
/// - The secret is 256 bits from the system CSPRNG (BoringSSL's `RAND_bytes` through
///   `SymmetricKey`), 52 base32 characters.
///
/// Only ``stored`` — the key id and a SHA-256 digest — is kept. The whole key exists in memory
/// only to be shown to its owner once, through ``revealedToken``; `description`,
/// `debugDescription` and the reflection mirror redact the secret.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public static let prefix = "cella_"
    static let keyIdLength = 16
    static let secretLength = 52

    /// The public part; the store's index.
    public let keyId: String
    private let secret: String

    /// Creates a new random key.
    public static func generate() -> APIKey {
        APIKey(keyId: Base32.encode(randomBytes(bitCount: 80)), secret: Base32.encode(randomBytes(bitCount: 256)))
    }

    /// Parses a presented bearer token.
    /// - Throws: `AuthError` `.malformedAPIKey` when it is not `cella_<16 base32>_<52 base32>`.
    public init(parsing token: String) throws(AuthError) {
        let bytes = Array(token.utf8)
        let prefix = Array(Self.prefix.utf8)
        let expectedLength = prefix.count + Self.keyIdLength + 1 + Self.secretLength
        let separator = prefix.count + Self.keyIdLength
        guard bytes.count == expectedLength, bytes.starts(with: prefix), bytes[separator] == UInt8(ascii: "_"),
              bytes[prefix.count..<separator].allSatisfy(Base32.isDigit),
              bytes[(separator + 1)...].allSatisfy(Base32.isDigit)
        else {
            throw AuthError(.malformedAPIKey, "an API key is cella_<key id>_<secret>")
        }
        self.init(keyId: String(decoding: bytes[prefix.count..<separator], as: UTF8.self),
                  secret: String(decoding: bytes[(separator + 1)...], as: UTF8.self))
    }

    private init(keyId: String, secret: String) {
        self.keyId = keyId
        self.secret = secret
    }

    /// The full key, secret included: show it to its owner once, never log or store it.
    public var revealedToken: String { Self.prefix + keyId + "_" + secret }

    /// What the store keeps.
    public var stored: StoredAPIKey { StoredAPIKey(keyId: keyId, digest: Self.digest(keyId: keyId, secret: secret)) }

    /// SHA-256 over the key id and the secret. A plain fast hash is enough here, unlike for
    /// passwords: the secret has 256 bits of entropy, so a stolen digest cannot be reversed by
    /// guessing, and slow KDFs (bcrypt, scrypt, Argon2) would add milliseconds to every request
    /// for no gain. Hashing the key id with the secret binds a digest to its row.
    static func digest(keyId: String, secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array("cella-api-key-v1:\(keyId):\(secret)".utf8)))
    }

    public var description: String { "\(Self.prefix)\(keyId)_<redacted>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["keyId": keyId, "secret": "<redacted>"]) }

    /// Random bytes from the system CSPRNG (swift-crypto).
    package static func randomBytes(bitCount: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: bitCount)).withUnsafeBytes { Array($0) }
    }
}
