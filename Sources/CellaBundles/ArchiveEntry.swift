/// One archive member as the zip and tar readers hand it to `TreeWriter`: already classified,
/// its path already checked. Special files never get this far: the readers reject them.
struct ArchiveEntry {
    enum Kind: Equatable {
        case directory
        /// A regular file; its bytes follow through the `FileSink` the writer returns.
        case file(executable: Bool)
        /// The target's raw bytes, checked by the writer.
        case symlink(target: [UInt8])
        /// Tar only: the raw name of an earlier regular-file entry.
        case hardLink(target: [UInt8])
    }

    /// The name as the archive spells it, for messages.
    let name: String
    let path: EntryPath
    let kind: Kind
    /// Seconds since the epoch, from the archive.
    let mtime: Int64

    /// Checks a raw name and builds the entry.
    /// - Throws: `BundleError` from `EntryPath.parse`; `invalidPath` for a non-directory whose
    ///   name is the root or ends in `/`.
    init(rawName: [UInt8], kind: Kind, mtime: Int64, limits: BundleLimits) throws(BundleError) {
        let (path, trailingSlash) = try EntryPath.parse(rawName, limits: limits)
        name = String(decoding: rawName, as: UTF8.self)
        if kind != .directory && (trailingSlash || path.isRoot) {
            throw .entry(.invalidPath, name, "a name ending in / can only be a directory")
        }
        self.path = path
        self.kind = kind
        self.mtime = mtime
    }
}
