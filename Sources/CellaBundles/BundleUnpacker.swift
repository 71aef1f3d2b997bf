import Glibc

/// Unpacks one bundle archive into a new directory, checking every entry; on any failure the
/// directory is removed again, so a caller never sees half a bundle.
///
/// Synchronous and blocking: `BundleStore` runs it on its own threads, never on the cooperative
/// pool. See `TreeWriter` for what is written and how, `BundleLimits` for the caps.
public enum BundleUnpacker {
    /// What an unpack made.
    public struct Summary: Sendable, Equatable {
        public var format: BundleFormat
        /// Archive members of every kind.
        public var entries: Int
        /// Regular files written (hard links not counted again).
        public var files: Int
        /// Bytes of the regular files written: what the tree takes on disk, give or take blocks.
        public var unpackedBytes: Int64
    }

    /// Unpacks an archive.
    /// - Parameters:
    ///   - path: the zip or tar.gz file.
    ///   - directory: where to unpack; must not exist yet. It is created mode 0700 while entries
    ///     are written and ends 0755.
    ///   - limits: the caps to enforce.
    /// - Returns: what was unpacked.
    /// - Throws: `BundleError`: `unsupportedFormat`, `tooLarge` for the archive itself, any of
    ///   the entry codes, or `io` (including when `directory` already exists).
    public static func unpack(
        archiveAt path: String, into directory: String, limits: BundleLimits = .default
    ) throws(BundleError) -> Summary {
        let file = try ArchiveFile(path: path)
        let format = try detect(file, limits: limits)
        try BundleSyscalls.check("mkdir", directory) { mkdir(directory, 0o700) }
        do throws(BundleError) {
            let rootFD = try BundleSyscalls.check("open", directory) {
                open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            defer { close(rootFD) }
            return try extract(file, format: format, into: TreeWriter(rootFD: rootFD, limits: limits), limits: limits)
        } catch {
            try? BundleSyscalls.removeTree(atPath: directory)
            throw error
        }
    }

    /// Makes every check `unpack` makes — format, sizes, entry count, paths, links, file types,
    /// CRCs — on an archive in memory, writing nothing: what the controller runs on an upload,
    /// so that a bundle a node would refuse is refused before any function can name it.
    /// - Returns: what an unpack would make.
    /// - Throws: `BundleError`, with the same code and message `unpack` would give.
    public static func check(_ archive: [UInt8], limits: BundleLimits = .default) throws(BundleError) -> Summary {
        let file = ArchiveFile(bytes: archive)
        let format = try detect(file, limits: limits)
        return try extract(file, format: format, into: .checkingOnly(limits), limits: limits)
    }

    private static func detect(_ file: ArchiveFile, limits: BundleLimits) throws(BundleError) -> BundleFormat {
        guard file.size <= limits.maxArchiveBytes else {
            throw BundleError(.tooLarge, "archive is \(file.size) bytes, over the \(limits.maxArchiveBytes)-byte limit")
        }
        let head = try file.read(at: 0, count: Int(min(file.size, Int64(BundleFormat.magicLength))))
        guard let format = BundleFormat.detect(head) else {
            throw BundleError(.unsupportedFormat, "archive is neither a zip nor a gzip-compressed tar (it starts with \(hex(head)))")
        }
        return format
    }

    private static func extract(
        _ file: ArchiveFile, format: BundleFormat, into writer: TreeWriter, limits: BundleLimits
    ) throws(BundleError) -> Summary {
        switch format {
        case .zip: try ZipExtractor(file: file, writer: writer, limits: limits).run()
        case .tarGzip: try TarExtractor(file: file, writer: writer, limits: limits).run()
        }
        let made = try writer.finish()
        return Summary(format: format, entries: made.entries, files: made.files, unpackedBytes: made.bytes)
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.isEmpty ? "nothing" : bytes.map { String($0, radix: 16).count == 1 ? "0\(String($0, radix: 16))" : String($0, radix: 16) }.joined(separator: " ")
    }
}
