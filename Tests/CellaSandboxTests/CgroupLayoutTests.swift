import Testing

@testable import CellaSandbox

/// Layout detection from mountinfo text: the v2 path cannot be exercised live on the v1-hybrid
/// CI machines, so its decisions are checked here.
@Suite struct CgroupLayoutTests {
    static let hybrid = """
        30 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        32 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        35 30 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        """
    static let unified = """
        30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
        """
    static let comounted = """
        32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        35 30 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        """

    @Test func hybridUsesV1Hierarchies() throws {
        let layout = try CgroupManager.detect(mountinfo: Self.hybrid, controllers: { _ in "" }, exists: { _ in true })
        #expect(layout == .v1(memory: "/sys/fs/cgroup/memory", cpu: "/sys/fs/cgroup/cpu",
                              cpuacct: "/sys/fs/cgroup/cpuacct", pids: "/sys/fs/cgroup/pids", swapAccounting: true))
    }

    @Test func unifiedWithControllersUsesV2() throws {
        let layout = try CgroupManager.detect(
            mountinfo: Self.unified, controllers: { _ in "cpuset cpu io memory hugetlb pids rdma misc" }, exists: { _ in false })
        #expect(layout == .v2(mount: "/sys/fs/cgroup"))
    }

    @Test func unifiedWithoutMemoryIsRefused() {
        #expect(throws: SandboxError.self) {
            _ = try CgroupManager.detect(mountinfo: Self.unified, controllers: { _ in "cpu pids" }, exists: { _ in false })
        }
    }

    @Test func comountedCpuAndCpuacct() throws {
        let layout = try CgroupManager.detect(mountinfo: Self.comounted, controllers: { _ in nil }, exists: { _ in false })
        #expect(layout == .v1(memory: "/sys/fs/cgroup/memory", cpu: "/sys/fs/cgroup/cpu,cpuacct",
                              cpuacct: "/sys/fs/cgroup/cpu,cpuacct", pids: "/sys/fs/cgroup/pids", swapAccounting: false))
    }

    @Test func noControllersIsRefused() {
        #expect(throws: SandboxError.self) {
            _ = try CgroupManager.detect(mountinfo: "", controllers: { _ in nil }, exists: { _ in false })
        }
    }

    @Test("counters are parsed from the control files' bytes as the kernel writes them")
    func usageParsing() {
        func field(_ key: StaticString, _ text: String) -> UInt64? {
            Array(text.utf8).withUnsafeBufferPointer { CgroupUsageFiles.field(key, in: $0) }
        }
        func number(_ text: String) -> UInt64? {
            Array(text.utf8).withUnsafeBufferPointer { CgroupUsageFiles.number(in: $0[...]) }
        }
        #expect(field("usage_usec", "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n") == 1234)
        #expect(field("oom_kill", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3)
        #expect(field("oom_kill", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 0\noom_group_kill 0\n") == 0)
        #expect(field("oom_kill", "oom_kill_disable 1\nunder_oom 0\n") == nil)
        #expect(field("max", "max") == nil)
        #expect(number("123456789012\n") == 123_456_789_012)
        #expect(number("\n") == nil)
        #expect(number("") == nil)
    }
}
