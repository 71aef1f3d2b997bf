/// One 512-byte tar header block: POSIX ustar, GNU, or old V7 (numbers in octal, or GNU's
/// base-256 for large values), checked against its checksum.
struct TarHeader {
    static let blockSize = 512

    /// The name, joined with the ustar prefix field when there is one.
    let name: [UInt8]
    let linkName: [UInt8]
    let type: UInt8
    let mode: Int64
    let size: Int64
    let mtime: Int64

    /// The name for messages.
    var displayName: String { String(decoding: name, as: UTF8.self) }

    /// Parses a header block.
    /// - Returns: nil for an all-zero block (the end-of-archive marker).
    /// - Throws: `BundleError` with `corrupt` for a bad checksum or number.
    static func parse(_ block: [UInt8]) throws(BundleError) -> TarHeader? {
        precondition(block.count == blockSize)
        if block.allSatisfy({ $0 == 0 }) { return nil }
        var name = string(block, 0, 100)
        let display = String(decoding: name, as: UTF8.self)
        let stored = try number(block, 148, 8, field: "checksum", entry: display)
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else {
            throw .entry(.corrupt, display, "tar header checksum does not match")
        }
        // POSIX ustar ("ustar\0") has a prefix field; GNU ("ustar  \0") uses that space otherwise.
        if block[257..<263].elementsEqual("ustar\0".utf8) {
            let prefix = string(block, 345, 155)
            if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
        }
        return TarHeader(
            name: name, linkName: string(block, 157, 100), type: block[156],
            mode: try number(block, 100, 8, field: "mode", entry: display),
            size: try number(block, 124, 12, field: "size", entry: display),
            mtime: try number(block, 136, 12, field: "mtime", entry: display))
    }

    /// A NUL-terminated (or field-filling) string field.
    private static func string(_ block: [UInt8], _ offset: Int, _ length: Int) -> [UInt8] {
        let field = block[offset..<offset + length]
        return Array(field.prefix(while: { $0 != 0 }))
    }

    /// An octal field (spaces or NULs around it), or GNU base-256 when the high bit is set.
    private static func number(_ block: [UInt8], _ offset: Int, _ length: Int, field: String,
                               entry: String) throws(BundleError) -> Int64 {
        let bytes = block[offset..<offset + length]
        if bytes.first! & 0x80 != 0 {
            // Base-256, big-endian; 0x80 marks a positive number, 0xFF a negative one.
            guard bytes.first == 0x80 else { throw .entry(.corrupt, entry, "tar header \(field) is negative") }
            var value: Int64 = 0
            for byte in bytes.dropFirst() {
                guard value <= Int64.max >> 8 else { throw .entry(.corrupt, entry, "tar header \(field) is out of range") }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        let digits = bytes.drop(while: { $0 == UInt8(ascii: " ") || $0 == 0 })
            .prefix(while: { $0 != UInt8(ascii: " ") && $0 != 0 })
        var value: Int64 = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit) else {
                throw .entry(.corrupt, entry, "tar header \(field) is not an octal number")
            }
            value = value * 8 + Int64(digit - UInt8(ascii: "0"))
        }
        return value
    }
}
