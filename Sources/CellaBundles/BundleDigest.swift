import Crypto

/// The sha256 of a bundle's archive bytes: its name in the store and on the wire.
///
/// Written `sha256:<64 lowercase hex digits>` (the OCI digest form); parsing also takes the 64
/// digits alone, in either case, and always keeps them lowercase.
public struct BundleDigest: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The 64 lowercase hex digits.
    public let hex: String

    /// Parses `sha256:<hex>` or `<hex>`.
    /// - Parameter string: the digest as text; 64 hex digits, optionally after `sha256:`.
    /// - Throws: `BundleError` with code `invalidDigest` when it is anything else.
    public init(parsing string: String) throws(BundleError) {
        var text = Substring(string)
        if text.hasPrefix("sha256:") { text = text.dropFirst("sha256:".count) }
        guard text.utf8.count == 64, text.utf8.allSatisfy(\.isHexDigit) else {
            throw BundleError(
                .invalidDigest,
                "digest \(BundleError.quoted(String(string.prefix(80)))) is not sha256: and 64 hex digits")
        }
        hex = text.lowercased()
    }

    /// The digest of the given bytes.
    public init(of bytes: some Sequence<UInt8>) {
        var hasher = BundleHasher()
        hasher.update(Array(bytes))
        self = hasher.finalize()
    }

    init(hashValue bytes: some Sequence<UInt8>) {
        var hex = ""
        hex.reserveCapacity(64)
        for byte in bytes {
            hex.append(Self.digits[Int(byte >> 4)])
            hex.append(Self.digits[Int(byte & 0x0F)])
        }
        self.hex = hex
    }

    private static let digits = Array("0123456789abcdef")

    /// `sha256:<hex>`.
    public var description: String { "sha256:\(hex)" }

    public static func < (lhs: BundleDigest, rhs: BundleDigest) -> Bool { lhs.hex < rhs.hex }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Incremental sha256, so archives are hashed while they stream to disk.
struct BundleHasher {
    private var state = SHA256()

    mutating func update(_ bytes: UnsafeRawBufferPointer) { state.update(bufferPointer: bytes) }

    mutating func update(_ bytes: [UInt8]) { state.update(data: bytes) }

    func finalize() -> BundleDigest { BundleDigest(hashValue: state.finalize()) }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
