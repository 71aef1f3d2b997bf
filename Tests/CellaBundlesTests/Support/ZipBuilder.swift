/// Writes zip archives byte by byte, so tests can make any of them: valid ones, and ones that
/// lie, overlap, escape or hide devices.
struct ZipBuilder {
    struct Entry {
        var name: [UInt8]
        /// The uncompressed bytes (for a symbolic link, its target).
        var data: [UInt8] = []
        /// The full Unix `st_mode` (type and permissions); nil writes an MS-DOS entry.
        var mode: UInt32? = 0o100644
        var method: UInt16 = 8
        var flags: UInt16 = 0
        /// A false uncompressed size for both headers.
        var declaredSize: UInt64?
        var crc: UInt32?
        /// A different name in the local header than in the central directory.
        var localName: [UInt8]?
        /// MS-DOS date and time (default 2024-01-02 03:04:06).
        var dosDate: UInt16 = (44 << 9) | (1 << 5) | 2
        var dosTime: UInt16 = (3 << 11) | (4 << 5) | 3
        /// Points the central directory at this earlier entry's local header instead.
        var sharesDataWith: Int?
        /// More extra fields for the central directory record.
        var centralExtra: [UInt8] = []
    }

    static let dosMtime: Int64 = 1_704_164_646  // 2024-01-02T03:04:06Z

    var entries: [Entry] = []
    /// Write zip64 extra fields and end records.
    var zip64 = false

    init(_ entries: [Entry] = [], zip64: Bool = false) {
        self.entries = entries
        self.zip64 = zip64
    }

    static func file(_ name: String, _ text: String = "", mode: UInt32 = 0o644, method: UInt16 = 8) -> Entry {
        Entry(name: Array(name.utf8), data: Array(text.utf8), mode: 0o100000 | mode, method: method)
    }

    static func directory(_ name: String) -> Entry {
        Entry(name: Array(name.utf8), mode: 0o040755, method: 0)
    }

    static func symlink(_ name: String, _ target: String) -> Entry {
        Entry(name: Array(name.utf8), data: Array(target.utf8), mode: 0o120777, method: 0)
    }

    /// An entry with another file type (device, fifo, socket).
    static func special(_ name: String, type: UInt32) -> Entry {
        Entry(name: Array(name.utf8), mode: type | 0o644, method: 0)
    }

    func build() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        var offsets: [UInt64] = []
        for entry in entries {
            let compressed = entry.method == 8 ? Zlib.deflate(entry.data, gzip: false) : entry.data
            let crc = entry.crc ?? Zlib.crc(entry.data)
            let size = entry.declaredSize ?? UInt64(entry.data.count)
            let offset = entry.sharesDataWith.map { offsets[$0] } ?? UInt64(out.count)
            offsets.append(offset)
            if entry.sharesDataWith == nil {
                let localName = entry.localName ?? entry.name
                var extra: [UInt8] = []
                if zip64 { extra.put16(1); extra.put16(16); extra.put64(size); extra.put64(UInt64(compressed.count)) }
                out.put32(0x0403_4B50); out.put16(zip64 ? 45 : 20); out.put16(Int(entry.flags)); out.put16(Int(entry.method))
                out.put16(Int(entry.dosTime)); out.put16(Int(entry.dosDate)); out.put32(crc)
                out.put32(zip64 ? 0xFFFF_FFFF : UInt32(compressed.count)); out.put32(zip64 ? 0xFFFF_FFFF : UInt32(size))
                out.put16(localName.count); out.put16(extra.count)
                out += localName + extra + compressed
            }
            var extra = entry.centralExtra
            if zip64 { extra.put16(1); extra.put16(24); extra.put64(size); extra.put64(UInt64(compressed.count)); extra.put64(offset) }
            let host = entry.mode == nil ? 0 : 3
            let external = entry.mode.map { $0 << 16 } ?? (entry.name.last == UInt8(ascii: "/") ? 0x10 : 0)
            central.put32(0x0201_4B50); central.put16(host << 8 | 63); central.put16(zip64 ? 45 : 20)
            central.put16(Int(entry.flags)); central.put16(Int(entry.method))
            central.put16(Int(entry.dosTime)); central.put16(Int(entry.dosDate)); central.put32(crc)
            central.put32(zip64 ? 0xFFFF_FFFF : UInt32(compressed.count)); central.put32(zip64 ? 0xFFFF_FFFF : UInt32(size))
            central.put16(entry.name.count); central.put16(extra.count); central.put16(0); central.put16(0); central.put16(0)
            central.put32(external); central.put32(zip64 ? 0xFFFF_FFFF : UInt32(offset))
            central += entry.name + extra
        }
        let directoryOffset = UInt64(out.count)
        out += central
        if zip64 {
            let recordOffset = UInt64(out.count)
            out.put32(0x0606_4B50); out.put64(44); out.put16(45); out.put16(45); out.put32(0); out.put32(0)
            out.put64(UInt64(entries.count)); out.put64(UInt64(entries.count))
            out.put64(UInt64(central.count)); out.put64(directoryOffset)
            out.put32(0x0706_4B50); out.put32(0); out.put64(recordOffset); out.put32(1)
        }
        out.put32(0x0605_4B50); out.put16(0); out.put16(0)
        out.put16(zip64 ? 0xFFFF : entries.count); out.put16(zip64 ? 0xFFFF : entries.count)
        out.put32(zip64 ? 0xFFFF_FFFF : UInt32(central.count)); out.put32(zip64 ? 0xFFFF_FFFF : UInt32(directoryOffset))
        out.put16(0)
        return out
    }
}
