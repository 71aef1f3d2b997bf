import CSandboxShim
import Glibc
import Synchronization

/// A root's read-only overlay, mounted once by the launcher under `<state>/roots` and bound by
/// every sandbox of that root, instead of a new overlay in each sandbox. A sandbox's bind took a
/// sixth of an overlay mount's time in a syscall trace (19 against 113 µs, both inflated by the
/// tracing), and at its exit the overlay's teardown (which waits for an expedited RCU grace
/// period, about 45–220 µs in the traces read) no longer happens: the superblock outlives the
/// sandbox. The root is read-only, so sandboxes sharing it can change
/// nothing in it for one another.
///
/// Mounted as `nobody`: overlayfs checks access to its layers with its mounter's credentials as
/// well as the caller's, so the mount is made with those of an unprivileged user (the kernel's
/// overflow uid and gid, no groups, no capability but CAP_SYS_ADMIN), as a sandbox's own overlay
/// was made by a user without rights on the host's files. A file a sandbox could read stops being
/// readable when the host takes its permission away, as before.
///
/// Lifetime: as long as a cached plan or a launch in progress holds it (a sandbox's bind is its
/// own copy and outlives it); then it is detached and its directory removed. At a normal exit of
/// the process what is still mounted is detached too; what a crashed process left is removed by
/// the next launcher's `removeStale()` on the same state directory.
final class SharedRoot: Sendable {
    /// The mount point, `<state>/roots/<pid>-<start time>-<n>`: the process and its start time
    /// tell `removeStale` whether the process that mounted it is still running.
    let path: String
    let layers: [String]
    /// Each layer's device and inode when it was mounted.
    private let identities: [FileIdentity]
    /// The overlay's device: the mount point shows another once the mount is gone.
    private let device: UInt64

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
        let path = directory + "/\(getpid())-\(Self.startTime)-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        // Mode 0: while nothing is mounted on it (an operator unmounted it), a sandbox that binds
        // it itself (no template) fails at its next mount step (EACCES) instead of running in an
        // empty root. A template binds it as the host's root, which the mode does not stop: it is
        // made right after the mount, and every launch checks the mount first (isCurrent).
        guard mkdir(path, 0) == 0 else { throw Self.failure(errno, "mkdir \(path)") }
        let identities = layers.compactMap(FileIdentity.init)
        let flags = UInt(MS_RDONLY | MS_NODEV) | (nosuid ? UInt(MS_NOSUID) : 0)
        var code = ENOENT  // a layer gone since it was checked, or the mount point after the mount
        if identities.count == layers.count {
            code = -cella_mount_as("overlay", path, "overlay", flags, options, Self.overflowID.uid, Self.overflowID.gid)
        }
        guard code == 0, let mounted = FileIdentity(path) else {
            Self.unmount(path)
            throw Self.failure(code == 0 ? ENOENT : code, options)
        }
        self.path = path
        self.layers = layers
        self.identities = identities
        self.device = mounted.device
        Self.mounted.withLock { _ = $0.insert(path) }
        _ = Self.unmountAtExit
    }

    deinit {
        Self.unmount(path)
        Self.mounted.withLock { _ = $0.remove(path) }
    }

    /// Whether the overlay is still mounted and every layer is still the directory that was
    /// mounted (not removed or replaced since): a stat per layer and one of the mount, made before
    /// each launch.
    var isCurrent: Bool {
        FileIdentity(path)?.device == device && zip(layers, identities).allSatisfy { FileIdentity($0) == $1 }
    }

    private static func failure(_ code: Int32, _ detail: String) -> SandboxError {
        SandboxError(.setupFailed, "sandbox setup failed: mount overlay root (\(detail)): \(Errno.describe(code))",
                     stage: "mount overlay root", errno: code)
    }

    private static let counter = Atomic<Int>(0)
    /// This process's start time (clock ticks since boot, /proc/PID/stat): with the pid, it tells
    /// this process from an earlier one that had the same pid.
    private static let startTime = startTime(of: getpid()) ?? "0"
    /// The kernel's overflow ids, what a user namespace shows for an unmapped owner.
    private static let overflowID: (uid: UInt32, gid: UInt32) = {
        func read(_ name: String) -> UInt32 {
            (try? FileIO.read("/proc/sys/kernel/" + name)).flatMap { UInt32($0.trimmingWhitespace()) } ?? 65534
        }
        return (read("overflowuid"), read("overflowgid"))
    }()
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

    static func startTime(of pid: pid_t) -> String? {
        // Field 22; the name (field 2) may hold spaces and parentheses, so count after the last ')'.
        guard let stat = try? FileIO.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// Detaches and removes the roots of processes that are gone (a crashed agent's), or whose
    /// pid now belongs to another process; a running process's roots, this one's included, are
    /// left alone. Returns how many were removed.
    static func removeStale(in directory: String) -> Int {
        var removed = 0
        for name in (try? FileIO.list(directory)) ?? [] {
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = pid_t(parts[0]), pid > 0, startTime(of: pid) != String(parts[1]) else {
                continue
            }
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

    private let directory: String
    private let empty: String
    private let roots = Mutex<[Key: Weak]>([:])

    init(directory: String, empty: String) {
        self.directory = directory
        self.empty = empty
    }

    /// The mounted root for `layers`, mounted now when there is none, when the one there is no
    /// longer current, or when `fresh` (a mountpoint was just made in a layer: a mounted overlay
    /// may keep showing it missing). Mounting holds the lock: launches of roots already planned
    /// never take it.
    func root(layers: [String], nosuid: Bool, fresh: Bool) throws(SandboxError) -> SharedRoot {
        let key = Key(layers: layers, nosuid: nosuid)
        return try roots.withLock { (roots) throws(SandboxError) -> SharedRoot in
            if !fresh, let live = roots[key]?.root, live.isCurrent { return live }
            roots = roots.filter { $0.value.root != nil }
            let made = try SharedRoot(layers: layers, empty: empty, nosuid: nosuid, in: directory)
            roots[key] = Weak(root: made)
            return made
        }
    }
}
