/// Streams a tar.gz into a `TreeWriter`: gunzips as it goes, honours GNU long names ('L', 'K')
/// and pax `path`, `linkpath`, `size` and `mtime`, and rejects what a bundle must not hold.
final class TarExtractor {
    private let stream: GzipStream
    private let writer: TreeWriter
    private let limits: BundleLimits
    private var longName: [UInt8]?
    private var longLink: [UInt8]?
    private var pax = PaxRecords()
    /// Extension headers ('L', 'K', 'x') since the last real entry.
    private var extensions = 0

    /// Extension headers allowed in front of one entry: one of each kind, and some slack.
    private static let maxExtensions = 8

    init(file: ArchiveFile, writer: TreeWriter, limits: BundleLimits) throws(BundleError) {
        stream = try GzipStream(file: file, limit: limits.maxUnpackedBytes)
        self.writer = writer
        self.limits = limits
    }

    /// Extracts every entry, then reads the gzip stream to its end to check its CRC.
    func run() throws(BundleError) {
        while let header = try nextHeader() {
            let name = header.displayName
            stream.entry = name
            switch header.type {
            case UInt8(ascii: "L"): longName = try metadata(header, cap: limits.maxPathBytes + 1, trimNUL: true)
            case UInt8(ascii: "K"): longLink = try metadata(header, cap: limits.maxPathBytes + 1, trimNUL: true)
            case UInt8(ascii: "x"):
                pax.merge(try PaxRecords(parsing: metadata(header, cap: BundleLimits.maxTarMetadataBytes), entry: name))
            case UInt8(ascii: "g"), UInt8(ascii: "V"):
                // A global pax header or a volume label: counted, read, otherwise ignored.
                try writer.count(name)
                _ = try metadata(header, cap: BundleLimits.maxTarMetadataBytes)
                continue
            default:
                try extract(header)
                longName = nil
                longLink = nil
                pax = PaxRecords()
                extensions = 0
                continue
            }
            extensions += 1
            if extensions > Self.maxExtensions {
                throw .entry(.corrupt, name, "more than \(Self.maxExtensions) extension headers in a row")
            }
        }
        if extensions > 0 { throw BundleError(.corrupt, "archive ends after an extension header") }
        stream.entry = nil
        try stream.drain()
    }

    /// The next header, or nil at the end-of-archive marker or a clean end of the stream.
    private func nextHeader() throws(BundleError) -> TarHeader? {
        stream.entry = nil
        guard let block = try stream.read(TarHeader.blockSize) else { return nil }
        return try TarHeader.parse(block)
    }

    /// The data of a metadata header, held in memory under `cap` bytes.
    private func metadata(_ header: TarHeader, cap: Int, trimNUL: Bool = false) throws(BundleError) -> [UInt8] {
        guard header.size <= Int64(cap) else {
            let code: BundleError.Code = trimNUL ? .pathTooLong : .tooLarge
            throw .entry(code, header.displayName, "tar metadata of \(header.size) bytes is over the \(cap)-byte limit")
        }
        var data = try stream.read(Int(header.size)) ?? []
        try stream.skip(Self.padding(header.size))
        if trimNUL { while data.last == 0 { data.removeLast() } }
        return data
    }

    private func extract(_ header: TarHeader) throws(BundleError) {
        let rawName = pax["path"] ?? longName ?? header.name
        let rawLink = pax["linkpath"] ?? longLink ?? header.linkName
        let name = String(decoding: rawName, as: UTF8.self)
        stream.entry = name
        let size = try pax.integer("size", entry: name) ?? header.size
        let mtime = max(0, try pax.integer("mtime", entry: name) ?? header.mtime)
        if pax.hasKey(prefixed: "GNU.sparse.") { throw .entry(.unsupportedFeature, name, "sparse tar entries are not supported") }
        guard size >= 0 else { throw .entry(.corrupt, name, "negative size") }

        let kind: ArchiveEntry.Kind
        switch header.type {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            // Old (V7) archives mark directories with a trailing slash on a regular entry.
            kind = rawName.last == UInt8(ascii: "/") ? .directory : .file(executable: header.mode & 0o111 != 0)
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "2"): kind = .symlink(target: rawLink)
        case UInt8(ascii: "1"): kind = .hardLink(target: rawLink)
        case UInt8(ascii: "3"): throw .entry(.specialFile, name, "character devices are not allowed in a bundle")
        case UInt8(ascii: "4"): throw .entry(.specialFile, name, "block devices are not allowed in a bundle")
        case UInt8(ascii: "6"): throw .entry(.specialFile, name, "fifos are not allowed in a bundle")
        case let type:
            let shown = (0x21...0x7E).contains(type) ? String(UnicodeScalar(type)) : "0x\(String(type, radix: 16))"
            throw .entry(.unsupportedFeature, name, "tar entry type '\(shown)' is not supported")
        }
        if case .file = kind, stream.produced + size > limits.maxUnpackedBytes {
            throw .entry(.tooLarge, name, "declares \(size) bytes, more than the unpacked-size limit of \(limits.maxUnpackedBytes) allows")
        }
        let entry = try ArchiveEntry(rawName: rawName, kind: kind, mtime: mtime, limits: limits)
        var copied: Int64 = 0
        try writer.add(entry) { (sink) throws(BundleError) in
            while copied < size {
                let chunk = try stream.next(max: Int(min(size - copied, 1 << 20)))
                if chunk.isEmpty { throw .entry(.corrupt, name, "archive ends in the middle of the entry") }
                try sink.write(chunk)
                copied += Int64(chunk.count)
            }
        }
        try stream.skip(size - copied + Self.padding(size))
    }

    private static func padding(_ size: Int64) -> Int64 {
        (Int64(TarHeader.blockSize) - size % Int64(TarHeader.blockSize)) % Int64(TarHeader.blockSize)
    }
}
