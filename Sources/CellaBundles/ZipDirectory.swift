/// A zip archive's central directory: found through the end-of-central-directory record (and
/// its zip64 form), read in one piece, every field bounds-checked. Per APPNOTE.TXT 6.3, §4.3.
struct ZipDirectory {
    let records: [ZipRecord]
    /// Where the central directory starts: every entry's data must end before it.
    let offset: Int64

    private static let endSignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let endLength = 22
    private static let maxCommentLength = 0xFFFF

    /// Reads and checks the central directory.
    /// - Throws: `BundleError`: `corrupt` for a malformed or truncated directory,
    ///   `unsupportedFeature` for multi-disk archives, `tooManyFiles` past `maxEntries`, and
    ///   whatever `ZipRecord.parse` throws.
    static func read(_ file: ArchiveFile, limits: BundleLimits) throws(BundleError) -> ZipDirectory {
        let tailLength = Int(min(file.size, Int64(endLength + maxCommentLength)))
        let tailStart = file.size - Int64(tailLength)
        let tail = try file.read(at: tailStart, count: tailLength)
        // The record whose comment runs exactly to the end of the file, searching backwards.
        guard let end = stride(from: tail.count - endLength, through: 0, by: -1).first(where: {
            tail.le32($0) == endSignature && $0 + endLength + Int(tail.le16($0 + 20)) == tail.count
        }) else { throw BundleError(.corrupt, "zip end of central directory record not found (truncated archive?)") }
        let endOffset = tailStart + Int64(end)

        var disk = UInt32(tail.le16(end + 4)), directoryDisk = UInt32(tail.le16(end + 6))
        var entriesHere = UInt64(tail.le16(end + 8)), entries = UInt64(tail.le16(end + 10))
        var size = UInt64(tail.le32(end + 12)), offset = UInt64(tail.le32(end + 16))
        var directoryEnd = endOffset
        if endOffset >= 20, try file.read(at: endOffset - 20, count: 4).le32(0) == zip64LocatorSignature {
            let locator = try file.read(at: endOffset - 20, count: 20)
            let recordOffset = locator.le64(8)
            guard recordOffset <= UInt64(endOffset - 20) else { throw BundleError(.corrupt, "zip64 end record offset is out of range") }
            let record = try file.read(at: Int64(recordOffset), count: 56)
            guard record.le32(0) == zip64EndSignature else { throw BundleError(.corrupt, "zip64 end of central directory record not found") }
            disk = record.le32(16)
            directoryDisk = record.le32(20)
            entriesHere = record.le64(24)
            entries = record.le64(32)
            size = record.le64(40)
            offset = record.le64(48)
            directoryEnd = Int64(recordOffset)
        }
        guard disk == 0, directoryDisk == 0, entriesHere == entries else {
            throw BundleError(.unsupportedFeature, "multi-disk (split) zip archives are not supported")
        }
        guard offset <= UInt64(directoryEnd), size <= UInt64(directoryEnd) - offset else {
            throw BundleError(.corrupt, "zip central directory lies outside the archive")
        }
        guard entries <= size / UInt64(ZipRecord.fixedLength) else {
            throw BundleError(.corrupt, "zip central directory is too small for its \(entries) entries")
        }
        let bytes = try file.read(at: Int64(offset), count: Int(size))
        var records: [ZipRecord] = []
        var position = 0
        while records.count < Int(entries) {
            let record = try ZipRecord.parse(bytes, at: &position, limits: limits)
            if records.count == limits.maxEntries {
                throw .entry(.tooManyFiles, record.displayName, "the archive has more than \(limits.maxEntries) entries")
            }
            records.append(record)
        }
        guard position == bytes.count else {
            throw BundleError(.corrupt, "zip central directory has \(bytes.count - position) bytes after its last entry")
        }
        return ZipDirectory(records: records, offset: Int64(offset))
    }
}

extension Array where Element == UInt8 {
    /// Little-endian integers at a byte offset; the caller has checked the bounds.
    func le16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func le32(_ at: Int) -> UInt32 { UInt32(le16(at)) | UInt32(le16(at + 2)) << 16 }
    func le64(_ at: Int) -> UInt64 { UInt64(le32(at)) | UInt64(le32(at + 4)) << 32 }
}
