import CSandboxShim
import Glibc

/// A mount namespace with a root's mounts that are the same in every sandbox of it (the shared
/// root and `/dev`), pivoted into that root. A sandbox joins it and makes a copy of its own for
/// the rest (its code on `/var/task`, `/proc` and its masks, `/tmp`, `/dev/shm`), so no launch
/// copies the host's mount table, binds the root and `/dev`, pivots or detaches the host's root;
/// those were a third of the child's mount steps and, for the detach, an RCU grace period per
/// launch.
///
/// Made by the host's root on a short-lived thread (`cella_mount_template`), so the namespace
/// belongs to the host's user namespace: the sandboxes that copy it, whose user namespaces are
/// made after, own no capability over their mounts, even before they drop their privileges.
/// Nothing in it is visible from the host, and it ends when the last plan and launch holding it
/// let go (or with the process). It holds no code directory: a function's code is moved into each
/// sandbox's copy (a detached mount made per launch), so a bundle the agent deletes is not kept.
final class MountTemplate: Sendable {
    let fd: Int32

    /// Runs `steps` (binds and remounts under the staging directory, then the pivot into it) in a
    /// new mount namespace, every mount in it made private first.
    /// - Throws: `SandboxError` `.setupFailed` naming the step that failed, with its errno.
    init(_ steps: [FilesystemPlan.Step]) throws(SandboxError) {
        let arena = CArena()
        var fd: Int32 = -1
        var failed: Int32 = -1
        let code = -cella_mount_template(FilesystemPlan.cSteps(steps, in: arena), Int32(steps.count), &fd, &failed)
        guard code == 0 else {
            let stage = steps.indices.contains(Int(failed)) ? steps[Int(failed)].label : "make the mount template"
            throw SandboxError(.setupFailed, "sandbox setup failed: \(stage): \(Errno.describe(code))",
                               stage: stage, errno: code)
        }
        self.fd = fd
    }

    deinit { close(fd) }
}
