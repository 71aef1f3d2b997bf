import CSandboxShim
import Glibc

/// The child's filesystem steps, computed in the parent from the spec. The order is the one
/// ARCHITECTURE.md gives: the read-only overlay root, `/var/task`, `/proc` (before the old root
/// goes: a user namespace may only mount proc while a full proc is visible), masked and read-only
/// proc paths as in the OCI defaults, a minimal `/dev`, `/tmp`, then pivot_root. With a mount
/// template the root, `/dev` and the pivot are the template's steps (`templateSteps`), run once,
/// and the child's are `/proc` with its masks and the two tmpfs, inside the root (`/var/task`
/// comes as a detached mount the launcher makes per launch). The root is
/// read-only, so its overlay needs no upper layer; `/tmp` and `/dev/shm` are the only writable
/// places. `/dev` is the launcher's skeleton (DevSkeleton), bound read-only, with the host's
/// harmless devices bound onto its files (a user namespace cannot mknod) and a tmpfs on `shm`.
struct FilesystemPlan {
    struct Step {
        var kind: cella_fs_kind
        var source: String? = nil
        var target: String
        var fstype: String? = nil
        var data: String? = nil
        var flags: UInt = 0
        var optional = false

        /// What operators read in an error: `mount proc on /proc`.
        var label: String
    }

    /// The steps each sandbox runs. With a mount template, only what differs between sandboxes
    /// of a root (`/proc` and its masks, `/tmp`, `/dev/shm`), at paths inside the root.
    private(set) var steps: [Step] = []
    /// With a shared root, what a MountTemplate runs once for every sandbox of the root: the
    /// shared root bound, `/dev`, the pivot. Empty without one.
    private(set) var templateSteps: [Step] = []

    static let maskedFiles = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"]
    static let maskedDirectories = ["/proc/acpi", "/proc/scsi"]
    static let readOnlyPaths = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"]
    static let devices = ["null", "zero", "full", "random", "urandom"]
    /// Directories that must exist in the lower layers: a user namespace cannot create them in
    /// directories owned by the (unmapped) host root.
    static let mountpoints = ["proc", "dev", "tmp", "var/task"]

    /// - Parameters:
    ///   - staging: a directory that exists on the host; the root is mounted there, in the
    ///     child's or the template's own mount namespace, so the host never sees it.
    ///   - sharedRoot: the launcher's mount of the root's overlay (SharedRoot), bound on
    ///     `staging`; nil to mount an overlay of the layers in each child instead.
    ///   - template: with a shared root, split the steps: what every sandbox of the root shares
    ///     goes to `templateSteps`, for a MountTemplate.
    ///   - empty: an empty host directory, the bottom layer under a rootfs of one layer, and
    ///     what masked proc directories are bound from (without a template).
    ///   - devSkeleton: the directory every sandbox's /dev is bound from.
    ///   - stateFlags: the statvfs flags of the mount `empty` and `devSkeleton` are on, which their
    ///     read-only remounts must keep.
    ///   - codeFlags: the statvfs flags of the code directory's mount, which a read-only remount
    ///     of its bind must keep (the kernel locks them in a user namespace).
    init(spec: SandboxSpec, staging: String, sharedRoot: String?, template: Bool, empty: String, devSkeleton: String,
         stateFlags: UInt, codeFlags: UInt) {
        let rootfs = spec.rootfs
        let nosuid: UInt = spec.protections.nosuid ? UInt(MS_NOSUID) : 0
        let templated = template && sharedRoot != nil
        let root = staging
        // Where the per-sandbox steps find the root: already "/" in a template's copy.
        let inside = templated ? "" : staging
        let readOnly = UInt(MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        var shared: [Step] = []
        if let sharedRoot {
            shared.append(.init(kind: CELLA_FS_MOUNT, source: sharedRoot, target: root, flags: UInt(MS_BIND),
                                label: "bind the shared root"))
        } else {
            shared.append(.init(kind: CELLA_FS_MOUNT, source: "overlay", target: root, fstype: "overlay",
                                data: Self.overlayOptions(rootfs.layers, empty: empty),
                                flags: UInt(MS_RDONLY | MS_NODEV) | nosuid, label: "mount overlay root"))
        }
        // With a template, each launch moves a detached copy of the code's mount in instead
        // (`cella_code_tree`): the template outlives launches, and must not keep a code directory
        // the agent deletes.
        if let code = rootfs.code, !templated {
            shared.append(.init(kind: CELLA_FS_MOUNT, source: code, target: root + "/var/task",
                                flags: UInt(MS_BIND | MS_REC), label: "bind code on /var/task"))
            shared.append(.init(kind: CELLA_FS_MOUNT, target: root + "/var/task",
                                flags: UInt(MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV) | nosuid | codeFlags,
                                label: "remount /var/task read-only"))
        }
        var dev: [Step] = [
            .init(kind: CELLA_FS_MOUNT, source: devSkeleton, target: root + "/dev", flags: UInt(MS_BIND), label: "bind /dev"),
            .init(kind: CELLA_FS_MOUNT, target: root + "/dev", flags: readOnly | stateFlags, label: "remount /dev read-only"),
        ]
        for device in Self.devices {
            dev.append(.init(kind: CELLA_FS_MOUNT, source: "/dev/" + device, target: root + "/dev/" + device,
                             flags: UInt(MS_BIND), label: "bind /dev/\(device)"))
        }

        var proc: [Step] = []
        // A template's clones share its proc; hidepid=invisible hides from each the processes it
        // may not ptrace-read: the template and the other clones (docs/runtime-snapshots.md).
        proc.append(.init(kind: CELLA_FS_MOUNT, source: "proc", target: inside + "/proc", fstype: "proc",
                          data: spec.allowsTemplateClones ? "hidepid=invisible" : nil,
                          flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), label: "mount proc on /proc"))
        for path in Self.maskedFiles {
            proc.append(.init(kind: CELLA_FS_MOUNT, source: "/dev/null", target: inside + path,
                              flags: UInt(MS_BIND), optional: true, label: "mask \(path)"))
        }
        for path in Self.maskedDirectories {
            if templated {
                // The host's empty directory is out of a template's reach: a read-only tmpfs
                // shows the same (runc's mask).
                proc.append(.init(kind: CELLA_FS_MOUNT, source: "cella", target: inside + path, fstype: "tmpfs", data: "size=4k",
                                  flags: UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC), optional: true,
                                  label: "mask \(path)"))
            } else {
                // The empty directory, read-only: what a read-only tmpfs shows, for one bind
                // instead of a new filesystem.
                proc.append(.init(kind: CELLA_FS_MOUNT, source: empty, target: inside + path,
                                  flags: UInt(MS_BIND), optional: true, label: "mask \(path)"))
                proc.append(.init(kind: CELLA_FS_MOUNT, target: inside + path, flags: readOnly | stateFlags,
                                  optional: true, label: "remount the mask of \(path) read-only"))
            }
        }
        for path in Self.readOnlyPaths {
            proc.append(.init(kind: CELLA_FS_MOUNT, source: inside + path, target: inside + path,
                              flags: UInt(MS_BIND | MS_REC), optional: true, label: "bind \(path)"))
            proc.append(.init(kind: CELLA_FS_MOUNT, target: inside + path,
                              flags: UInt(MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
                              optional: true, label: "remount \(path) read-only"))
        }
        let tmpfs: [Step] = [
            .init(kind: CELLA_FS_MOUNT, source: "cella", target: inside + "/dev/shm", fstype: "tmpfs",
                  data: "size=\(rootfs.shmMiB)m,mode=1777", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC),
                  label: "mount tmpfs on /dev/shm"),
            .init(kind: CELLA_FS_MOUNT, source: "cella", target: inside + "/tmp", fstype: "tmpfs",
                  data: "size=\(rootfs.tmpMiB)m,mode=1777", flags: UInt(MS_NODEV) | nosuid,
                  label: "mount tmpfs on /tmp"),
        ]
        let pivot = Step(kind: CELLA_FS_PIVOT, target: root, label: "pivot_root")
        let chdir = Step(kind: CELLA_FS_CHDIR, target: spec.workingDirectory, label: "chdir \(spec.workingDirectory)")
        if templated {
            templateSteps = shared + dev + [pivot]
            // The host's root mounted them: give their roots to the namespace's root, as when it
            // mounts them itself.
            let chown = tmpfs.map {
                Step(kind: CELLA_FS_CHOWN, target: $0.target, label: "give \($0.target) to the namespace's root")
            }
            steps = proc + tmpfs + chown + [chdir]
        } else {
            steps = shared + proc + dev + tmpfs + [pivot, chdir]
        }
    }

    /// The options of a root's overlay. Nothing in the root is writable, so the overlay has no
    /// upper layer (and no tmpfs to hold one) and is read-only from its mount on. Without an
    /// upper, overlayfs needs two lower layers: a single one is stacked on `empty`.
    static func overlayOptions(_ layers: [String], empty: String) -> String {
        "lowerdir=" + (layers.count == 1 ? layers + [empty] : layers).joined(separator: ":") + ",userxattr"
    }

    /// The steps as C structs in `arena`.
    func cSteps(in arena: CArena) -> UnsafePointer<cella_fs_step> { Self.cSteps(steps, in: arena) }

    static func cSteps(_ steps: [Step], in arena: CArena) -> UnsafePointer<cella_fs_step> {
        arena.array(steps.map { step in
            cella_fs_step(
                kind: Int32(step.kind.rawValue), optional: step.optional ? 1 : 0,
                source: arena.optionalString(step.source), target: arena.string(step.target),
                fstype: arena.optionalString(step.fstype), data: arena.optionalString(step.data),
                flags: step.flags)
        })
    }
}
