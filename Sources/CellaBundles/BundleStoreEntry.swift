import Foundation

/// One bundle in a `BundleStore`, as `list()` reports it: what a cache needs to choose what to
/// evict.
public struct BundleStoreEntry: Sendable, Equatable {
    public var digest: BundleDigest
    /// The archive's size; nil if only the tree is left (an interrupted `remove`).
    public var archiveBytes: Int64?
    /// Bytes of regular files in the tree; nil while not unpacked.
    public var unpackedBytes: Int64?
    /// Regular files in the tree; nil while not unpacked.
    public var files: Int?
    /// The last store of the archive or use of its tree (kept on disk to the minute, so it
    /// survives restarts).
    public var lastUsed: Date

    public init(digest: BundleDigest, archiveBytes: Int64?, unpackedBytes: Int64?, files: Int?, lastUsed: Date) {
        self.digest = digest
        self.archiveBytes = archiveBytes
        self.unpackedBytes = unpackedBytes
        self.files = files
        self.lastUsed = lastUsed
    }
}
