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
    public func read() -> UInt64? {
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &buffer) { raw -> UInt64? in
            let n = pread(fd, raw.baseAddress, raw.count, 0)
            guard n > 0 else { return nil }
            var value: UInt64 = 0
            for byte in raw.prefix(n) {
                guard byte >= 0x30 && byte <= 0x39 else { break }
                value = value &* 10 &+ UInt64(byte - 0x30)
            }
            return value
        }
    }

    deinit { close(fd) }
}
