import Glibc
import Synchronization

/// A root's read-only overlay, mounted once by the launcher under `<state>/roots` and bound by
/// every sandbox of that root, instead of a new overlay in each sandbox. A sandbox's bind costs a
/// few microseconds where an overlay mount cost about a hundred, and at its exit the overlay's
/// teardown (which waits for an RCU grace period, 100–250 µs here) no longer happens: the
/// superblock outlives the sandbox. The root is read-only, so sandboxes sharing it can change
/// nothing in it for one another.
///
/// Lifetime: as long as a cached plan or a launch in progress holds it (a sandbox's bind is its
/// own copy and outlives it); then it is detached and its directory removed. At a normal exit of
/// the process what is still mounted is detached too; what a crashed process left is removed by
/// the next launcher's `removeStale()` on the same state directory.
final class SharedRoot: Sendable {
    /// The mount point, `<state>/roots/<pid>-<n>`.
    let path: String
    let layers: [String]
    /// Each layer's device and inode when it was mounted.
    private let identities: [FileIdentity]

    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64

        init?(_ path: String) {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    /// Mounts the overlay of `layers` (topmost first), read-only.
    /// - Throws: `SandboxError` `.setupFailed` at stage "mount overlay root" with the errno.
    init(layers: [String], empty: String, nosuid: Bool, in directory: String) throws(SandboxError) {
        let options = FilesystemPlan.overlayOptions(layers, empty: empty)
        let path = directory + "/\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        // Mode 0: while nothing is mounted on it (an operator unmounted it), a sandbox that binds
        // it fails at its next mount step (EACCES) instead of running in an empty root.
        guard mkdir(path, 0) == 0 || errno == EEXIST else {
            throw Self.failure(errno, "mkdir \(path)")
        }
        let identities = layers.compactMap(FileIdentity.init)
        let flags = UInt(MS_RDONLY | MS_NODEV) | (nosuid ? UInt(MS_NOSUID) : 0)
        guard identities.count == layers.count,
              mount("overlay", path, "overlay", flags, options) == 0 else {
            let code = identities.count == layers.count ? errno : ENOENT
            rmdir(path)
            throw Self.failure(code, options)
        }
        self.path = path
        self.layers = layers
        self.identities = identities
        Self.mounted.withLock { _ = $0.insert(path) }
        _ = Self.unmountAtExit
    }

    deinit {
        Self.unmount(path)
        Self.mounted.withLock { _ = $0.remove(path) }
    }

    /// Whether every layer is still the directory that was mounted (not removed or replaced
    /// since): a stat per layer, made before each launch.
    var isCurrent: Bool {
        zip(layers, identities).allSatisfy { FileIdentity($0) == $1 }
    }

    private static func failure(_ code: Int32, _ detail: String) -> SandboxError {
        SandboxError(.setupFailed, "sandbox setup failed: mount overlay root (\(detail)): \(Errno.describe(code))",
                     stage: "mount overlay root", errno: code)
    }

    private static let counter = Atomic<Int>(0)
    /// Every root this process has mounted and not yet released.
    private static let mounted = Mutex<Set<String>>([])
    /// Installed with the first root: detaches what is left when the process exits normally
    /// (a CLI run, a test process), where no deinit runs.
    private static let unmountAtExit: Void = {
        atexit {
            for path in SharedRoot.mounted.withLock({ $0 }) { SharedRoot.unmount(path) }
        }
    }()

    private static func unmount(_ path: String) {
        // Detached, not unmounted: a launch that cloned its mount namespace a moment ago may
        // still be binding it.
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }

    /// Detaches and removes the roots of processes that are gone (a crashed agent's); a live
    /// process's roots, this one's included, are left alone. Returns how many were removed.
    static func removeStale(in directory: String) -> Int {
        var removed = 0
        for name in (try? FileIO.list(directory)) ?? [] {
            guard let pid = name.split(separator: "-").first.flatMap({ pid_t($0) }), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            unmount(directory + "/" + name)
            removed += 1
        }
        return removed
    }
}

/// The launcher's shared roots by layers and options: a root is mounted when the first plan that
/// needs it is made, shared by every plan with the same layers, and released with the last.
final class SharedRoots: Sendable {
    struct Key: Hashable {
        var layers: [String]
        var nosuid: Bool
    }

    private struct Weak {
        weak var root: SharedRoot?
    }

    let directory: String
    private let empty: String
    private let roots = Mutex<[Key: Weak]>([:])

    init(directory: String, empty: String) {
        self.directory = directory
        self.empty = empty
    }

    /// The mounted root for `layers`, mounted now when there is none or the one there has a layer
    /// removed or replaced since.
    func root(layers: [String], nosuid: Bool) throws(SandboxError) -> SharedRoot {
        let key = Key(layers: layers, nosuid: nosuid)
        return try roots.withLock { (roots) throws(SandboxError) -> SharedRoot in
            if let live = roots[key]?.root, live.isCurrent { return live }
            roots = roots.filter { $0.value.root != nil }
            let made = try SharedRoot(layers: layers, empty: empty, nosuid: nosuid, in: directory)
            roots[key] = Weak(root: made)
            return made
        }
    }
}
