import Glibc

/// Where a `BundleStore` keeps things under its root, all on one file system so that every
/// commit is a `rename(2)`:
///
/// ```
/// <root>/blobs/sha256/<hex>          the archive, exactly as stored
/// <root>/trees/sha256/<hex>/tree/    the unpacked bundle, mounted read-only at /var/task
/// <root>/trees/sha256/<hex>/info     what the unpack made (sizes, counts)
/// <root>/tmp/                        work in progress; anything here after a crash is garbage
/// ```
///
/// The tree and its `info` sit in one directory so a single rename publishes both, and the
/// bookkeeping stays outside what the function can see.
struct BundleStoreLayout: Sendable {
    let root: String

    var blobs: String { root + "/blobs/sha256" }
    var trees: String { root + "/trees/sha256" }
    var temporary: String { root + "/tmp" }

    func blob(_ digest: BundleDigest) -> String { blobs + "/" + digest.hex }
    func treeEntry(_ digest: BundleDigest) -> String { trees + "/" + digest.hex }
    func tree(_ digest: BundleDigest) -> String { treeEntry(digest) + "/tree" }
    func info(_ digest: BundleDigest) -> String { treeEntry(digest) + "/info" }
    func temporary(_ name: String) -> String { temporary + "/" + name }

    /// Creates the directories, mode 0700: only the agent reads the store. The way to the trees
    /// is 0711 (searchable, not listable): a sandbox's child bind-mounts its tree as the user
    /// namespace's root, an unprivileged host user, which must be able to reach it by name.
    func create() throws(BundleError) {
        for directory in [blobs, trees, temporary] { try BundleSyscalls.makeDirectories(directory) }
        for directory in [root, root + "/trees", trees] { chmod(directory, 0o711) }
    }
}
