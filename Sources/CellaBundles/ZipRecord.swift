import Glibc

/// One central-directory file header (APPNOTE.TXT §4.3.12), with zip64 sizes and offsets
/// applied and the modification time decoded.
struct ZipRecord {
    static let fixedLength = 46
    private static let signature: UInt32 = 0x0201_4B50

    let name: [UInt8]
    let versionMadeBy: UInt16
    let flags: UInt16
    let method: UInt16
    let crc: UInt32
    let compressedSize: Int64
    let uncompressedSize: Int64
    let localHeaderOffset: Int64
    let externalAttributes: UInt32
    /// Seconds since the epoch: the extended-timestamp extra field (0x5455) when present, else
    /// the MS-DOS date and time, read as UTC.
    let mtime: Int64

    var displayName: String { String(decoding: name, as: UTF8.self) }

    /// Parses the header at `position` and moves past it.
    /// - Throws: `BundleError`: `corrupt` for a bad signature, bounds or zip64 field;
    ///   `unsupportedFeature` for encryption, methods other than stored and deflate, or another
    ///   disk.
    static func parse(_ bytes: [UInt8], at position: inout Int, limits: BundleLimits) throws(BundleError) -> ZipRecord {
        let start = position
        guard bytes.count - start >= fixedLength, bytes.le32(start) == signature else {
            throw BundleError(.corrupt, "zip central directory is malformed at byte \(start)")
        }
        let nameLength = Int(bytes.le16(start + 28)), extraLength = Int(bytes.le16(start + 30))
        let commentLength = Int(bytes.le16(start + 32))
        let end = start + fixedLength + nameLength + extraLength + commentLength
        guard end <= bytes.count else { throw BundleError(.corrupt, "zip central directory entry at byte \(start) runs past the directory") }
        let name = Array(bytes[start + fixedLength ..< start + fixedLength + nameLength])
        let display = String(decoding: name, as: UTF8.self)
        let extra = Array(bytes[start + fixedLength + nameLength ..< start + fixedLength + nameLength + extraLength])
        position = end

        let flags = bytes.le16(start + 8), method = bytes.le16(start + 10)
        if flags & 0x0001 != 0 || flags & 0x0040 != 0 || flags & 0x2000 != 0 {
            throw .entry(.unsupportedFeature, display, "encrypted zip entries are not supported")
        }
        guard method == 0 || method == 8 else {
            throw .entry(.unsupportedFeature, display, "zip compression method \(method) is not supported (only stored and deflate)")
        }
        // Fields set to all ones take their value from the zip64 extra field, in this order.
        var uncompressed = UInt64(bytes.le32(start + 24)), compressed = UInt64(bytes.le32(start + 20))
        var offset = UInt64(bytes.le32(start + 42)), disk = UInt32(bytes.le16(start + 34))
        var mtime = dosTime(date: bytes.le16(start + 14), time: bytes.le16(start + 12))
        for (id, data) in try fields(extra, entry: display) {
            switch id {
            case 0x0001:
                var cursor = 0
                func next() throws(BundleError) -> UInt64 {
                    guard cursor + 8 <= data.count else { throw .entry(.corrupt, display, "zip64 extra field is too short") }
                    defer { cursor += 8 }
                    return data.le64(cursor)
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                if compressed == 0xFFFF_FFFF { compressed = try next() }
                if offset == 0xFFFF_FFFF { offset = try next() }
                if disk == 0xFFFF, cursor + 4 <= data.count { disk = data.le32(cursor) }
            case 0x5455 where data.count >= 5 && data[0] & 1 != 0:
                mtime = Int64(Int32(bitPattern: data.le32(1)))
            default: break
            }
        }
        guard disk == 0 else { throw .entry(.unsupportedFeature, display, "entry starts on another disk of a split archive") }
        guard uncompressed <= UInt64(Int64.max), compressed <= UInt64(Int64.max), offset <= UInt64(Int64.max) else {
            throw .entry(.corrupt, display, "zip sizes are out of range")
        }
        return ZipRecord(
            name: name, versionMadeBy: bytes.le16(start + 4), flags: flags, method: method,
            crc: bytes.le32(start + 16), compressedSize: Int64(compressed), uncompressedSize: Int64(uncompressed),
            localHeaderOffset: Int64(offset), externalAttributes: bytes.le32(start + 38), mtime: max(0, mtime))
    }

    /// The extra field's `(id, data)` records.
    private static func fields(_ extra: [UInt8], entry: String) throws(BundleError) -> [(UInt16, [UInt8])] {
        var result: [(UInt16, [UInt8])] = []
        var index = 0
        while index + 4 <= extra.count {
            let id = extra.le16(index), length = Int(extra.le16(index + 2))
            guard index + 4 + length <= extra.count else { throw .entry(.corrupt, entry, "zip extra field runs past its end") }
            result.append((id, Array(extra[index + 4 ..< index + 4 + length])))
            index += 4 + length
        }
        return result
    }

    /// MS-DOS date and time (2-second resolution, no zone), read as UTC; an impossible date
    /// gives the zip epoch.
    private static func dosTime(date: UInt16, time: UInt16) -> Int64 {
        var parts = tm()
        parts.tm_year = Int32(date >> 9) + 80
        parts.tm_mon = Int32((date >> 5) & 0x0F) - 1
        parts.tm_mday = Int32(date & 0x1F)
        parts.tm_hour = Int32(time >> 11)
        parts.tm_min = Int32((time >> 5) & 0x3F)
        parts.tm_sec = Int32(time & 0x1F) * 2
        guard (0...11).contains(parts.tm_mon), parts.tm_mday >= 1 else { return TreeWriter.defaultMtime }
        return Int64(timegm(&parts))
    }
}
