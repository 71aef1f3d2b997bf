/// Everything needed to start one sandboxed process: what to run, its root filesystem, its
/// resources and its identity. A value type; `SandboxLauncher` turns it into a running `Sandbox`.
///
/// Defaults are the strict ones: every namespace, a read-only root with a 64 MiB `/tmp`,
/// uid/gid 1000 mapped to an unprivileged host range, no capabilities, `no_new_privs`, Cella's
/// default seccomp profile, loopback-only networking.
public struct SandboxSpec: Sendable {
    /// Unique among running sandboxes; names the cgroup. `[A-Za-z0-9_.-]`, at most 64 characters.
    public var id: String
    /// `argv`; the first element is the program, searched in `PATH` from `environment` when it
    /// has no `/`.
    public var command: [String]
    /// The process's whole environment: nothing is inherited from the caller.
    public var environment: [String: String]
    /// Working directory inside the sandbox.
    public var workingDirectory: String
    public var rootfs: Rootfs
    public var resources: Resources
    /// The uid and gid the process runs as, inside the user namespace.
    public var user: User
    /// The host id range the sandbox's ids map onto.
    public var idMapping: IDMapping
    public var hostname: String
    /// Resource limits (setrlimit) applied before exec.
    public var rlimits: [RLimit]
    /// A profile applied on top of Cella's default profile: it can only add restrictions.
    public var extraSeccompProfile: SeccompProfile?
    /// File descriptors (in the caller) that become the sandbox's stdin, stdout and stderr.
    public var stdio: StandardIO
    /// More caller fds passed in as 3, 4, ... (at most 64).
    public var extraFiles: [Int32]
    /// Kill the sandbox when the launching thread's process dies (PR_SET_PDEATHSIG).
    public var dieWithParent: Bool
    /// The network the sandbox sees.
    public var network: Network
    /// Runs under `SeccompProfile.template` instead of the default profile: the process may fork
    /// clones of itself into new namespaces (a template, docs/runtime-snapshots.md). Each clone
    /// installs `SandboxLauncher.cloneFilterProgram` on top before it runs user code.
    public var allowsTemplateClones = false
    /// Protections that only tests turn off, to show that each one is what stops a probe.
    var protections = Protections()

    public init(
        id: String, command: [String], rootfs: Rootfs,
        environment: [String: String] = ["PATH": "/usr/local/bin:/usr/bin:/bin"],
        workingDirectory: String = "/", resources: Resources = Resources(),
        user: User = User(), idMapping: IDMapping = IDMapping(), hostname: String = "cella",
        rlimits: [RLimit] = RLimit.defaults, extraSeccompProfile: SeccompProfile? = nil,
        stdio: StandardIO = .inherit, extraFiles: [Int32] = [], dieWithParent: Bool = false,
        network: Network = .loopbackOnly
    ) {
        self.id = id
        self.command = command
        self.rootfs = rootfs
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.resources = resources
        self.user = user
        self.idMapping = idMapping
        self.hostname = hostname
        self.rlimits = rlimits
        self.extraSeccompProfile = extraSeccompProfile
        self.stdio = stdio
        self.extraFiles = extraFiles
        self.dieWithParent = dieWithParent
        self.network = network
    }
}

extension SandboxSpec {
    /// The root filesystem: a read-only overlay of host directories, optionally the function's
    /// code read-only at `/var/task`, and size-limited tmpfs at `/tmp` and `/dev/shm`, the only
    /// writable places.
    ///
    /// Layers are typically owned by host root, which no sandbox maps; the sandbox reads them
    /// as `nobody`. (A writable root would need those files copied up under an unmapped owner,
    /// which the kernel refuses, so Cella does not offer one.)
    public struct Rootfs: Sendable {
        /// Host directories stacked as the overlay's lower layers, topmost first.
        public var layers: [String]
        /// A host directory mounted read-only at `/var/task`.
        public var code: String?
        /// Size of `/tmp` in MiB.
        public var tmpMiB: Int
        /// Size of `/dev/shm` in MiB.
        public var shmMiB: Int

        public init(
            layers: [String], code: String? = nil, tmpMiB: Int = 64, shmMiB: Int = 16
        ) {
            self.layers = layers
            self.code = code
            self.tmpMiB = tmpMiB
            self.shmMiB = shmMiB
        }
    }

    /// Cgroup limits, set before the process runs any of its own code.
    public struct Resources: Sendable, Equatable {
        /// Memory limit in bytes; swap is not allowed on top of it.
        public var memoryBytes: UInt64
        /// CPU quota in CPUs (0.5 = half of one CPU per period); nil for no quota.
        public var cpus: Double?
        /// Maximum number of processes and threads.
        public var pids: Int

        public init(memoryBytes: UInt64 = 128 << 20, cpus: Double? = 1.0, pids: Int = 128) {
            self.memoryBytes = memoryBytes
            self.cpus = cpus
            self.pids = pids
        }
    }

    /// Ids inside the user namespace.
    public struct User: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public init(uid: UInt32 = 1000, gid: UInt32 = 1000) {
            self.uid = uid
            self.gid = gid
        }
    }

    /// One setrlimit.
    public struct RLimit: Sendable, Equatable {
        public enum Resource: Int32, Sendable {
            case cpu = 0, fsize = 1, data = 2, stack = 3, core = 4, nproc = 6, nofile = 7,
                memlock = 8, addressSpace = 9, locks = 10, sigpending = 11, msgqueue = 12
        }
        public var resource: Resource
        public var soft: UInt64
        public var hard: UInt64
        public init(_ resource: Resource, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.soft = soft
            self.hard = hard
        }
        /// `RLIMIT_NOFILE` 1024 and no core dumps.
        public static let defaults: [RLimit] = [
            RLimit(.nofile, soft: 1024, hard: 1024), RLimit(.core, soft: 0, hard: 0),
        ]
    }

    /// Networking. Every choice is a namespace of the sandbox's own: the host's interfaces and its
    /// loopback services are never reachable.
    public enum Network: Sendable {
        /// A new namespace with only loopback.
        case loopbackOnly
        /// A namespace prepared by the caller (with its own listening sockets, say), joined.
        case prepared(NetworkNamespace)
    }

    /// Where stdin, stdout and stderr come from.
    public enum StandardIO: Sendable {
        /// The caller's own 0, 1 and 2.
        case inherit
        /// Explicit caller fds (pipes for capture); they are not closed by the launcher.
        case fds(stdin: Int32, stdout: Int32, stderr: Int32)
    }

    /// Protections a test may switch off one at a time. Not public: nothing outside the tests can
    /// weaken a sandbox.
    struct Protections: Sendable {
        var seccomp = true
        var dropCapabilities = true
        var noNewPrivs = true
        /// Mount the root, `/tmp` and the code `nosuid`.
        var nosuid = true
        var networkNamespace = true
        /// Run as the user-namespace root instead of `user`.
        var runAsNamespaceRoot = false
        /// Launch from a mount template (with a shared root) and make the user namespace last:
        /// the sandbox's other namespaces (but its cgroup namespace) then belong to the host's
        /// user namespace, and even its root has no capability over its mounts, hostname or
        /// network. Off, its user namespace is made first and owns the others (as without a
        /// shared root).
        var hostOwnedNamespaces = true
    }
}
