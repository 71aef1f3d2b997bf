import CSandboxShim
import Synchronization

/// A filesystem plan in C memory, built once for each distinct root (layers, code, sizes,
/// options) and shared by every launch that uses it: the children only read it. Making it costs
/// the checks of the host directories, the mountpoints, a statvfs and some fifty strings; a
/// launch of a root seen before skips all of that.
final class PreparedPlan: @unchecked Sendable {  // Immutable after init; its arena is only read.
    let plan: FilesystemPlan
    let steps: UnsafePointer<cella_fs_step>
    let key: Key
    /// The launcher's mount of the root's overlay, which the plan's template binds (without a
    /// template, each sandbox); nil when each sandbox mounts an overlay of its own.
    let root: SharedRoot?
    /// The mount namespace each sandbox of the root copies (with a shared root).
    let template: MountTemplate?
    private let arena = CArena()

    /// - Throws: `SandboxError` when the plan's template cannot be made (the failing step).
    init(_ plan: FilesystemPlan, key: Key, root: SharedRoot?) throws(SandboxError) {
        self.plan = plan
        self.key = key
        self.root = root
        self.template = plan.templateSteps.isEmpty ? nil : try MountTemplate(plan.templateSteps)
        self.steps = plan.cSteps(in: arena)
    }

    /// What makes two specs' plans the same.
    struct Key: Hashable {
        var layers: [String]
        var code: String?
        var tmpMiB: Int
        var shmMiB: Int
        var nosuid: Bool
        var templateClones: Bool
        var workingDirectory: String
        var hostOwnedNamespaces: Bool

        init(_ spec: SandboxSpec) {
            layers = spec.rootfs.layers
            code = spec.rootfs.code
            tmpMiB = spec.rootfs.tmpMiB
            shmMiB = spec.rootfs.shmMiB
            nosuid = spec.protections.nosuid
            templateClones = spec.allowsTemplateClones
            workingDirectory = spec.workingDirectory
            hostOwnedNamespaces = spec.protections.hostOwnedNamespaces
        }
    }

    /// The plans of recent roots. Bounded: past `capacity` distinct roots it starts over (a plan
    /// in use lives on with its launch). Plans are let go only after the lock, returned out of
    /// it: the last reference to a shared root unmounts it, which can wait for an RCU grace period.
    final class Cache: Sendable {
        private let plans = Mutex<[Key: PreparedPlan]>([:])
        let capacity: Int

        init(capacity: Int = 256) { self.capacity = capacity }

        /// The plan for `spec`, made by `make` when there is none (outside the lock: two launches
        /// of a new root may both make it; one is kept).
        func plan(for spec: SandboxSpec, make: (Key) throws(SandboxError) -> PreparedPlan) throws(SandboxError) -> PreparedPlan {
            let key = Key(spec)
            if let hit = plans.withLock({ $0[key] }) { return hit }
            let made = try make(key)
            let (plan, _) = plans.withLock { plans -> (PreparedPlan, [Key: PreparedPlan]) in
                if let raced = plans[key] { return (raced, [:]) }
                let dropped = plans.count >= capacity ? plans : [:]
                if !dropped.isEmpty { plans = [:] }
                plans[key] = made
                return (made, dropped)
            }
            return plan
        }

        /// Forgets every plan (and so releases their shared roots once no launch holds them).
        func removeAll() {
            _ = plans.withLock { plans in
                let dropped = plans
                plans = [:]
                return dropped
            }
        }

        /// Forgets `plan` (not a newer one made for the same root meanwhile).
        func remove(_ plan: PreparedPlan) {
            _ = plans.withLock { plans in
                plans[plan.key] === plan ? plans.removeValue(forKey: plan.key) : nil
            }
        }
    }
}
