import CellaBundles
import CellaSandbox

/// How an agent runs: where it keeps things, how much of the node it may use, and its timeouts.
public struct AgentConfiguration: Sendable {
    /// The agent API's address. Loopback by default: the API is for the controller on this node or
    /// behind a private network; it speaks plain HTTP and checks only the node token (`apiToken`).
    public var host = "127.0.0.1"
    public var port = 9100
    /// Bundles (archives and unpacked trees) live under `<dataDirectory>/bundles`.
    public var dataDirectory = "/var/lib/cella/agent"
    /// Built runtimes, one directory each (see docs/runtimes.md).
    public var runtimesDirectory = "/var/lib/cella/runtimes"
    /// The sum of instance memory limits may not exceed this.
    public var memoryBudgetBytes: UInt64 = 4 << 30
    /// Disk the bundle store (archives and unpacked trees) may hold; beyond it, after each new
    /// bundle, the least recently used bundles no deployed version uses are removed.
    public var bundleDiskBudgetBytes: UInt64 = 10 << 30
    /// Idle instances are stopped after this long (scale to zero).
    public var idleTimeout: Duration = .seconds(300)
    /// How long an invocation waits for a busy function's instance before it is throttled.
    public var queueTimeout: Duration = .seconds(1)
    /// How long a runtime may take from start to its first `/next`.
    public var initTimeout: Duration = .seconds(10)
    /// CPU quota floor per instance (the share otherwise follows memory, 1769 MB per CPU).
    public var minimumCPUs = 1.0
    public var pidsPerInstance = 256
    /// Size of each instance's `/tmp`, counted against its memory limit.
    public var tmpMiB = 512
    /// The largest event or result: Lambda's 6 MB for synchronous invocations.
    public var maxPayloadBytes = 6 * 1024 * 1024
    /// Shown to functions as `AWS_REGION` and in ARNs.
    public var region = "local"
    /// Log bytes kept per function version until collected.
    public var logBytesPerFunction = 1 << 20
    /// How long a graceful shutdown waits for in-flight invocations.
    public var drainTimeout: Duration = .seconds(60)
    /// Start new instances of runtimes that support it by cloning an initialized template
    /// (docs/runtime-snapshots.md).
    public var templates = true
    /// The memory the node's templates may hold together; beyond it the least recently used
    /// template is dropped.
    public var templateMemoryBudgetBytes: UInt64 = 1 << 30
    /// Network namespaces, each with the Runtime API listener, kept ready so that a cold start
    /// skips making one (the part of a sandbox that can be prepared for any function).
    public var preparedNetworks = 4
    /// Empty cgroups kept ready, so that a cold start writes its limits into one instead of
    /// making one (a `mkdir` per hierarchy).
    public var preparedCgroups = 4
    /// Sandboxes made ahead for versions that start cold (no template): after such a version's
    /// cold start, the next instance's sandbox is set up and held before its runtime's exec, so
    /// the next cold start skips sandbox setup. At most this many on the node, one per version.
    public var preparedSandboxes = 4
    /// How long a template and then its clone may take to answer a clone request.
    public var cloneTimeout: Duration = .seconds(2)
    /// The sandbox launcher's cgroup root and state directory.
    public var sandbox = SandboxLauncher.Configuration()
    public var bundleLimits = BundleLimits()
    /// The node token: when set, every API call but `GET /v1/health` must carry
    /// `Authorization: Bearer <token>` (the controller sends it; heartbeats send it back). Nil:
    /// the API is open to whoever reaches its address (a standalone agent on loopback).
    public var apiToken: String?

    public init() {}
}
