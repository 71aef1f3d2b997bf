import Glibc

/// Extracts a zip into a `TreeWriter` from its central directory: entries in file order, each
/// checked against its local header, no two overlapping, every inflated byte counted against
/// the unpacked-size cap as it comes out, sizes and CRC-32 checked at each entry's end.
final class ZipExtractor {
    private let file: ArchiveFile
    private let writer: TreeWriter
    private let limits: BundleLimits
    private let inflater: Inflater
    /// Inflated bytes of every entry so far.
    private var produced: Int64 = 0

    private static let localSignature: UInt32 = 0x0403_4B50
    private static let localLength = 30
    private static let chunk = 64 << 10

    init(file: ArchiveFile, writer: TreeWriter, limits: BundleLimits) throws(BundleError) {
        self.file = file
        self.writer = writer
        self.limits = limits
        inflater = try Inflater(.raw)
    }

    func run() throws(BundleError) {
        let directory = try ZipDirectory.read(file, limits: limits)
        var previous: (name: String, end: Int64)?
        for record in directory.records.sorted(by: { $0.localHeaderOffset < $1.localHeaderOffset }) {
            let name = record.displayName
            if let previous, record.localHeaderOffset < previous.end {
                throw .entry(.corrupt, name, "overlaps the data of entry \(BundleError.quoted(previous.name))")
            }
            let dataStart = try localDataStart(record)
            let (end, overflow) = dataStart.addingReportingOverflow(record.compressedSize)
            guard !overflow, end <= directory.offset else {
                throw .entry(.corrupt, name, "data runs past the start of the central directory")
            }
            previous = (name, end)
            try extract(record, dataStart: dataStart)
        }
    }

    /// Where an entry's data starts, after its local header, whose name must match the
    /// central directory's (so no two readers of this archive can disagree on names).
    private func localDataStart(_ record: ZipRecord) throws(BundleError) -> Int64 {
        let header = try file.read(at: record.localHeaderOffset, count: Self.localLength, entry: record.displayName)
        guard header.le32(0) == Self.localSignature else {
            throw .entry(.corrupt, record.displayName, "local file header not found at offset \(record.localHeaderOffset)")
        }
        let nameLength = Int(header.le16(26)), extraLength = Int(header.le16(28))
        let localName = try file.read(at: record.localHeaderOffset + Int64(Self.localLength), count: nameLength, entry: record.displayName)
        guard localName == record.name else {
            throw .entry(.corrupt, record.displayName, "local header names it \(BundleError.quoted(String(decoding: localName, as: UTF8.self)))")
        }
        return record.localHeaderOffset + Int64(Self.localLength + nameLength + extraLength)
    }

    private func extract(_ record: ZipRecord, dataStart: Int64) throws(BundleError) {
        let name = record.displayName
        let kind: ArchiveEntry.Kind
        switch try Self.fileType(record) {
        case S_IFDIR: kind = .directory
        case S_IFREG: kind = .file(executable: record.externalAttributes >> 16 & 0o111 != 0)
        case S_IFLNK:
            var target: [UInt8] = []
            try decode(record, from: dataStart) { (bytes) throws(BundleError) in
                target.append(contentsOf: bytes)
                if target.count > limits.maxPathBytes {
                    throw .entry(.pathTooLong, name, "symbolic link target is longer than \(limits.maxPathBytes) bytes")
                }
            }
            kind = .symlink(target: target)
        case S_IFCHR, S_IFBLK: throw .entry(.specialFile, name, "device files are not allowed in a bundle")
        case S_IFIFO: throw .entry(.specialFile, name, "fifos are not allowed in a bundle")
        case S_IFSOCK: throw .entry(.specialFile, name, "sockets are not allowed in a bundle")
        case let type: throw .entry(.specialFile, name, "unknown file type 0o\(String(type, radix: 8))")
        }
        let entry = try ArchiveEntry(rawName: record.name, kind: kind, mtime: record.mtime, limits: limits)
        try writer.add(entry) { (sink) throws(BundleError) in
            try decode(record, from: dataStart) { (bytes) throws(BundleError) in try sink.write(bytes) }
        }
    }

    /// The entry's file type: from the Unix mode in the external attributes when a Unix (or
    /// macOS) zip wrote it, else a directory for a name ending in `/` or the MS-DOS directory
    /// attribute, a regular file otherwise.
    private static func fileType(_ record: ZipRecord) throws(BundleError) -> mode_t {
        let host = record.versionMadeBy >> 8
        let endsInSlash = record.name.last == UInt8(ascii: "/")
        let type = mode_t(record.externalAttributes >> 16) & S_IFMT
        if (host == 3 || host == 19) && type != 0 { return type }
        return endsInSlash || record.externalAttributes & 0x10 != 0 ? S_IFDIR : S_IFREG
    }

    /// Streams an entry's uncompressed bytes to `consume`, a buffer at a time.
    /// - Throws: `BundleError`: `tooLarge` past the cap (whatever the sizes say), `corrupt` for
    ///   bad deflate data, a size or CRC-32 that differs from the central directory, or data
    ///   that ends early.
    private func decode(
        _ record: ZipRecord, from start: Int64, _ consume: (UnsafeRawBufferPointer) throws(BundleError) -> Void
    ) throws(BundleError) {
        let name = record.displayName
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunk, alignment: 16)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunk * 4, alignment: 16)
        defer { input.deallocate(); output.deallocate() }
        var crc = CRC32()
        var written: Int64 = 0
        var offset = start
        var pending = 0..<0
        var finished = record.method == 0
        let end = start + record.compressedSize

        func emit(_ bytes: UnsafeRawBufferPointer) throws(BundleError) {
            produced += Int64(bytes.count)
            if produced > limits.maxUnpackedBytes {
                throw .entry(.tooLarge, name, "unpacks to more than \(limits.maxUnpackedBytes) bytes (the unpacked-size limit)")
            }
            crc.update(bytes)
            written += Int64(bytes.count)
            try consume(bytes)
        }

        if record.method == 8 { inflater.reset() }
        while offset < end || !pending.isEmpty {
            if pending.isEmpty {
                let want = Int(min(Int64(Self.chunk), end - offset))
                let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<want]), at: offset)
                guard n == want else { throw .entry(.corrupt, name, "archive is truncated") }
                offset += Int64(n)
                pending = 0..<n
            }
            if record.method == 0 {
                try emit(UnsafeRawBufferPointer(rebasing: input[pending]))
                pending = 0..<0
                continue
            }
            if finished { throw .entry(.corrupt, name, "compressed data continues after the end of its deflate stream") }
            let step = try inflater.inflate(UnsafeRawBufferPointer(rebasing: input[pending]), into: output, entry: name)
            pending = pending.lowerBound + step.consumed..<pending.upperBound
            finished = step.finished
            if step.consumed == 0 && step.produced == 0 && !finished {
                throw .entry(.corrupt, name, "compressed data makes no progress")
            }
            try emit(UnsafeRawBufferPointer(rebasing: output[0..<step.produced]))
        }
        // All input is in; the inflater may still hold output for a full buffer's worth.
        while !finished {
            let step = try inflater.inflate(UnsafeRawBufferPointer(start: nil, count: 0), into: output, entry: name)
            guard step.produced > 0 || step.finished else { throw .entry(.corrupt, name, "compressed data ends early") }
            finished = step.finished
            try emit(UnsafeRawBufferPointer(rebasing: output[0..<step.produced]))
        }
        guard written == record.uncompressedSize else {
            throw .entry(.corrupt, name, "unpacks to \(written) bytes but the central directory says \(record.uncompressedSize)")
        }
        guard crc.value == record.crc else { throw .entry(.corrupt, name, "CRC-32 does not match") }
    }
}
