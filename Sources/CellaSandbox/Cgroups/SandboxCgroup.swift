import Glibc

/// The cgroup (one directory per hierarchy on v1) of one sandbox.
public struct SandboxCgroup: Sendable {
    let layout: CgroupManager.Layout
    /// On v2 one directory; on v1 one per distinct hierarchy, in `rootDirectories` order.
    public let directories: [String]

    func directory(under hierarchy: String) -> String {
        directories.first { $0.hasPrefix(hierarchy + "/") } ?? directories[0]
    }

    func apply(_ resources: SandboxSpec.Resources) throws(SystemError) {
        let quota = resources.cpus.map { Int(($0 * 100_000).rounded()) }
        switch layout {
        case .v2:
            let dir = directories[0]
            try FileIO.write(String(resources.memoryBytes), to: dir + "/memory.max")
            if FileIO.exists(dir + "/memory.swap.max") {
                try FileIO.write("0", to: dir + "/memory.swap.max")
            }
            try FileIO.write(quota.map { "\($0) 100000" } ?? "max 100000", to: dir + "/cpu.max")
            try FileIO.write(String(resources.pids), to: dir + "/pids.max")
        case .v1(let memory, let cpu, _, let pids, let swapAccounting):
            let mem = directory(under: memory)
            try FileIO.write(String(resources.memoryBytes), to: mem + "/memory.limit_in_bytes")
            if swapAccounting {
                // memory+swap equal to memory: no swap at all. Must follow the memory limit.
                try FileIO.write(String(resources.memoryBytes), to: mem + "/memory.memsw.limit_in_bytes")
            } else {
                try FileIO.write("0", to: mem + "/memory.swappiness")
            }
            if let quota {
                try FileIO.write(String(quota), to: directory(under: cpu) + "/cpu.cfs_quota_us")
            }
            try FileIO.write(String(resources.pids), to: directory(under: pids) + "/pids.max")
        }
    }

    /// Raises the memory limit of a running cgroup (a template's after its init: each clone's
    /// kernel objects, made by the template's fork, stay charged to the template's cgroup).
    public func raiseMemoryLimit(to bytes: UInt64) throws(SystemError) {
        switch layout {
        case .v2:
            try FileIO.write(String(bytes), to: directories[0] + "/memory.max")
        case .v1(let memory, _, _, _, let swapAccounting):
            let mem = directory(under: memory)
            // memory+swap may never be below memory: raise it first.
            if swapAccounting { try FileIO.write(String(bytes), to: mem + "/memory.memsw.limit_in_bytes") }
            try FileIO.write(String(bytes), to: mem + "/memory.limit_in_bytes")
        }
    }

    /// Moves a process into this cgroup (every hierarchy on v1).
    public func add(pid: pid_t) throws(SystemError) {
        for dir in directories { try FileIO.write(String(pid), to: dir + "/cgroup.procs") }
    }

    /// CPU time, peak memory and OOM kills so far.
    public func usage() -> ResourceUsage { CgroupUsageFiles(self).usage() }

    /// The file holding the peak memory in bytes (v2 kernels before 5.19 have no `memory.peak`:
    /// the current usage stands in). A caller metering every invocation keeps it open and reads
    /// it with `PeakMemoryReader`.
    public var peakMemoryFile: String {
        switch layout {
        case .v2:
            let peak = directories[0] + "/memory.peak"
            return FileIO.exists(peak) ? peak : directories[0] + "/memory.current"
        case .v1(let memory, _, _, _, _):
            return directory(under: memory) + "/memory.max_usage_in_bytes"
        }
    }

    /// Memory charged to the cgroup now (a template's pages, for the template budget).
    public func currentMemoryBytes() -> UInt64 {
        switch layout {
        case .v2: return (try? FileIO.readUInt64(directories[0] + "/memory.current")) ?? 0
        case .v1(let memory, _, _, _, _):
            return (try? FileIO.readUInt64(directory(under: memory) + "/memory.usage_in_bytes")) ?? 0
        }
    }

    /// The pids in the cgroup (from the pids hierarchy on v1).
    public func processes() -> [pid_t] {
        let dir: String
        if case .v1(_, _, _, let pids, _) = layout { dir = directory(under: pids) } else { dir = directories[0] }
        guard let text = try? FileIO.read(dir + "/cgroup.procs", limit: 1 << 20) else { return [] }
        // A process of another pid namespace reads as 0: never hand that (or a negative) to
        // kill(2), which would signal the caller's own process group.
        return text.split(separator: "\n").compactMap { pid_t($0) }.filter { $0 > 0 }
    }

    /// SIGKILLs every process in the cgroup: `cgroup.kill` on v2, otherwise repeated passes over
    /// `cgroup.procs` until it stays empty (forks racing the kill are caught by the next pass).
    public func killAll() {
        if case .v2 = layout, (try? FileIO.write("1", to: directories[0] + "/cgroup.kill")) != nil { return }
        for _ in 0..<50 {
            let pids = processes()
            if pids.isEmpty { return }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(2_000)
        }
    }

    /// Removes the cgroup directories; waits briefly for dying tasks (rmdir says EBUSY until the
    /// last one is gone). Missing directories are fine.
    @discardableResult
    public func destroy() -> Bool {
        var clean = true
        for dir in directories {
            var attempts = 0
            while rmdir(dir) != 0 {
                let code = errno
                if code == ENOENT { break }
                attempts += 1
                if code != EBUSY || attempts > 200 { clean = false; break }
                usleep(500)
            }
        }
        return clean
    }
}
