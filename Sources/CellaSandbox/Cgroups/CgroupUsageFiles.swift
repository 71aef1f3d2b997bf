import Glibc

/// The control files a sandbox's exit reads (CPU time, peak memory, OOM kills, the processes
/// left), held open. The launcher opens them once the child is in its cgroup, while it drops its
/// privileges and execs, so that after the exit each costs one pread: on kernfs, opening and
/// closing a control file costs more than reading it. Closed when this goes (before the cgroup's directories are removed).
final class CgroupUsageFiles: Sendable {
    private let layout: CgroupManager.Layout
    private let cpu: Int32
    private let peak: Int32
    private let oom: Int32
    private let procs: Int32

    /// A file that cannot be opened (the cgroup is gone, or a v1 host has no cpuacct hierarchy)
    /// reads as zero, and as no processes.
    init(_ cgroup: SandboxCgroup) {
        let paths = cgroup.usagePaths
        layout = cgroup.layout
        cpu = paths.cpu.map { open($0, O_RDONLY | O_CLOEXEC) } ?? -1
        peak = open(paths.peak, O_RDONLY | O_CLOEXEC)
        oom = open(paths.oom, O_RDONLY | O_CLOEXEC)
        procs = open(paths.procs, O_RDONLY | O_CLOEXEC)
    }

    deinit {
        for fd in [cpu, peak, oom, procs] where fd >= 0 { close(fd) }
    }

    /// CPU time, peak memory and OOM kills so far.
    func usage() -> ResourceUsage {
        var usage = ResourceUsage()
        switch layout {
        case .v2: usage.cpuNanoseconds = (Self.read(cpu) { Self.field("usage_usec", in: $0) } ?? 0) &* 1000
        case .v1: usage.cpuNanoseconds = Self.readNumber(cpu) ?? 0
        }
        usage.oomKilled = (Self.read(oom) { Self.field("oom_kill", in: $0) } ?? 0) > 0
        usage.peakMemoryBytes = Self.readNumber(peak) ?? 0
        return usage
    }

    /// Whether any process is still in the cgroup. A process of another pid namespace reads as
    /// 0, which `SandboxCgroup.processes()` skips too.
    var hasProcesses: Bool {
        Self.read(procs) { bytes in
            var line: UInt64 = 0
            for byte in bytes {
                if byte == 0x0a {
                    if line > 0 { return 1 }
                    line = 0
                } else if byte >= 0x30 && byte <= 0x39 {
                    line = line &* 10 &+ UInt64(byte - 0x30)
                }
            }
            return line > 0 ? 1 : 0
        } == 1
    }

    /// The start of a control file (512 bytes cover every one read here), parsed by `parse`.
    private static func read(_ fd: Int32, _ parse: (UnsafeBufferPointer<UInt8>) -> UInt64?) -> UInt64? {
        guard fd >= 0 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { buffer -> UInt64? in
            var n: Int
            repeat { n = pread(fd, buffer.baseAddress, buffer.count, 0) } while n < 0 && errno == EINTR
            guard n >= 0 else { return nil }
            return parse(UnsafeBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// The decimal number a control file starts with (a counter), or nil.
    static func readNumber(_ fd: Int32) -> UInt64? {
        read(fd) { number(in: $0[...]) }
    }

    /// The decimal number at the start of `bytes`, or nil when there is none.
    static func number(in bytes: Slice<UnsafeBufferPointer<UInt8>>) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { break }
            value = value &* 10 &+ UInt64(byte - 0x30)
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    /// The number after `key ` on one of the lines of a flat-keyed file (`cpu.stat`,
    /// `memory.events`, `memory.oom_control`).
    static func field(_ key: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        let name = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0a { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            if line.count > name.count, line[lineStart + name.count] == 0x20, line.starts(with: name) {
                return number(in: line.dropFirst(name.count + 1))
            }
            lineStart = lineEnd + 1
        }
        return nil
    }
}

extension SandboxCgroup {
    /// The files `CgroupUsageFiles` reads: CPU time (nil on a v1 host without cpuacct), peak
    /// memory (v2 kernels before 5.19 have no `memory.peak`: the current usage stands in), OOM
    /// kills, and the processes (the pids hierarchy's on v1).
    var usagePaths: (cpu: String?, peak: String, oom: String, procs: String) {
        switch layout {
        case .v2:
            let dir = directories[0]
            return (dir + "/cpu.stat", peakMemoryFile, dir + "/memory.events", dir + "/cgroup.procs")
        case .v1(let memory, _, let cpuacct, let pids, _):
            let mem = directory(under: memory)
            return (cpuacct.map { directory(under: $0) + "/cpuacct.usage" }, peakMemoryFile,
                    mem + "/memory.oom_control", directory(under: pids) + "/cgroup.procs")
        }
    }
}
