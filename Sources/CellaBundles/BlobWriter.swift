import Glibc

/// Writes one archive into the store: into a private temporary file, hashed and counted as the
/// bytes arrive, then fsynced and renamed to its digest's name, so `blobs/` only ever holds
/// complete archives whose names are their sha256.
final class BlobWriter {
    private let layout: BundleStoreLayout
    private let limits: BundleLimits
    private let path: String
    private var fd: Int32
    private var hasher = BundleHasher()
    private var head: [UInt8] = []
    private var size: Int64 = 0
    private var published = false

    /// - Parameter name: a fresh name in the store's `tmp/`.
    init(layout: BundleStoreLayout, temporaryName name: String, limits: BundleLimits) throws(BundleError) {
        self.layout = layout
        self.limits = limits
        path = layout.temporary(name)
        fd = try BundleSyscalls.check("open", layout.temporary(name)) {
            open(layout.temporary(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !published { unlink(path) }
    }

    /// Appends bytes.
    /// - Throws: `BundleError` with `tooLarge` past `maxArchiveBytes`, or `io`.
    func append(_ bytes: UnsafeRawBufferPointer) throws(BundleError) {
        size += Int64(bytes.count)
        guard size <= limits.maxArchiveBytes else {
            throw BundleError(.tooLarge, "archive is over the \(limits.maxArchiveBytes)-byte limit")
        }
        if head.count < BundleFormat.magicLength { head += bytes.prefix(BundleFormat.magicLength - head.count) }
        hasher.update(bytes)
        try BundleSyscalls.writeAll(fd, bytes, subject: path)
    }

    /// Checks and publishes the archive.
    /// - Parameter expected: the digest the caller was promised, if any.
    /// - Returns: the archive's digest.
    /// - Throws: `BundleError`: `unsupportedFormat`, `digestMismatch`, or `io`.
    func commit(expected: BundleDigest?) throws(BundleError) -> BundleDigest {
        guard BundleFormat.detect(head) != nil else {
            throw BundleError(.unsupportedFormat, "archive is neither a zip nor a gzip-compressed tar")
        }
        let digest = hasher.finalize()
        if let expected, expected != digest {
            throw BundleError(.digestMismatch, "archive has digest \(digest), expected \(expected)")
        }
        try BundleSyscalls.check("fsync", path) { fsync(fd) }
        close(fd)
        fd = -1
        let target = layout.blob(digest)
        // Content-addressed: an archive already there is this very archive; keep it, mark it used.
        if access(target, F_OK) == 0 {
            utimensat(AT_FDCWD, target, nil, 0)
            return digest
        }
        try BundleSyscalls.check("rename", target) { rename(path, target) }
        published = true
        try BundleSyscalls.syncDirectory(layout.blobs)
        return digest
    }
}
