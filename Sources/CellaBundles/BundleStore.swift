import Glibc

/// The node's store of function bundles: archives kept by sha256, each unpacked at most once
/// into a tree that sandboxes mount read-only at `/var/task`.
///
/// An actor: it owns which digests are being unpacked, so concurrent requests for one bundle
/// share one unpack. Blocking work (hashing, copying, unpacking, deleting) runs on
/// `BundleWorkers`, never on the cooperative pool. Every change becomes visible through one
/// `rename(2)` after an fsync, so a crash leaves only garbage under `tmp/`, which
/// `removeIncomplete()` clears. One store (one agent process) owns a root at a time; see
/// `BundleStoreLayout` for the directories.
public actor BundleStore {
    /// The directory everything lives under.
    public nonisolated let root: String
    /// The caps every stored archive and every unpack obeys.
    public nonisolated let limits: BundleLimits
    nonisolated let layout: BundleStoreLayout
    let workers: BundleWorkers

    /// Unpacks under way; later callers for the same digest await the first one's task.
    private var unpacking: [BundleDigest: Task<Result<UnpackOutcome, BundleError>, Never>] = [:]
    /// Digests whose tree is known to be in place.
    private var ready: Set<BundleDigest> = []
    /// Digests being removed: not unpacked meanwhile.
    private var removing: Set<BundleDigest> = []
    /// When each tree's `info` was last touched, to persist last use at most once a minute.
    private var touched: [BundleDigest: ContinuousClock.Instant] = [:]
    /// Names under `tmp/` that work in progress owns; `removeIncomplete()` leaves them alone.
    var activeTemporaries: Set<String> = []
    /// Unpacks this instance has done (what tests count to show one request unpacks once).
    private(set) var unpackCount = 0

    struct UnpackOutcome: Sendable {
        var unpackedNow: Bool
    }

    /// Opens (creating when needed) a store.
    /// - Parameters:
    ///   - root: the store's directory; made mode 0700 with its parents when missing.
    ///   - limits: the caps for archives and unpacks.
    /// - Throws: `BundleError` with `io` when the directories cannot be made.
    public init(root: String, limits: BundleLimits = .default) throws(BundleError) {
        self.root = root
        self.limits = limits
        layout = BundleStoreLayout(root: root)
        workers = .shared
        try layout.create()
    }

    /// Stores an archive held in memory.
    /// - Parameters:
    ///   - bytes: a zip or tar.gz.
    ///   - expected: the digest the archive must have, when the caller knows it.
    /// - Returns: the archive's digest (already stored is fine: content-addressed).
    /// - Throws: `BundleError`: `tooLarge`, `unsupportedFormat`, `digestMismatch`, `io`.
    public func store(archive bytes: [UInt8], expected: BundleDigest? = nil) async throws(BundleError) -> BundleDigest {
        guard Int64(bytes.count) <= limits.maxArchiveBytes else {
            throw BundleError(.tooLarge, "archive is \(bytes.count) bytes, over the \(limits.maxArchiveBytes)-byte limit")
        }
        let name = beginTemporary("blob")
        defer { activeTemporaries.remove(name) }
        return try await workers.perform { [layout, limits] () throws(BundleError) in
            let writer = try BlobWriter(layout: layout, temporaryName: name, limits: limits)
            try bytes.withUnsafeBytes { buffer in Result { () throws(BundleError) in try writer.append(buffer) } }.get()
            return try writer.commit(expected: expected)
        }
    }

    /// Stores a copy of an archive file (the source is left as it is).
    /// - Parameters:
    ///   - path: a zip or tar.gz file.
    ///   - expected: the digest the archive must have, when the caller knows it.
    /// - Returns: the archive's digest.
    /// - Throws: `BundleError`: `tooLarge`, `unsupportedFormat`, `digestMismatch`, `io`.
    public func store(archiveAt path: String, expected: BundleDigest? = nil) async throws(BundleError) -> BundleDigest {
        let name = beginTemporary("blob")
        defer { activeTemporaries.remove(name) }
        return try await workers.perform { [layout, limits] () throws(BundleError) in
            let writer = try BlobWriter(layout: layout, temporaryName: name, limits: limits)
            try BundleSyscalls.forEachChunk(ofFileAt: path) { (chunk) throws(BundleError) in try writer.append(chunk) }
            return try writer.commit(expected: expected)
        }
    }

    /// Whether the store holds the archive.
    public func contains(_ digest: BundleDigest) -> Bool { access(layout.blob(digest), F_OK) == 0 }

    /// Where `digest`'s tree is (or would be) once unpacked.
    public nonisolated func treePath(_ digest: BundleDigest) -> String { layout.tree(digest) }

    /// The unpacked tree of a stored archive, unpacking it first if this is its first use.
    /// Concurrent calls for one digest share a single unpack.
    /// - Returns: the tree's path: mode 0755 directories, 0644 or 0755 files, owned by the
    ///   agent's user; mount it read-only.
    /// - Throws: `BundleError`: `notFound`, any unpack error (the tree is then not created and
    ///   nothing is left under `tmp/`), or `corrupt` if the stored archive no longer matches its
    ///   digest (it is then deleted, so it can be stored again).
    public func unpacked(_ digest: BundleDigest) async throws(BundleError) -> String {
        if ready.contains(digest) {
            markUsed(digest)
            return layout.tree(digest)
        }
        if removing.contains(digest) { throw BundleError(.notFound, "bundle \(digest) is being removed") }
        if let running = unpacking[digest] {
            _ = try await running.value.get()
            return layout.tree(digest)
        }
        let name = beginTemporary("unpack")
        let task = Task { [layout, limits, workers] in
            await workers.run { Result { () throws(BundleError) in
                UnpackOutcome(unpackedNow: try BundleStore.unpackIfNeeded(digest, layout: layout, limits: limits, temporaryName: name))
            } }
        }
        unpacking[digest] = task
        let result = await task.value
        unpacking[digest] = nil
        activeTemporaries.remove(name)
        let outcome = try result.get()
        if outcome.unpackedNow { unpackCount += 1 }
        ready.insert(digest)
        markUsed(digest)
        return layout.tree(digest)
    }

    func beginTemporary(_ kind: String) -> String {
        let name = BundleSyscalls.temporaryName(kind)
        activeTemporaries.insert(name)
        return name
    }

    /// Records a use on disk (the `info` file's mtime), at most once a minute per bundle.
    private func markUsed(_ digest: BundleDigest) {
        let now = ContinuousClock.now
        if let last = touched[digest], now - last < .seconds(60) { return }
        touched[digest] = now
        utimensat(AT_FDCWD, layout.info(digest), nil, 0)
    }

    func forget(_ digest: BundleDigest) {
        ready.remove(digest)
        touched[digest] = nil
    }

    func setRemoving(_ digest: BundleDigest, _ flag: Bool) {
        if flag { removing.insert(digest) } else { removing.remove(digest) }
    }

    /// Waits for an unpack of `digest` under way, if any, whatever its outcome.
    func settle(_ digest: BundleDigest) async { _ = await unpacking[digest]?.value }
}
