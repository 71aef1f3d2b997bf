import Glibc

/// Finds the host's cgroup layout once and makes one cgroup per sandbox under Cella's own root
/// (`<hierarchy>/<rootName>/<sandbox id>`), on cgroup v2 where its controllers are available and
/// on the v1 hierarchies otherwise (the hybrid layout of many hosts, including Cella's CI).
public struct CgroupManager: Sendable {
    public enum Layout: Sendable, Equatable {
        /// The unified hierarchy, mounted at `mount`.
        case v2(mount: String)
        /// One directory per v1 controller; cpu and cpuacct may share one.
        case v1(memory: String, cpu: String, cpuacct: String?, pids: String, swapAccounting: Bool)
    }

    public let layout: Layout
    /// The directory name under each hierarchy that holds Cella's cgroups.
    public let rootName: String

    /// Detects the layout from `/proc/self/mountinfo` and creates Cella's root cgroups.
    /// - Parameters:
    ///   - favorDynamicModifications: remount the cgroup2 hierarchy with `favordynmods` (see
    ///     `favorDynamicModifications()`).
    /// - Throws: `SandboxError.unsupportedHost` when memory, cpu or pids control is missing.
    public init(rootName: String = "cella", favorDynamicModifications: Bool = true) throws(SandboxError) {
        self.rootName = rootName
        self.layout = try Self.detect()
        try createRoots()
        if favorDynamicModifications { _ = Self.favorDynamicModifications() }
    }

    /// Moving a process into a cgroup takes the kernel's global threadgroup rwsem for writing,
    /// which by default waits for an RCU grace period: 5-25 ms on the development machines, per
    /// sandbox. The cgroup2 mount option `favordynmods` (Linux 6.0+) keeps that lock in its slow
    /// mode permanently, making migrations fast at a small cost to fork and exit; the lock is
    /// global, so it helps the v1 hierarchies of a hybrid host too. A remount resets the flags it
    /// does not name, so the mount's current options are repeated. Returns whether it is on.
    @discardableResult
    public static func favorDynamicModifications() -> Bool {
        guard let mountinfo = try? FileIO.read("/proc/self/mountinfo", limit: 1 << 20) else { return false }
        for line in mountinfo.split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3, right[0] == "cgroup2" else { continue }
            let options = right[2].split(separator: ",").map(String.init).filter { $0 != "rw" && $0 != "ro" }
            if options.contains("favordynmods") { return true }
            let data = (options + ["favordynmods"]).joined(separator: ",")
            return mount("none", String(left[4]), nil, UInt(MS_REMOUNT), data) == 0
        }
        return false
    }

    static func detect() throws(SandboxError) -> Layout {
        let mountinfo: String
        do { mountinfo = try FileIO.read("/proc/self/mountinfo", limit: 1 << 20) } catch {
            throw SandboxError(.unsupportedHost, "cannot read mountinfo", cause: error)
        }
        return try detect(
            mountinfo: mountinfo, controllers: { try? FileIO.read($0 + "/cgroup.controllers") },
            exists: FileIO.exists)
    }

    /// The layout described by a mountinfo text; `controllers` reads a v2 mount's
    /// `cgroup.controllers`, `exists` tests for a control file.
    static func detect(
        mountinfo: String, controllers: (String) -> String?, exists: (String) -> Bool
    ) throws(SandboxError) -> Layout {
        var v1: [String: String] = [:]
        var v2Mount: String?
        for line in mountinfo.split(separator: "\n") {
            // "id parent maj:min root mountpoint options [optional...] - fstype source superoptions"
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = String(left[4])
            switch right[0] {
            case "cgroup2":
                if mountPoint == "/sys/fs/cgroup" { v2Mount = mountPoint }
            case "cgroup":
                for option in right[2].split(separator: ",") {
                    let name = String(option)
                    if ["memory", "cpu", "cpuacct", "pids"].contains(name) { v1[name] = mountPoint }
                }
            default: continue
            }
        }
        if let v2Mount {
            let controllers = controllers(v2Mount) ?? ""
            let available = Set(controllers.split(whereSeparator: \.isWhitespace).map(String.init))
            guard available.isSuperset(of: ["memory", "cpu", "pids"]) else {
                throw SandboxError(
                    .unsupportedHost,
                    "cgroup v2 at \(v2Mount) lacks the memory, cpu or pids controller (has: \(controllers.trimmingWhitespace()))"
                )
            }
            return .v2(mount: v2Mount)
        }
        guard let memory = v1["memory"], let cpu = v1["cpu"], let pids = v1["pids"] else {
            throw SandboxError(
                .unsupportedHost,
                "no cgroup v2 at /sys/fs/cgroup and no v1 memory, cpu and pids hierarchies (found: \(v1.keys.sorted().joined(separator: ", ")))"
            )
        }
        let swap = exists(memory + "/memory.memsw.limit_in_bytes")
        return .v1(memory: memory, cpu: cpu, cpuacct: v1["cpuacct"], pids: pids, swapAccounting: swap)
    }

    /// The directories Cella's root occupies, one per distinct hierarchy.
    public var rootDirectories: [String] {
        switch layout {
        case .v2(let mount):
            return [mount + "/" + rootName]
        case .v1(let memory, let cpu, let cpuacct, let pids, _):
            var seen: [String] = []
            for h in [memory, cpu, cpuacct, pids].compactMap({ $0 }) where !seen.contains(h) {
                seen.append(h)
            }
            return seen.map { $0 + "/" + rootName }
        }
    }

    private func createRoots() throws(SandboxError) {
        do {
            if case .v2(let mount) = layout {
                try FileIO.makeDirectory(mount + "/" + rootName)
                // Controllers must be enabled on every level above a cgroup that uses them.
                for dir in [mount, mount + "/" + rootName] {
                    try FileIO.write("+memory +cpu +pids", to: dir + "/cgroup.subtree_control")
                }
            } else {
                for dir in rootDirectories { try FileIO.makeDirectory(dir) }
            }
        } catch {
            throw SandboxError(.cgroup, "cannot create Cella's cgroup root", cause: error)
        }
    }

    /// Creates and configures the cgroup of one sandbox. Limits are in place before any process
    /// joins it.
    /// - Throws: `SandboxError.invalidSpec` when a sandbox with this id already exists (its
    ///   cgroup is left alone), `SandboxError.cgroup` when the kernel refuses a step.
    public func create(id: String, resources: SandboxSpec.Resources) throws(SandboxError) -> SandboxCgroup {
        let cgroup = try prepare(id: id)
        try configure(cgroup, resources: resources)
        return cgroup
    }

    /// Creates an empty cgroup (no limits yet): one made ahead of need, which `configure` gives
    /// its limits before any process joins it.
    /// - Throws: as `create`.
    public func prepare(id: String) throws(SandboxError) -> SandboxCgroup {
        let directories = rootDirectories.map { $0 + "/" + id }
        var created: [String] = []
        func rollBack() {
            SandboxCgroup(layout: layout, directories: created).destroy()
        }
        for dir in directories {
            if mkdir(dir, 0o755) == 0 {
                created.append(dir)
                continue
            }
            let code = errno
            rollBack()
            if code == EEXIST {
                throw SandboxError(.invalidSpec, "a sandbox with id \(id) already exists (\(dir))", errno: code)
            }
            throw SandboxError(.cgroup, "cannot create the cgroup of sandbox \(id)", cause: SystemError(call: "mkdir", subject: dir, errno: code))
        }
        return SandboxCgroup(layout: layout, directories: directories)
    }

    /// Writes a sandbox's limits into its cgroup; on failure the cgroup is removed.
    /// - Throws: `SandboxError.cgroup` when the kernel refuses a limit.
    public func configure(_ cgroup: SandboxCgroup, resources: SandboxSpec.Resources) throws(SandboxError) {
        do { try cgroup.apply(resources) } catch {
            cgroup.destroy()
            throw SandboxError(.cgroup, "cannot set the limits of cgroup \(cgroup.directories[0])", cause: error)
        }
    }

    /// Kills every process in every cgroup under Cella's root and removes the cgroups: what a
    /// crashed previous run left behind. Returns the names of the cgroups it removed.
    @discardableResult
    public func removeStale() -> [String] {
        var names = Set<String>()
        for root in rootDirectories {
            for name in (try? FileIO.list(root)) ?? [] {
                var st = stat()
                if stat(root + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                    names.insert(name)
                }
            }
        }
        for name in names.sorted() {
            let cgroup = SandboxCgroup(layout: layout, directories: rootDirectories.map { $0 + "/" + name })
            cgroup.killAll()
            cgroup.destroy()
        }
        return names.sorted()
    }
}
