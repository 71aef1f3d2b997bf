/// Writes tar archives (ustar headers, GNU long names, pax records) block by block, gzipped
/// on request, so tests can make any of them.
struct TarBuilder {
    private(set) var blocks: [UInt8] = []
    static let mtime = 1_700_000_000

    /// Appends a header and its data.
    /// - Parameters:
    ///   - name: the raw name field (at most 100 bytes; longer needs `longName` first).
    ///   - size: a size field that differs from the data's length.
    mutating func add(_ name: [UInt8], type: Character = "0", data: [UInt8] = [], mode: Int = 0o644,
                      link: String = "", size: Int? = nil, mtime: Int = TarBuilder.mtime) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) { header.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(Array(name.prefix(100)), at: 0)
        put(octal(mode, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size ?? data.count, width: 12), at: 124)
        put(octal(mtime, width: 12), at: 136)
        put(Array("        ".utf8), at: 148)
        header[156] = type.asciiValue!
        put(Array(link.utf8.prefix(100)), at: 157)
        put(Array("ustar\u{0}00".utf8), at: 257)
        put(Array("root".utf8), at: 265)
        put(Array("root".utf8), at: 297)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148)
        blocks += header + data
        blocks += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    mutating func add(_ name: String, type: Character = "0", data: [UInt8] = [], mode: Int = 0o644,
                      link: String = "", size: Int? = nil) {
        add(Array(name.utf8), type: type, data: data, mode: mode, link: link, size: size)
    }

    mutating func file(_ name: String, _ text: String = "", mode: Int = 0o644) {
        add(name, data: Array(text.utf8), mode: mode)
    }

    mutating func directory(_ name: String) { add(name, type: "5", mode: 0o755) }
    mutating func symlink(_ name: String, _ target: String) { add(name, type: "2", mode: 0o777, link: target) }
    mutating func hardLink(_ name: String, _ target: String) { add(name, type: "1", link: target) }

    /// A GNU long-name ('L') or long-link ('K') header for the entry that follows.
    mutating func longName(_ name: String, type: Character = "L") {
        add("././@LongLink", type: type, data: Array(name.utf8) + [0])
    }

    /// A pax extended header ('x') for the entry that follows.
    mutating func pax(_ records: [(String, String)]) {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count != length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        add("./PaxHeaders/x", type: "x", data: data)
    }

    /// The archive with its end-of-archive marker.
    var tar: [UInt8] { blocks + [UInt8](repeating: 0, count: 1024) }

    var gzipped: [UInt8] { Zlib.deflate(tar, gzip: true) }
}
