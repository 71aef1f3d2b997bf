import Glibc

/// Writes archive entries into an empty directory without ever following a link the archive
/// made, whatever order its entries come in.
///
/// Every path is walked from the root's descriptor one component at a time with
/// `openat(O_DIRECTORY | O_NOFOLLOW)`; files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`;
/// symbolic links are created only in `finish()`, after every regular file, and only when they
/// resolve inside the root through the whole tree; a hard link must name a regular file already
/// written. So an entry can never redirect a later write outside (the "zip slip" through a link),
/// and a half-written tree is never seen: callers extract into a private directory and rename it.
///
/// Modes are normalized: files 0644, or 0755 when the archive set any execute bit; directories
/// 0755; never setuid, setgid or sticky. Owner is whoever runs the agent (root). Modification
/// times are the archive's, so that a bundle's `.pyc` files stay valid for their sources; a
/// directory the archive does not list gets `TreeWriter.defaultMtime`.
///
/// A writer made with `checkingOnly()` writes nothing and makes every check all the same: the
/// controller runs it over an upload, so a bundle a node would refuse is refused at upload.
final class TreeWriter {
    enum Node {
        /// `mtime` is nil for a directory the archive only implies.
        case directory(mtime: Int64?)
        case file
        case symlink(target: String)
    }

    /// 1980-01-01T00:00:00Z, the zip epoch: for directories no entry describes.
    static let defaultMtime: Int64 = 315_532_800
    /// Links followed in one resolution before it counts as a loop (Linux's MAXSYMLINKS).
    static let maxLinkHops = 40

    let rootFD: Int32
    let limits: BundleLimits
    /// False for a writer that only checks.
    let writes: Bool
    var nodes: [EntryPath: Node] = [:]
    var rootMtime: Int64?
    var pendingLinks: [(entry: ArchiveEntry, target: String)] = []
    private var cachedDirectory: (path: EntryPath, fd: Int32)?

    /// Members seen, of every kind.
    private(set) var entryCount = 0
    /// Regular files written (hard links excluded) and their bytes.
    private(set) var fileCount = 0
    private(set) var fileBytes: Int64 = 0

    /// - Parameter rootFD: an open, empty directory; borrowed, not closed here.
    init(rootFD: Int32, limits: BundleLimits) {
        self.rootFD = rootFD
        self.limits = limits
        writes = true
    }

    private init(checkingWith limits: BundleLimits) {
        rootFD = -1
        self.limits = limits
        writes = false
    }

    /// A writer that makes every check and touches no file system.
    static func checkingOnly(_ limits: BundleLimits) -> TreeWriter { TreeWriter(checkingWith: limits) }

    deinit { if let cachedDirectory { close(cachedDirectory.fd) } }

    /// Counts one archive member against `maxEntries`; `add` calls it, readers call it for
    /// members that write nothing (tar global headers).
    func count(_ name: String) throws(BundleError) {
        entryCount += 1
        if entryCount > limits.maxEntries {
            throw .entry(.tooManyFiles, name, "the archive has more than \(limits.maxEntries) entries")
        }
    }

    /// Adds one entry.
    /// - Parameters:
    ///   - entry: the checked entry.
    ///   - contents: for a regular file, writes its bytes into the sink; not called otherwise.
    /// - Throws: `BundleError`: `tooManyFiles`, `duplicateEntry`, `linkTraversal`, `linkEscape`,
    ///   `hardLinkEscape`, `io`, or whatever `contents` throws.
    func add(_ entry: ArchiveEntry, contents: (inout FileSink) throws(BundleError) -> Void) throws(BundleError) {
        try count(entry.name)
        if entry.path.isRoot {
            rootMtime = entry.mtime
            return
        }
        let parentFD = try directory(entry.path.parent, for: entry.name)
        try claim(entry)
        let name = entry.path.name
        switch entry.kind {
        case .directory:
            if case .directory(nil)? = nodes[entry.path] {
                nodes[entry.path] = .directory(mtime: entry.mtime)
                return
            }
            guard writes else {
                nodes[entry.path] = .directory(mtime: entry.mtime)
                return
            }
            try BundleSyscalls.check("mkdirat", entry: entry.name) { mkdirat(parentFD, name, 0o755) }
            let fd = try BundleSyscalls.check("openat", entry: entry.name) {
                openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            defer { close(fd) }
            try BundleSyscalls.check("fchmod", entry: entry.name) { fchmod(fd, 0o755) }
            nodes[entry.path] = .directory(mtime: entry.mtime)
        case .file(let executable):
            guard writes else {
                nodes[entry.path] = .file
                var sink = FileSink(fd: -1, entry: entry.name)
                try contents(&sink)
                fileCount += 1
                fileBytes += sink.written
                return
            }
            let fd = try BundleSyscalls.check("openat", entry: entry.name) {
                openat(parentFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            defer { close(fd) }
            nodes[entry.path] = .file
            var sink = FileSink(fd: fd, entry: entry.name)
            try contents(&sink)
            try BundleSyscalls.check("fchmod", entry: entry.name) { fchmod(fd, executable ? 0o755 : 0o644) }
            var times = Self.times(entry.mtime)
            try BundleSyscalls.check("futimens", entry: entry.name) { futimens(fd, &times) }
            fileCount += 1
            fileBytes += sink.written
        case .symlink(let raw):
            let target = try checkedLinkTarget(raw, of: entry)
            nodes[entry.path] = .symlink(target: target)
            pendingLinks.append((entry, target))
        case .hardLink(let raw):
            try addHardLink(entry, target: raw, parentFD: parentFD)
            nodes[entry.path] = .file
        }
    }

    /// Rejects an entry whose path another entry already took; an explicit entry for a
    /// directory that earlier paths only implied is fine.
    private func claim(_ entry: ArchiveEntry) throws(BundleError) {
        switch (nodes[entry.path], entry.kind) {
        case (nil, _), (.directory(nil)?, .directory): return
        case (.directory?, _): throw .entry(.duplicateEntry, entry.name, "path is already a directory in the archive")
        default: throw .entry(.duplicateEntry, entry.name, "path appears twice in the archive")
        }
    }

    /// The descriptor of a directory inside the tree, walked from the root without following
    /// links, creating the directories the archive implies. Borrowed: valid until the next call.
    func directory(_ path: EntryPath, for entry: String) throws(BundleError) -> Int32 {
        var base = (fd: rootFD, depth: 0)
        if let cached = cachedDirectory, path.components.starts(with: cached.path.components) {
            base = (cached.fd, cached.path.components.count)
        }
        let (fd, owned) = try walk(to: path, from: base, for: entry)
        if owned {
            if let cached = cachedDirectory { close(cached.fd) }
            cachedDirectory = (path, fd)
        }
        return fd
    }

    /// Opens `path` starting at `base`, a directory `depth` components down it.
    /// - Returns: the descriptor, and whether the caller owns (must close) it; `base.fd` is
    ///   returned unowned when there was nothing left to walk.
    func walk(to path: EntryPath, from base: (fd: Int32, depth: Int), for entry: String) throws(BundleError) -> (fd: Int32, owned: Bool) {
        var fd = base.fd
        var owned = false
        do throws(BundleError) {
            for index in base.depth..<path.components.count {
                let prefix = EntryPath(components: Array(path.components[...index]))
                let name = path.components[index]
                var created = false
                switch nodes[prefix] {
                case .directory?: break
                case .symlink?:
                    throw BundleError.entry(.linkTraversal, entry, "path goes through the symbolic link \(BundleError.quoted(prefix.description))")
                case .file?:
                    throw BundleError.entry(.duplicateEntry, entry, "\(BundleError.quoted(prefix.description)) is a file in the archive, not a directory")
                case nil:
                    if writes { try BundleSyscalls.check("mkdirat", entry: entry) { mkdirat(fd, name, 0o755) } }
                    nodes[prefix] = .directory(mtime: nil)
                    created = true
                }
                guard writes else { continue }
                let next = try BundleSyscalls.check("openat", entry: entry) {
                    openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                if owned { close(fd) }
                fd = next
                owned = true
                if created { try BundleSyscalls.check("fchmod", entry: entry) { fchmod(fd, 0o755) } }
            }
        } catch {
            if owned { close(fd) }
            throw error
        }
        return (fd, owned)
    }

    static func times(_ mtime: Int64) -> [timespec] {
        let time = timespec(tv_sec: Int(mtime), tv_nsec: 0)
        return [time, time]
    }
}

/// Where a regular file's bytes go; with no descriptor (-1) they are only counted.
struct FileSink {
    let fd: Int32
    let entry: String
    private(set) var written: Int64 = 0

    init(fd: Int32, entry: String) {
        self.fd = fd
        self.entry = entry
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(BundleError) {
        if fd >= 0 { try BundleSyscalls.writeAll(fd, bytes, entry: entry) }
        written += Int64(bytes.count)
    }
}
