import Glibc

extension TreeWriter {
    /// What `finish()` made.
    struct Summary {
        var entries: Int
        var files: Int
        var bytes: Int64
    }

    /// A symbolic link's target, checked lexically from the link's directory: not absolute, not
    /// climbing out. The check through other links of the archive waits for `finish()`, when
    /// all of them are known.
    func checkedLinkTarget(_ raw: [UInt8], of entry: ArchiveEntry) throws(BundleError) -> String {
        _ = try entry.path.resolveLink(target: raw, entry: entry.name, limits: limits)
        return String(decoding: raw, as: UTF8.self)
    }

    /// A tar hard link: only to a regular file an earlier entry wrote, so it can neither reach
    /// outside nor share an inode with a directory or a link.
    func addHardLink(_ entry: ArchiveEntry, target raw: [UInt8], parentFD: Int32) throws(BundleError) {
        let quoted = BundleError.quoted(String(decoding: raw, as: UTF8.self))
        let target: EntryPath
        do { target = try EntryPath.parse(raw, limits: limits).path } catch {
            throw .entry(.hardLinkEscape, entry.name, "hard link target \(quoted) is outside the bundle: \(error.message)")
        }
        guard case .file? = nodes[target] else {
            throw .entry(.hardLinkEscape, entry.name, "hard link target \(quoted) is not a regular file extracted before it")
        }
        guard writes else { return }
        let (targetFD, owned) = try walk(to: target.parent, from: (rootFD, 0), for: entry.name)
        defer { if owned { close(targetFD) } }
        try BundleSyscalls.check("linkat", entry: entry.name) {
            linkat(targetFD, target.name, parentFD, entry.path.name, 0)
        }
    }

    /// Creates the symbolic links, once every one of them resolves inside the root through the
    /// finished tree, then sets directory times (creating entries changes them) and the root's
    /// mode.
    /// - Throws: `BundleError` with `linkEscape`, or `io`.
    func finish() throws(BundleError) -> Summary {
        for (entry, target) in pendingLinks {
            var hops = 0
            if resolveInTree(target, from: entry.path.parent.components, hops: &hops) == nil {
                let quoted = BundleError.quoted(target)
                throw hops > Self.maxLinkHops
                    ? .entry(.linkEscape, entry.name, "symbolic link target \(quoted) goes through more than \(Self.maxLinkHops) links")
                    : .entry(.linkEscape, entry.name, "symbolic link target \(quoted) points outside the bundle root through another link")
            }
        }
        guard writes else { return Summary(entries: entryCount, files: fileCount, bytes: fileBytes) }
        for (entry, target) in pendingLinks {
            let parentFD = try directory(entry.path.parent, for: entry.name)
            try BundleSyscalls.check("symlinkat", entry: entry.name) { symlinkat(target, parentFD, entry.path.name) }
            try setTimes(parentFD, entry.path.name, entry.mtime, entry: entry.name)
        }
        let directories = nodes.compactMap { path, node -> (EntryPath, Int64?)? in
            if case .directory(let mtime) = node { return (path, mtime) }
            return nil
        }
        for (path, mtime) in directories.sorted(by: { $0.0.components.lexicographicallyPrecedes($1.0.components) }) {
            let parentFD = try directory(path.parent, for: path.description)
            try setTimes(parentFD, path.name, mtime ?? Self.defaultMtime, entry: path.description)
        }
        var times = Self.times(rootMtime ?? Self.defaultMtime)
        try BundleSyscalls.check("futimens") { futimens(rootFD, &times) }
        try BundleSyscalls.check("fchmod") { fchmod(rootFD, 0o755) }
        return Summary(entries: entryCount, files: fileCount, bytes: fileBytes)
    }

    /// Resolves a link target as the kernel would, following the archive's other links, and
    /// returns where it lands; nil when it climbs above the root or follows too many links.
    private func resolveInTree(_ target: String, from directory: [String], hops: inout Int) -> [String]? {
        var stack = directory
        for part in target.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." {
                if stack.isEmpty { return nil }
                stack.removeLast()
                continue
            }
            stack.append(String(part))
            guard case .symlink(let next)? = nodes[EntryPath(components: stack)] else { continue }
            hops += 1
            if hops > Self.maxLinkHops { return nil }
            stack.removeLast()
            guard let landed = resolveInTree(next, from: stack, hops: &hops) else { return nil }
            stack = landed
        }
        return stack
    }

    private func setTimes(_ parentFD: Int32, _ name: String, _ mtime: Int64, entry: String) throws(BundleError) {
        let times = Self.times(mtime)
        try BundleSyscalls.check("utimensat", entry: entry) { utimensat(parentFD, name, times, AT_SYMLINK_NOFOLLOW) }
    }
}
