/// How an invocation ended.
public enum InvocationOutcome: String, Codable, Sendable, CaseIterable {
    /// The function returned a result.
    case success
    /// The function raised or reported an error.
    case error
    /// The function ran past its timeout and its instance was killed.
    case timeout
    /// The runtime exited or was killed while serving the invocation.
    case crash
    /// The instance hit its memory limit and the kernel's OOM killer ended it.
    case oom
    /// The runtime failed before it could serve: the handler or its imports are broken.
    case initError = "init_error"
}

/// How the instance that served an invocation came to be.
public enum StartKind: String, Codable, Sendable, CaseIterable {
    /// An idle instance was reused.
    case warm
    /// A new sandbox and runtime were started and the function's init ran.
    case cold
    /// A new instance was forked from the version's initialized template (no init ran).
    case clone
}

/// The metering record of one invocation: what ran, how long, how much memory, and how it ended.
/// Billed duration is the run time rounded up to the next millisecond, as Lambda bills.
public struct InvocationRecord: Codable, Sendable, Equatable {
    public var requestId: String
    public var tenant: String
    public var function: String
    public var version: String
    /// Unix epoch milliseconds when the invocation was handed to the runtime (or its cold start
    /// began).
    public var startMs: Int64
    public var durationMs: Double
    public var billedDurationMs: Int64
    /// The init phase's duration, for a cold start.
    public var initDurationMs: Double?
    public var start: StartKind
    public var memoryMB: Int
    /// The instance's peak memory so far, as its cgroup reports it.
    public var maxMemoryUsedBytes: UInt64
    public var outcome: InvocationOutcome
    /// The error's type when the outcome is not success, e.g. `ZeroDivisionError`.
    public var errorType: String?

    public init(
        requestId: String, tenant: String, function: String, version: String, startMs: Int64,
        durationMs: Double, billedDurationMs: Int64, initDurationMs: Double?, start: StartKind,
        memoryMB: Int, maxMemoryUsedBytes: UInt64, outcome: InvocationOutcome, errorType: String?
    ) {
        self.requestId = requestId
        self.tenant = tenant
        self.function = function
        self.version = version
        self.startMs = startMs
        self.durationMs = durationMs
        self.billedDurationMs = billedDurationMs
        self.initDurationMs = initDurationMs
        self.start = start
        self.memoryMB = memoryMB
        self.maxMemoryUsedBytes = maxMemoryUsedBytes
        self.outcome = outcome
        self.errorType = errorType
    }

    /// Whole milliseconds, rounded up, at least 1.
    public static func billed(_ durationMs: Double) -> Int64 {
        max(1, Int64(durationMs.rounded(.up)))
    }
}
