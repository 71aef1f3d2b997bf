import Glibc
import Synchronization

/// Reads a sandbox's peak memory through a file descriptor kept open: one pread per reading
/// instead of open, read and close, for metering every invocation. Closed when the reader goes.
public final class PeakMemoryReader: Sendable {
    private let fd: Int32

    /// - Returns: nil when the cgroup's file cannot be opened (the cgroup is gone).
    public init?(_ cgroup: SandboxCgroup) {
        fd = open(cgroup.peakMemoryFile, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
    }

    /// The peak in bytes, or nil when the file cannot be read (the cgroup was removed).
    public func read() -> UInt64? { CgroupUsageFiles.readNumber(fd) }

    deinit { close(fd) }
}
