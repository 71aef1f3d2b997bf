/// What a sandbox consumed, read back from its cgroup after it exited.
public struct ResourceUsage: Sendable, Equatable {
    /// User + system CPU time of every process in the sandbox, in nanoseconds.
    public var cpuNanoseconds: UInt64
    /// Highest memory use (bytes) the cgroup saw, including page cache charged to it.
    public var peakMemoryBytes: UInt64
    /// Whether the kernel's OOM killer killed a process of this sandbox.
    public var oomKilled: Bool

    public init(cpuNanoseconds: UInt64 = 0, peakMemoryBytes: UInt64 = 0, oomKilled: Bool = false) {
        self.cpuNanoseconds = cpuNanoseconds
        self.peakMemoryBytes = peakMemoryBytes
        self.oomKilled = oomKilled
    }
}
