/// The archive formats a bundle may come in, told apart by their first bytes, never by a name.
public enum BundleFormat: String, Sendable, CaseIterable {
    /// PKZIP: starts with a local file header (`PK\3\4`), or is an empty archive (`PK\5\6`).
    case zip
    /// A tar archive (ustar, GNU or pax) compressed with gzip (`1f 8b 08`).
    case tarGzip = "tar.gz"

    /// The most leading bytes `detect` looks at.
    public static let magicLength = 4

    /// Recognizes an archive from its first bytes.
    /// - Parameter prefix: the archive's first bytes (`magicLength` suffice).
    /// - Returns: the format, or nil for anything else (including zips with data in front of
    ///   them, such as self-extracting archives).
    public static func detect(_ prefix: some Collection<UInt8>) -> BundleFormat? {
        let head = Array(prefix.prefix(magicLength))
        if head == [0x50, 0x4B, 0x03, 0x04] || head == [0x50, 0x4B, 0x05, 0x06] { return .zip }
        if head.count >= 3 && head[0] == 0x1F && head[1] == 0x8B && head[2] == 0x08 { return .tarGzip }
        return nil
    }
}
