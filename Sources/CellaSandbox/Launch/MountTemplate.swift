import CSandboxShim
import Glibc
import Synchronization

/// A mount namespace with a root's mounts that are the same in every sandbox of it (the shared
/// root, the code on `/var/task`, `/dev`), pivoted into that root. A sandbox joins it and makes a
/// copy of its own for the rest (`/proc`, its masks, `/tmp`, `/dev/shm`), so no launch copies the
/// host's mount table, binds the root and `/dev`, pivots or detaches the host's root; those were
/// a third of the child's mount steps and, for the detach, an RCU grace period per launch.
///
/// Made by the host's root on a short-lived thread (`cella_mount_template`), so the namespace
/// belongs to the host's user namespace: the sandboxes that copy it own no capability over their
/// mounts, even before they drop their privileges. Nothing in it is visible from the host, and it
/// ends when the last plan and launch holding it let go (or with the process).
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

/// A user namespace with an owner's maps, made once per owner and joined by each of its
/// sandboxes last, after their other namespaces: it owns none of them (they belong to the host's
/// user namespace), so a sandbox's root in it has no power over its own mounts, hostname or
/// network. The maps are the owner's (IDMapping), so every process in it runs as the owner's host
/// ids, as when each sandbox had a user namespace of its own.
final class UserNamespace: Sendable {
    let fd: Int32

    init(_ mapping: IDMapping) throws(SandboxError) {
        var fd: Int32 = -1
        let code = -cella_userns_create(mapping.mapLine, mapping.mapLine, &fd)
        guard code == 0 else {
            throw SandboxError(.launchFailed, "cannot make a user namespace for host ids \(mapping.hostBase)+: \(Errno.describe(code))", errno: code)
        }
        self.fd = fd
    }

    deinit { close(fd) }
}

/// The launcher's user namespaces by mapping. Bounded: past `capacity` owners the oldest is let
/// go (its sandboxes keep it; the next launch of that owner makes another).
final class UserNamespaces: Sendable {
    private struct State {
        var byBase: [UInt32: UserNamespace] = [:]
        var order: [UInt32] = []
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 1024) { self.capacity = capacity }

    func namespace(for mapping: IDMapping) throws(SandboxError) -> UserNamespace {
        if let known = state.withLock({ $0.byBase[mapping.hostBase] }) { return known }
        let made = try UserNamespace(mapping)
        let (kept, _) = state.withLock { state -> (UserNamespace, UserNamespace?) in
            if let raced = state.byBase[mapping.hostBase] { return (raced, nil) }
            var dropped: UserNamespace?
            if state.order.count >= capacity {
                dropped = state.byBase.removeValue(forKey: state.order.removeFirst())
            }
            state.byBase[mapping.hostBase] = made
            state.order.append(mapping.hostBase)
            return (made, dropped)
        }
        return kept
    }
}
