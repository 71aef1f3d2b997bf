/// How a sandbox ended and what it used.
public struct SandboxExit: Sendable, Equatable {
    public enum Termination: Sendable, Equatable {
        /// The first process exited with this status.
        case exited(Int32)
        /// The first process was killed by this signal.
        case signaled(Int32)
    }

    public let termination: Termination
    public let usage: ResourceUsage

    /// The status a shell would report: the exit code, or 128 + the signal number.
    public var shellStatus: Int32 {
        switch termination {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }
}
