import CSandboxShim
import Glibc
import Logging
import Synchronization

/// Starts sandboxes. One per process (an agent's, or the CLI's): it owns the cgroup layout, the
/// compiled default seccomp filter and the staging directory.
public final class SandboxLauncher: Sendable {
    public struct Configuration: Sendable {
        /// Cella's directory in each cgroup hierarchy.
        public var cgroupRoot: String
        /// Host state: holds the staging directory where each child mounts its root, inside its
        /// own mount namespace.
        public var stateDirectory: String
        /// Mount each root's overlay once, under `<stateDirectory>/roots`, and bind it in every
        /// sandbox of that root (SharedRoot), instead of a new overlay in each. Off for a process
        /// that launches once (`cella sandbox run`): it would gain nothing and, if killed, leave
        /// a mount for the next launcher's `removeStale()`.
        public var sharedRoots: Bool

        public init(cgroupRoot: String = "cella", stateDirectory: String = "/run/cella", sharedRoots: Bool = true) {
            self.cgroupRoot = cgroupRoot
            self.stateDirectory = stateDirectory
            self.sharedRoots = sharedRoots
        }
    }

    public let configuration: Configuration
    public let cgroups: CgroupManager
    /// Where a program named without a '/' is searched for when the environment has no PATH.
    static let defaultSearchPath = "/usr/local/bin:/usr/bin:/bin"
    let staging: String
    /// An empty directory: the bottom overlay layer under a rootfs of one layer, and what masked
    /// proc directories are bound from.
    let emptyLayer: String
    /// What every sandbox's /dev is bound from (DevSkeleton).
    let devSkeleton: String
    /// Where the shared roots are mounted (SharedRoot).
    let rootsDirectory: String
    /// The statvfs flags of the state directory's mount, which a read-only remount of a bind from
    /// it must keep (the kernel locks them in a user namespace).
    let stateFlags: UInt
    let defaultFilter: SeccompFilter
    let lastCapability: Int32
    let logger: Logger
    /// Filesystem plans of the roots launched recently, with their host directories checked.
    private let plans = PreparedPlan.Cache()
    /// The overlays the plans bind; nil when each sandbox mounts its own.
    private let sharedRoots: SharedRoots?

    /// Detects cgroups, compiles the default seccomp profile and creates the staging directory.
    /// - Throws: `SandboxError` when the host cannot run sandboxes (not root, no cgroup controllers).
    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "cella.sandbox")) throws(SandboxError) {
        guard geteuid() == 0 else {
            throw SandboxError(.unsupportedHost, "sandboxes need root (to map user namespaces and manage cgroups); run as root")
        }
        self.configuration = configuration
        self.logger = logger
        self.cgroups = try CgroupManager(rootName: configuration.cgroupRoot)
        self.defaultFilter = try SeccompCompiler.shared.filter(for: .default)
        self.staging = configuration.stateDirectory + "/mnt"
        self.emptyLayer = configuration.stateDirectory + "/empty"
        self.devSkeleton = configuration.stateDirectory + "/dev"
        self.rootsDirectory = configuration.stateDirectory + "/roots"
        self.sharedRoots = configuration.sharedRoots ? SharedRoots(directory: rootsDirectory, empty: emptyLayer) : nil
        do {
            try FileIO.makeDirectories(staging)
            try FileIO.makeDirectories(rootsDirectory)
            try FileIO.makeDirectories(emptyLayer)
            chmod(emptyLayer, 0o555)
            // Child mounts happen as the namespace's root, an unprivileged host uid: the path must
            // be searchable by others.
            chmod(configuration.stateDirectory, 0o755)
            chmod(staging, 0o755)
            chmod(rootsDirectory, 0o755)
        } catch {
            throw SandboxError(.launchFailed, "cannot create the staging directory", cause: error)
        }
        // It shows through in every root of one layer: anything in it would be in all of them.
        var st = stat()
        let contents = try? FileIO.list(emptyLayer)
        guard lstat(emptyLayer, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, contents?.isEmpty == true else {
            throw SandboxError(.launchFailed, "\(emptyLayer) must be an empty directory (it is the bottom layer of every one-layer root); remove what is in it")
        }
        try DevSkeleton.make(at: devSkeleton)
        self.stateFlags = cella_locked_mount_flags(configuration.stateDirectory)
        let cap = (try? FileIO.read("/proc/sys/kernel/cap_last_cap")).flatMap { Int32($0.trimmingWhitespace()) }
        self.lastCapability = cap ?? 40
    }

    /// The default profile's BPF program as raw `struct sock_filter` bytes, for a template's
    /// clones to install on top of the template's own filter (`prctl(PR_SET_SECCOMP)` takes it
    /// as is): after that a clone is filtered exactly as a sandbox started from scratch.
    public var cloneFilterProgram: [UInt8] {
        Array(UnsafeRawBufferPointer(defaultFilter.program))
    }

    /// What `removeStale()` removed.
    public struct StaleCleanup: Sendable {
        /// The ids of the sandboxes killed and removed.
        public var sandboxes: [String]
        /// How many shared roots of gone processes were detached.
        public var sharedRoots: Int
    }

    /// Kills and removes what a crashed previous run left under this launcher's cgroup root, and
    /// unmounts the shared roots of processes that are gone. (A sandbox's own mounts need no
    /// cleanup: they only ever exist in its mount namespace.)
    @discardableResult
    public func removeStale() -> StaleCleanup {
        let removed = StaleCleanup(sandboxes: cgroups.removeStale(), sharedRoots: SharedRoot.removeStale(in: rootsDirectory))
        if !removed.sandboxes.isEmpty {
            logger.info("removed stale sandboxes", metadata: ["cella.count": "\(removed.sandboxes.count)"])
        }
        if removed.sharedRoots > 0 {
            logger.info("unmounted the shared roots of a previous run", metadata: ["cella.count": "\(removed.sharedRoots)"])
        }
        return removed
    }

    /// Forgets every cached plan, so each shared root is unmounted once the launches using it
    /// are over (at once when none is in progress). For a clean stop; later launches mount
    /// again.
    public func releaseSharedRoots() {
        plans.removeAll()
    }

    /// Starts `spec` and returns once its program has been exec'd, or throws the stage that failed.
    /// Blocking (clone, pipe reads): call it from a thread that may block, not the cooperative pool.
    /// - Throws: `SandboxError` — `.invalidSpec` before anything is created; `.setupFailed` with
    ///   the child's stage and errno; `.cgroup`, `.launchFailed` for the parent's own steps. On a
    ///   throw, nothing of the sandbox is left behind (a prepared cgroup included).
    /// - Parameters:
    ///   - prepared: an empty cgroup made ahead (`CgroupManager.prepare`), given the spec's limits
    ///     here and owned by the sandbox from then on; nil to make one named by the spec's id.
    ///   - held: stop the child just before `execve`, with everything else in place (namespaces,
    ///     cgroup, mounts, rlimits, privileges dropped, seccomp on), and return then;
    ///     `Sandbox.release(environment:)` execs the program. A sandbox made ahead of need.
    public func launch(_ spec: SandboxSpec, cgroup prepared: SandboxCgroup? = nil, held: Bool = false) throws(SandboxError) -> Sandbox {
        let filters: [sock_fprog]
        let plan: PreparedPlan
        do throws(SandboxError) {
            (filters, plan) = try self.plan(spec)
        } catch {
            prepared?.destroy()
            throw error
        }
        let (pid, pidfd, hold, cgroup, usageFiles) = try start(spec, plan: plan, filters: filters, preparedCgroup: prepared, held: held)
        return Sandbox(id: spec.id, pid: pid, pidfd: pidfd, cgroup: cgroup, held: hold, usageFiles: usageFiles)
    }

    /// Checks the spec and readies what its child needs: the seccomp filters and the mount plan.
    private func plan(_ spec: SandboxSpec) throws(SandboxError) -> ([sock_fprog], PreparedPlan) {
        try SpecValidator.validate(spec)
        var filters = [spec.allowsTemplateClones ? try SeccompCompiler.shared.filter(for: .template).fprog : defaultFilter.fprog]
        if let extra = spec.extraSeccompProfile {
            filters.append(try SeccompCompiler.shared.filter(for: extra).fprog)
        }
        if !spec.protections.seccomp { filters = [] }
        // Once per root: a directory that changes afterwards fails at its mount step instead,
        // with the step and errno; under a shared root, a layer removed or replaced since is
        // seen here (a stat per layer) and the root planned and mounted anew.
        let make = { (key: PreparedPlan.Key) throws(SandboxError) -> PreparedPlan in
            for path in spec.rootfs.layers + (spec.rootfs.code.map { [$0] } ?? []) {
                try SpecValidator.checkHostDirectory(path)
            }
            let madeMountpoints = try self.prepareMountpoints(spec.rootfs)
            let codeFlags = spec.rootfs.code.map { cella_locked_mount_flags($0) } ?? 0
            let root = try self.sharedRoots?.root(
                layers: spec.rootfs.layers, nosuid: spec.protections.nosuid, fresh: madeMountpoints)
            return try PreparedPlan(FilesystemPlan(
                spec: spec, staging: self.staging, sharedRoot: root?.path, template: spec.protections.hostOwnedNamespaces,
                empty: self.emptyLayer, devSkeleton: self.devSkeleton, stateFlags: self.stateFlags, codeFlags: codeFlags),
                key: key, root: root)
        }
        var plan = try plans.plan(for: spec, make: make)
        if plan.root?.isCurrent == false {
            plans.remove(plan)
            plan = try plans.plan(for: spec, make: make)
        }
        return (filters, plan)
    }

    /// Clones the child and, while it mounts its root, makes its cgroup (or gives the prepared
    /// one its limits) and moves it in; the child waits for that before anything of the program's
    /// runs. On a throw the child is dead and the cgroup, prepared or made, is removed.
    private func start(
        _ spec: SandboxSpec, plan shared: PreparedPlan, filters: [sock_fprog], preparedCgroup: SandboxCgroup?, held: Bool
    ) throws(SandboxError) -> (pid_t, Int32, HeldLaunch?, SandboxCgroup, CgroupUsageFiles) {
        var owned = preparedCgroup
        var started = false
        defer { if !started { owned?.destroy() } }
        // With a template, the code comes as a detached copy of its mount, which the child moves
        // onto /var/task (the template holds none); ours is closed once the launch is over.
        var codeTree: Int32 = -1
        defer { if codeTree >= 0 { close(codeTree) } }
        if shared.template != nil, let code = spec.rootfs.code {
            codeTree = cella_code_tree(code, spec.protections.nosuid ? 1 : 0)
            guard codeTree >= 0 else {
                let code = -codeTree
                // As a failed mount step: the code directory is checked again at the next launch.
                plans.remove(shared)
                throw SandboxError(.setupFailed, "sandbox setup failed: bind code on /var/task: \(Errno.describe(code))",
                                   stage: "bind code on /var/task", errno: code)
            }
        }
        var syncPipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        var holdSocket: [Int32] = [-1, -1]
        var code = cella_pipe_cloexec(&syncPipe)
        guard code == 0 else { throw SandboxError(.launchFailed, "pipe2: \(Errno.describe(code))", errno: code) }
        code = cella_pipe_cloexec(&errorPipe)
        // The hold channel is a socket pair, not a pipe: the release is sent with MSG_NOSIGNAL, so
        // releasing a held child that has died fails with EPIPE instead of raising SIGPIPE.
        if code == 0 && held && socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &holdSocket) != 0 {
            code = errno
        }
        guard code == 0 else {
            for fd in syncPipe + errorPipe where fd >= 0 { close(fd) }
            throw SandboxError(.launchFailed, "pipe2/socketpair: \(Errno.describe(code))", errno: code)
        }
        // The parent keeps the read end of the sync pipe too, until the launch is over: a write
        // to a child that died meanwhile then lands in the pipe instead of raising SIGPIPE, and
        // the child's report says what went wrong.
        let parentSync = syncPipe[1]
        var parentError = errorPipe[0]
        var parentHold = holdSocket[1]
        defer {
            for fd in [parentSync, syncPipe[0], parentError, parentHold] where fd >= 0 { close(fd) }
        }

        let arena = CArena()
        // The child reads the config, its strings and its steps from the arena (which keeps the
        // shared plan) until it execs or dies: on every path out of here, whether it exec'd or was
        // killed and reaped.
        arena.keep(shared)
        defer { withExtendedLifetime(arena) {} }
        let plan = shared.plan
        let user = spec.protections.runAsNamespaceRoot ? SandboxSpec.User(uid: 0, gid: 0) : spec.user
        let stdio: (Int32, Int32, Int32)
        switch spec.stdio {
        case .inherit: stdio = (0, 1, 2)
        case .fds(let i, let o, let e): stdio = (i, o, e)
        }
        let fprogs = arena.array(filters)
        var config = cella_child_config()
        config.sync_read_fd = syncPipe[0]
        config.sync_write_fd = syncPipe[1]
        config.error_read_fd = errorPipe[0]
        config.error_write_fd = errorPipe[1]
        config.hold_read_fd = holdSocket[0]
        config.hold_write_fd = holdSocket[1]
        config.stdio = stdio
        config.extra_fd_count = Int32(spec.extraFiles.count)
        config.extra_fds = arena.array(spec.extraFiles)
        config.unshare_cgroup = 1
        config.die_with_parent = spec.dieWithParent ? 1 : 0
        var prepared: NetworkNamespace?
        if case .prepared(let namespace) = spec.network { prepared = namespace }
        config.loopback_up = spec.protections.networkNamespace && prepared == nil ? 1 : 0
        config.net_ns_fd = prepared?.fd ?? -1
        config.fs_step_count = Int32(plan.steps.count)
        config.fs_steps = shared.steps
        config.hostname = arena.string(spec.hostname)
        config.rlimit_count = Int32(spec.rlimits.count)
        config.rlimits = arena.array(spec.rlimits.map {
            cella_rlimit(resource: $0.resource.rawValue, _pad: 0, soft: $0.soft, hard: $0.hard)
        })
        config.uid = user.uid
        config.gid = user.gid
        config.group_count = 1
        config.groups = arena.array([user.gid])
        config.last_cap = lastCapability
        config.drop_capabilities = spec.protections.dropCapabilities ? 1 : 0
        config.no_new_privs = spec.protections.noNewPrivs ? 1 : 0
        config.filter_count = Int32(filters.count)
        config.filters = fprogs
        config.path = arena.string(spec.command[0])
        config.search_path = arena.string(spec.environment["PATH"] ?? Self.defaultSearchPath)
        config.argv = arena.stringVector(spec.command)
        // A held child reads its environment only when released; until then it stays NULL.
        if !held { config.envp = HeldLaunch.environmentVector(spec.environment, in: arena) }
        // In C memory, not on this stack: a held child reads it after this function has returned.
        let cfg = arena.value(config)

        var flags = CELLA_CLONE_NEWPID | CELLA_CLONE_NEWUTS | CELLA_CLONE_NEWIPC
        if spec.protections.networkNamespace && prepared == nil { flags |= CELLA_CLONE_NEWNET }
        // With a template the child joins its mount namespace and makes its user namespace last;
        // otherwise it gets both new at the clone.
        if let template = shared.template {
            cfg.pointee.use_template = 1
            cfg.pointee.mount_ns_fd = template.fd
            cfg.pointee.code_tree_fd = codeTree
            cfg.pointee.owner_uid = spec.idMapping.hostBase
            cfg.pointee.owner_gid = spec.idMapping.hostBase
        } else {
            flags |= CELLA_CLONE_NEWUSER | CELLA_CLONE_NEWNS
        }

        let stack = ChildStack.shared.take()
        // The stack goes back to the pool once the child has exec'd or died, unless a held child
        // still runs on it (then the held launch gives it back).
        var stackInUse = false
        defer { if !stackInUse { ChildStack.shared.give(stack) } }
        var pidfd: Int32 = -1
        let pid = cella_sandbox_clone(cfg, Int32(flags), stack.base, stack.size, &pidfd)
        // Our copies of the child's ends (but the sync pipe's, above): the child holds its own.
        close(errorPipe[1])
        if holdSocket[0] >= 0 { close(holdSocket[0]) }
        guard pid > 0 else {
            throw SandboxError(.launchFailed, "clone: \(Errno.describe(-pid))", errno: -pid)
        }

        func abort(_ error: SandboxError) -> SandboxError {
            _ = cella_pidfd_send_signal(pidfd, SIGKILL)
            var code: Int32 = 0, status: Int32 = 0
            _ = cella_pidfd_wait(pidfd, 0, &code, &status)
            close(pidfd)
            return error
        }
        let setupFailure = { (report: cella_child_error) -> SandboxError in
            // The plan's checks were made once; a mount step that fails (a layer rebuilt or
            // removed, a code directory's mount changed) makes the next launch check anew.
            let mountStages = [CELLA_STAGE_FS_STEP, CELLA_STAGE_CODE_MOUNT, CELLA_STAGE_MOUNT_NS].map { Int32($0.rawValue) }
            if mountStages.contains(report.stage) { self.plans.remove(shared) }
            let stage = self.describe(stage: report.stage, step: report.step, plan: plan, spec: spec)
            return SandboxError(
                .setupFailed, "sandbox setup failed: \(stage): \(Errno.describe(report.error))",
                stage: stage, errno: report.error)
        }
        func release(_ step: String) throws(SandboxError) {
            var go: UInt8 = 1
            guard write(parentSync, &go, 1) == 1 else {
                throw abort(SandboxError(.launchFailed, "cannot release the child (\(step)): \(Errno.describe(errno))", errno: errno))
            }
        }

        func writeMaps() throws(SandboxError) {
            do {
                let map = spec.idMapping.mapLine
                try FileIO.write(map, to: "/proc/\(pid)/uid_map")
                try FileIO.write(map, to: "/proc/\(pid)/gid_map")
            } catch {
                throw abort(SandboxError(.launchFailed, "cannot write the user-namespace maps", cause: error))
            }
        }
        /// Whether a record says the child made its user namespace and waits for its maps (a
        /// templated child writes it once it has mounted).
        func userNamespaceMade(_ report: cella_child_error) -> Bool {
            report.stage == Int32(CELLA_STAGE_USER_NS.rawValue) && report.error == 0
        }
        /// The child's next record but that one, or nil at EOF.
        func nextFailure() -> cella_child_error? {
            let report = HeldLaunch.readReport(parentError)
            return report.map(userNamespaceMade) == true ? HeldLaunch.readReport(parentError) : report
        }
        if shared.template == nil {
            try writeMaps()
            try release("maps written")
        }
        let cgroup: SandboxCgroup
        do throws(SandboxError) {
            if let preparedCgroup {
                try cgroups.configure(preparedCgroup, resources: spec.resources)
                cgroup = preparedCgroup
            } else {
                cgroup = try cgroups.create(id: spec.id, resources: spec.resources)
                owned = cgroup
            }
            do { try cgroup.add(pid: pid) } catch {
                throw SandboxError(.cgroup, "cannot move the sandbox into its cgroup", cause: error)
            }
        } catch {
            let failure = abort(error)
            // Dead now: a child that failed on its own meanwhile has its report complete, and
            // that is the cause (a dead child cannot join a cgroup).
            if let report = nextFailure() { throw setupFailure(report) }
            throw failure
        }
        if shared.template != nil {
            // Its user namespace is made once it has mounted; then its maps, and one release.
            let report = HeldLaunch.readReport(parentError)
            guard let ready = report, userNamespaceMade(ready) else {
                throw abort(report.map(setupFailure)
                    ?? SandboxError(.setupFailed, "sandbox setup failed: the child exited before it made its user namespace", stage: "unshare user namespace"))
            }
            try writeMaps()
        }
        try release("in its cgroup")
        // While the child drops its privileges and execs: the exit then only reads them.
        let usageFiles = CgroupUsageFiles(cgroup)

        // EOF: exec succeeded (the pipe was close-on-exec). A record: the stage that failed, or
        // that a held child is ready.
        let report = HeldLaunch.readReport(parentError)
        withExtendedLifetime(prepared) {}
        switch report {
        case nil where !held:
            started = true
            return (pid, pidfd, nil, cgroup, usageFiles)
        case let report? where held && report.stage == Int32(CELLA_STAGE_HELD.rawValue) && report.error == 0:
            stackInUse = true
            let hold = HeldLaunch(
                arena: arena, config: cfg, stack: stack, holdWrite: parentHold, errorRead: parentError,
                environment: spec.environment, failure: setupFailure)
            (parentHold, parentError) = (-1, -1)
            started = true
            return (pid, pidfd, hold, cgroup, usageFiles)
        case nil:
            throw abort(SandboxError(.setupFailed, "sandbox setup failed: the child exited before it was held", stage: "hold"))
        case let report?:
            throw abort(setupFailure(report))
        }
    }

    private func describe(stage: Int32, step: Int32, plan: FilesystemPlan, spec: SandboxSpec) -> String {
        switch cella_stage(UInt32(stage)) {
        case CELLA_STAGE_SYNC:
            if step == 0 { return "wait for the user-namespace maps" }
            return plan.templateSteps.isEmpty ? "wait for the cgroup" : "wait for the maps and the cgroup"
        case CELLA_STAGE_SETSID: return "setsid"
        case CELLA_STAGE_PDEATHSIG: return "prctl PR_SET_PDEATHSIG"
        case CELLA_STAGE_CGROUP_NS: return "unshare cgroup namespace"
        case CELLA_STAGE_NAMESPACE_ROOT: return "become user-namespace root"
        case CELLA_STAGE_MOUNT_PRIVATE: return "make mounts private"
        case CELLA_STAGE_FS_STEP:
            return plan.steps.indices.contains(Int(step)) ? plan.steps[Int(step)].label : "filesystem step \(step)"
        case CELLA_STAGE_LOOPBACK: return "bring up loopback"
        case CELLA_STAGE_HOSTNAME: return "sethostname"
        case CELLA_STAGE_RLIMIT:
            return spec.rlimits.indices.contains(Int(step)) ? "setrlimit \(spec.rlimits[Int(step)].resource)" : "setrlimit"
        case CELLA_STAGE_STDIO: return "set up fd \(step)"
        case CELLA_STAGE_CLOSE_FDS: return "close_range"
        case CELLA_STAGE_CAP_BOUNDING: return "drop bounding capability \(step)"
        case CELLA_STAGE_CAP_AMBIENT: return "clear ambient capabilities"
        case CELLA_STAGE_SETGROUPS: return "setgroups"
        case CELLA_STAGE_SETGID: return "setresgid \(spec.user.gid)"
        case CELLA_STAGE_SETUID: return "setresuid \(spec.user.uid)"
        case CELLA_STAGE_CAPSET: return "capset"
        case CELLA_STAGE_NO_NEW_PRIVS: return "prctl PR_SET_NO_NEW_PRIVS"
        case CELLA_STAGE_SIGNALS: return "reset signals"
        case CELLA_STAGE_SECCOMP: return "install seccomp filter \(step)"
        case CELLA_STAGE_EXEC: return "execve \(spec.command[0])"
        case CELLA_STAGE_HELD: return "report the hold"
        case CELLA_STAGE_MOUNT_NS: return step == 0 ? "join the mount template" : "unshare mount namespace"
        case CELLA_STAGE_CODE_MOUNT: return "bind code on /var/task"
        case CELLA_STAGE_USER_NS: return "unshare user namespace"
        default: return "stage \(stage)"
        }
    }

    /// Mountpoints the plan needs must exist in the lower layers; create missing ones in the
    /// bottom layer (the runtime's rootfs), once per root (with its plan). Returns whether it
    /// created any.
    private func prepareMountpoints(_ rootfs: SandboxSpec.Rootfs) throws(SandboxError) -> Bool {
        var needed = FilesystemPlan.mountpoints
        if rootfs.code == nil { needed.removeAll { $0 == "var/task" } }
        var made = false
        for mountpoint in needed where !rootfs.layers.contains(where: { FileIO.exists($0 + "/" + mountpoint) }) {
            do { try FileIO.makeDirectories(rootfs.layers.last! + "/" + mountpoint) } catch {
                throw SandboxError(.invalidSpec, "rootfs lacks /\(mountpoint) and it cannot be created", cause: error)
            }
            made = true
        }
        return made
    }
}
