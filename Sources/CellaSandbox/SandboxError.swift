/// The one error type of `CellaSandbox`: a stable code, a message for people, and the cause.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The spec asks for something impossible or unsafe; nothing was started.
        case invalidSpec = "invalid_spec"
        /// The child failed a setup step between clone and exec (see `stage` and `errno`).
        case setupFailed = "setup_failed"
        /// The parent failed to prepare or launch (pipes, clone, user-namespace maps).
        case launchFailed = "launch_failed"
        /// Creating, configuring or reading a cgroup failed.
        case cgroup = "cgroup"
        /// A seccomp profile could not be read, parsed or compiled.
        case seccomp = "seccomp"
        /// The host lacks something the sandbox needs (a cgroup controller, a kernel feature).
        case unsupportedHost = "unsupported_host"
    }

    public let code: Code
    public let message: String
    /// For `setupFailed`: the setup stage, e.g. `pivot_root` or `mount proc on /proc`.
    public let stage: String?
    /// The errno behind the failure, when there is one.
    public let errno: Int32?
    /// The underlying error, when another layer raised it.
    public let underlying: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, stage: String? = nil, errno: Int32? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.stage = stage
        self.errno = errno
        self.underlying = underlying
    }

    init(_ code: Code, _ message: String, cause: SystemError) {
        self.init(code, "\(message): \(cause)", errno: cause.errno, underlying: cause)
    }

    public var description: String {
        if let stage, let errno { return "sandbox setup failed: \(stage): \(Errno.describe(errno))" }
        return message
    }
}
