import Glibc

extension BundleStore {
    /// Unpacks a stored archive unless its tree is already in place. Blocking: runs on a worker.
    ///
    /// Order: check the archive still has its digest → unpack into `tmp/<name>/tree` → write
    /// `tmp/<name>/info` → `syncfs` (the tree is thousands of files; one flush of the file
    /// system costs less than an fsync each) → rename `tmp/<name>` to `trees/sha256/<hex>` →
    /// fsync `trees/sha256`. Losing the rename race to another process is fine: its tree is
    /// the same bytes.
    /// - Returns: whether this call unpacked it.
    static func unpackIfNeeded(
        _ digest: BundleDigest, layout: BundleStoreLayout, limits: BundleLimits, temporaryName name: String
    ) throws(BundleError) -> Bool {
        if access(layout.info(digest), F_OK) == 0 { return false }
        let blob = layout.blob(digest)
        guard access(blob, F_OK) == 0 else { throw BundleError(.notFound, "the store holds no bundle \(digest)") }
        var hasher = BundleHasher()
        try BundleSyscalls.forEachChunk(ofFileAt: blob) { hasher.update($0) }
        guard hasher.finalize() == digest else {
            unlink(blob)
            throw BundleError(.corrupt, "stored archive \(digest) no longer matches its digest (damaged on disk); it was deleted, store it again")
        }

        let work = layout.temporary(name)
        // 0711 once renamed into trees/ (see BundleStoreLayout.create); tmp/ itself stays 0700.
        try BundleSyscalls.check("mkdir", work) { mkdir(work, 0o711) }
        defer { try? BundleSyscalls.removeTree(atPath: work) }
        let summary = try BundleUnpacker.unpack(archiveAt: blob, into: work + "/tree", limits: limits)
        let info = work + "/info"
        let fd = try BundleSyscalls.check("open", info) { open(info, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        var text = TreeInfo(summary).text
        try text.withUTF8 { buffer in
            Result { () throws(BundleError) in try BundleSyscalls.writeAll(fd, UnsafeRawBufferPointer(buffer), subject: info) }
        }.get()
        try BundleSyscalls.syncFileSystem(fd, subject: work)
        if rename(work, layout.treeEntry(digest)) != 0 {
            let code = errno
            if code == EEXIST || code == ENOTEMPTY { return false }
            throw .io(.init(call: "rename", subject: layout.treeEntry(digest), errno: code))
        }
        try BundleSyscalls.syncDirectory(layout.trees)
        return true
    }
}
