import CellaModel
import CellaSandbox
import DequeModule
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Every instance on the node, per function version: warm → busy → idle → reaped.
///
/// - An instance serves one invocation at a time; an idle one is reused by the next (most recently
///   used first, whose memory is warmest).
/// - A function's reserved concurrency caps its instances; invocations beyond it wait in a FIFO
///   queue for one to free up, for at most `queueTimeout`, then are throttled.
/// - The node's memory budget caps the sum of instance memory limits. When a new instance does not
///   fit, idle instances of other functions are evicted, least recently used first; when that is
///   not enough and the function has no busy instance to wait for, the answer is `nodeFull`.
actor InstancePool {
    struct Settings: Sendable {
        var memoryBudgetBytes: UInt64
        var idleTimeout: Duration
        var queueTimeout: Duration
        var initTimeout: Duration
        /// CPUs per instance: memory / 1769 MB (Lambda's ratio), but never below this.
        var minimumCPUs: Double
        var pidsPerInstance: Int
        var tmpMiB: Int
        var maxPayloadBytes: Int
        var region: String
        /// Clone new instances from templates where the runtime supports it.
        var templates = false
        var templateBudgetBytes: UInt64 = 1 << 30
        var cloneTimeout: Duration = .seconds(2)
        /// Network namespaces (with the Runtime API listener) kept ready for cold starts.
        var preparedNetworks = 0
        /// Empty cgroups kept ready for cold starts.
        var preparedCgroups = 0
        /// Versions that start cold (no template) for which the next instance's sandbox is made
        /// ahead, held before its runtime's exec (InstancePool+Held.swift); at most this many.
        var preparedSandboxes = 0
    }

    enum Acquired: Sendable {
        case instance(Instance, StartKind, initDurationMs: Double?)
        /// A new instance failed its init: the invocation's result is this error.
        case initFailed(FunctionErrorBody, initDurationMs: Double)
    }

    enum Grant { case instance(Instance), retry, timedOut }
    struct Waiter {
        let id: Int
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Grant, Never>
    }

    struct FunctionPool {
        var function: DeployedFunction
        var idle: [(instance: Instance, since: ContinuousClock.Instant)] = []
        var busy = 0
        var starting = 0
        var waiters = Deque<Waiter>()
    }

    let settings: Settings
    let launcher: SandboxLauncher
    let threadPool: NIOThreadPool
    let group: any EventLoopGroup
    let logs: LogStore
    let metrics: AgentMetrics
    let logger: Logger
    var functions: [String: FunctionPool] = [:]
    /// Live instances and the memory each holds against the budget.
    var members: [ObjectIdentifier: (instance: Instance, bytes: UInt64)] = [:]
    var memoryInUse: UInt64 = 0
    private var nextWaiter = 0
    /// One timer for every queued invocation's deadline (not one per invocation).
    private var expiry: Task<Void, Never>?
    let bootId: String
    let ids: InstanceIDs
    /// Versions whose template gave a clone since it last made one ahead: it makes the next
    /// when that clone is released (so the making does not compete with its first invocation).
    var templatesToPrepare: Set<String> = []
    /// Templates per function version (InstancePool+Templates.swift).
    var templates: [String: TemplateSlot] = [:]
    /// When each template last made a clone, for LRU eviction.
    var templateUse: [String: ContinuousClock.Instant] = [:]
    var templateBytes: UInt64 = 0
    var nextTemplateBuild = 0
    /// Template sandboxes stopped but not yet gone (stopAll waits for them too).
    var stoppingTemplates: [ObjectIdentifier: Instance] = [:]
    /// Every clone alive, made ahead or taken (stopAll waits for them too).
    let liveClones = LiveClones()
    /// Deployments whose clones failed: they start cold from then on (a new deploy tries again).
    var templateRefused: [String: UInt64] = [:]
    /// What each clone installs on top of its template's seccomp filter.
    let cloneProgram: [UInt8]
    /// Network namespaces made ahead of cold starts.
    let networks: PreparedNetworks
    /// Cgroups made ahead of cold starts.
    let cgroups: PreparedCgroups
    /// Per version, an instance whose sandbox is made and held before its runtime's exec.
    var held: [String: (instance: Instance, since: ContinuousClock.Instant)] = [:]
    /// Versions that started cold since they last had one held: made when that instance is released.
    var heldToPrepare: Set<String> = []
    /// Held instances being made (stopAll waits for them).
    var heldMaking: [String: Task<Void, Never>] = [:]
    /// Cold starts that took a held instance.
    var heldUsed = 0

    init(settings: Settings, launcher: SandboxLauncher, threadPool: NIOThreadPool, group: any EventLoopGroup,
         logs: LogStore, metrics: AgentMetrics, logger: Logger) {
        self.settings = settings
        self.launcher = launcher
        self.threadPool = threadPool
        self.group = group
        self.logs = logs
        self.metrics = metrics
        self.logger = logger
        self.bootId = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        self.ids = InstanceIDs(boot: bootId)
        self.cloneProgram = launcher.cloneFilterProgram
        self.networks = PreparedNetwork.pool(target: settings.preparedNetworks)
        self.cgroups = PreparedCgroups.cgroups(target: settings.preparedCgroups, launcher: launcher, prefix: "\(bootId)-p")
        networks.refill(on: threadPool)
        cgroups.refill(on: threadPool)
    }

    /// Adds or replaces a function version. Replacing drops the old version's idle instances.
    func register(_ function: DeployedFunction) {
        dropTemplate(function.key, reason: "replaced")
        dropHeld(function.key)
        if var existing = functions[function.key] {
            for entry in existing.idle { retire(entry.instance) }
            existing.idle = []
            existing.function = function
            functions[function.key] = existing
        } else {
            functions[function.key] = FunctionPool(function: function)
        }
    }

    /// Removes a function version: idle instances stop now, busy ones when they finish.
    func unregister(_ key: String) {
        dropTemplate(key, reason: "replaced")
        dropHeld(key)
        guard let pool = functions.removeValue(forKey: key) else { return }
        for entry in pool.idle { retire(entry.instance) }
        for waiter in pool.waiters { waiter.continuation.resume(returning: .retry) }
    }

    /// An instance for one invocation: an idle one, else a new one (cold start).
    /// - Throws: `AgentError` `.notFound`, `.throttled`, `.nodeFull`, `.internal`.
    func acquire(_ key: String) async throws(AgentError) -> Acquired {
        while true {
            guard var pool = functions[key] else {
                throw AgentError(.notFound, "function \(key) is not deployed on this node")
            }
            // An idle instance on the caller's own event loop first: the invocation then never
            // changes threads inside the agent (the API connection and the runtime's share it).
            let local = pool.idle.lastIndex { $0.instance.eventLoop?.inEventLoop == true }
            if let index = local ?? pool.idle.indices.last {
                let entry = pool.idle.remove(at: index)
                pool.busy += 1
                functions[key] = pool
                return .instance(entry.instance, .warm, initDurationMs: nil)
            }
            let live = pool.busy + pool.starting
            if let reserved = pool.function.config.reservedConcurrency, live >= reserved {
                if reserved == 0 {
                    throw AgentError(.throttled, "function \(key) has a reserved concurrency of 0")
                }
                switch await wait(key) {
                case .instance(let instance): return .instance(instance, .warm, initDurationMs: nil)
                case .retry: continue
                case .timedOut:
                    throw AgentError(.throttled, "function \(key) is at its reserved concurrency of \(reserved)")
                }
            }
            let need = pool.function.memoryBytes
            if memoryInUse + need > settings.memoryBudgetBytes { evictIdle(toFree: need, sparing: key) }
            if memoryInUse + need > settings.memoryBudgetBytes {
                guard live > 0 else {
                    throw AgentError(.nodeFull, "node memory budget spent: \(memoryInUse >> 20) of \(settings.memoryBudgetBytes >> 20) MB in use by busy instances, \(need >> 20) MB needed")
                }
                switch await wait(key) {
                case .instance(let instance): return .instance(instance, .warm, initDurationMs: nil)
                case .retry: continue
                case .timedOut:
                    throw AgentError(.nodeFull, "node memory budget spent and no instance of \(key) freed up in time")
                }
            }
            return try await start(pool.function, bytes: need)
        }
    }

    /// A new instance: cloned from the version's template where its runtime supports templates
    /// (building the template first if there is none), else, or when cloning fails, cold.
    private func start(_ function: DeployedFunction, bytes: UInt64) async throws(AgentError) -> Acquired {
        if clonesFromTemplate(function), let acquired = await startFromTemplate(function, bytes: bytes) {
            return acquired
        }
        return try await coldStart(function, bytes: bytes)
    }

    /// Starts instances until the function has `count` (idle, busy or starting), within its
    /// reserved concurrency and the memory budget, so that the next invocations start warm.
    /// Returns how many instances it now has.
    /// - Throws: `AgentError` `.notFound`, `.nodeFull` (nothing could be started), `.internal`;
    ///   an init failure is reported as `.invalidRequest` with the runtime's error.
    func prewarm(_ key: String, count: Int) async throws(AgentError) -> Int {
        while true {
            guard let pool = functions[key] else {
                throw AgentError(.notFound, "function \(key) is not deployed on this node")
            }
            let have = pool.idle.count + pool.busy + pool.starting
            let cap = min(count, pool.function.config.reservedConcurrency ?? count)
            guard have < cap else { return have }
            let need = pool.function.memoryBytes
            if memoryInUse + need > settings.memoryBudgetBytes { evictIdle(toFree: need, sparing: key) }
            guard memoryInUse + need <= settings.memoryBudgetBytes else {
                if have > 0 { return have }
                throw AgentError(.nodeFull, "node memory budget spent: no room for an instance of \(key)")
            }
            switch try await start(pool.function, bytes: need) {
            case .instance(let instance, _, _): release(instance)
            case .initFailed(let error, _):
                throw AgentError(.invalidRequest, "an instance of \(key) failed its init: \(error.errorType): \(error.errorMessage)")
            }
        }
    }

    /// Returns an instance after its invocation. A healthy one goes to the next waiter or becomes
    /// idle; one that died or was killed is forgotten.
    /// - Parameter requestLoop: the event loop the invocation came in on, if known.
    func release(_ instance: Instance, requestLoop: (any EventLoop)? = nil) {
        let key = instance.function.key
        guard var pool = functions[key] else {
            retire(instance)
            return
        }
        pool.busy -= 1
        if instance.isClone, templatesToPrepare.remove(key) != nil, case .ready(let template) = templates[key] {
            let loop = requestLoop ?? Self.currentEventLoop(in: group)
            Task { await template.prepare(loop: loop) }
        }
        if !instance.isClone, heldToPrepare.remove(key) != nil { makeHeld(key) }
        if instance.isAlive && pool.function.deployment == instance.function.deployment {
            if let waiter = pool.waiters.popFirst() {
                pool.busy += 1
                functions[key] = pool
                waiter.continuation.resume(returning: .instance(instance))
                return
            }
            pool.idle.append((instance, .now))
            functions[key] = pool
        } else {
            functions[key] = pool
            retire(instance)
        }
    }

    /// Stops idle instances unused for longer than the idle timeout (scale to zero).
    func reapIdle() {
        let cutoff = ContinuousClock.now - settings.idleTimeout
        reapTemplates(cutoff: cutoff)
        reapHeld(cutoff: cutoff)
        for (key, var pool) in functions {
            let (stale, fresh) = (pool.idle.filter { $0.since < cutoff }, pool.idle.filter { $0.since >= cutoff })
            guard !stale.isEmpty else { continue }
            pool.idle = fresh
            functions[key] = pool
            for entry in stale {
                logger.debug("reaping idle instance", metadata: ["cella.instance": "\(entry.instance.id)"])
                retire(entry.instance)
                metrics.evicted(reason: "idle")
            }
        }
        publishGauges()
    }

    /// Stops every instance and waits until each is gone.
    func stopAll() async {
        networks.stop()
        cgroups.stop()
        var seen = Set<ObjectIdentifier>()
        let all = (members.values.map(\.instance) + (await stopTemplates()) + stopHeld())
            .filter { seen.insert(ObjectIdentifier($0)).inserted }
        // Taken with the held ones, with no suspension before the functions go below.
        let making = Array(heldMaking.values)
        for pool in functions.values {
            for waiter in pool.waiters { waiter.continuation.resume(returning: .retry) }
        }
        functions = [:]
        await withTaskGroup(of: Void.self) { group in
            for instance in all { group.addTask { await instance.stop() } }
            // One being made when the functions went finds none to be held for and stops itself.
            for task in making { group.addTask { await task.value } }
        }
        members = [:]
        memoryInUse = 0
        publishGauges()
    }


    /// Network namespaces ready for the next cold starts.
    var preparedNetworkCount: (ready: Int, used: Int) { (networks.count, networks.used) }

    /// Cgroups ready for the next cold starts.
    var preparedCgroupCount: (ready: Int, used: Int) { (cgroups.count, cgroups.used) }

    /// Held sandboxes ready for the next cold starts, and how many cold starts took one.
    var preparedSandboxCount: (ready: Int, used: Int) { (held.count, heldUsed) }

    /// The versions that have a held sandbox.
    var preparedSandboxFunctions: [String] { held.keys.sorted() }

    func stats() -> (functions: [FunctionInstanceStats], memoryInUse: UInt64) {
        let list = functions.values.map {
            FunctionInstanceStats(function: $0.function.key, idle: $0.idle.count, busy: $0.busy, starting: $0.starting,
                          queued: $0.waiters.count, memoryMB: $0.function.config.memoryMB)
        }.sorted { $0.function < $1.function }
        return (list, memoryInUse)
    }

    // MARK: Private

    private func coldStart(_ function: DeployedFunction, bytes: UInt64) async throws(AgentError) -> Acquired {
        let key = function.key
        memoryInUse += bytes
        functions[key]?.starting += 1
        let began = ContinuousClock.now
        let instance: Instance
        if let prepared = await releaseHeld(function) {
            instance = prepared
        } else {
            do {
                instance = try await startSandboxed(function, on: Self.currentEventLoop(in: group))
            } catch {
                memoryInUse -= bytes
                functions[key]?.starting -= 1
                wakeWaiters()
                throw error
            }
        }
        if settings.preparedSandboxes > 0 && !clonesFromTemplate(function) {
            heldToPrepare.insert(key)
        }
        members[ObjectIdentifier(instance)] = (instance, bytes)
        metrics.spawned(seconds: Instance.milliseconds(since: began) / 1000)
        let outcome = await awaitInit(instance)
        functions[key]?.starting -= 1
        switch outcome {
        case .ready(let ms), .parked(let ms):
            if functions[key] != nil {
                functions[key]!.busy += 1
            } else {
                // Removed while starting: serve this invocation, retire on release.
                functions[key] = nil
            }
            metrics.coldStart(kind: .cold)
            return .instance(instance, .cold, initDurationMs: ms)
        case .failed(let body):
            retire(instance)
            wakeWaiters()
            return .initFailed(body, initDurationMs: Instance.milliseconds(since: began))
        }
    }

    /// Whether new instances of `function` are cloned from its template (else they start cold).
    func clonesFromTemplate(_ function: DeployedFunction) -> Bool {
        settings.templates && function.supportsTemplates
    }

    /// Starts a sandbox with `function`'s runtime, its Runtime API served on `loop`: a cold
    /// start's; with `held`, made ahead and held before the runtime's exec; with `template`, the
    /// version's template (docs/runtime-snapshots.md: its control socket's end and the program its
    /// clones install), which starts as `snap-start`, in a cgroup of its own.
    func startSandboxed(
        _ function: DeployedFunction, on loop: any EventLoop, held: Bool = false,
        template: (control: Int32, program: [UInt8])? = nil
    ) async throws(AgentError) -> Instance {
        let id = ids.next(tag: template == nil ? "" : "t")
        var environment = environment(for: function, instance: id)
        if template != nil { environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start" }
        return try await Instance.start(
            id: id, function: function, environment: environment,
            resources: resources(for: function), tmpMiB: settings.tmpMiB,
            maxPayloadBytes: settings.maxPayloadBytes, launcher: launcher, threadPool: threadPool,
            group: loop, logs: logs, region: settings.region, template: template, networks: networks,
            cgroups: template == nil ? cgroups : nil, held: held,
            onExit: { [weak self] instance in
                let isTemplate = template != nil
                Task {
                    if isTemplate { await self?.templateExited(instance) } else { await self?.exited(instance) }
                }
            })
    }

    /// Waits for an instance's init (its first `/next`, or its park) up to the init timeout.
    func awaitInit(_ instance: Instance) async -> Instance.InitOutcome {
        await withTaskGroup(of: Instance.InitOutcome?.self) { group in
            group.addTask { await instance.waitUntilReady() }
            let limit = settings.initTimeout
            group.addTask {
                try? await Task.sleep(for: limit)
                return Task.isCancelled ? nil : .failed(FunctionErrorBody(
                    errorMessage: "init did not finish within \(limit)", errorType: "Runtime.InitTimeout"))
            }
            let first = await group.next()!
            group.cancelAll()
            if let first { return first }
            // The caller's task was cancelled, which ended the timer at once: the instance still
            // decides (a draining agent stops it, which ends its wait).
            return await instance.waitUntilReady()
        }
    }

    /// The event loop this code runs on when it is one of the group's (the daemon runs Swift
    /// concurrency on its event loops), so a new instance serves its runtime on the same thread as
    /// the request that started it; else any of the group's.
    static func currentEventLoop(in group: any EventLoopGroup) -> any EventLoop {
        for loop in group.makeIterator() where loop.inEventLoop { return loop }
        return group.next()
    }

    private func wait(_ key: String) async -> Grant {
        nextWaiter += 1
        let waiter = (id: nextWaiter, deadline: ContinuousClock.now + settings.queueTimeout)
        return await withCheckedContinuation { continuation in
            guard functions[key] != nil else { return continuation.resume(returning: .retry) }
            functions[key]!.waiters.append(Waiter(id: waiter.id, deadline: waiter.deadline, continuation: continuation))
            if expiry == nil { expiry = Task { await self.expireWaiters() } }
        }
    }

    /// Sleeps until the earliest queued deadline, throttles the invocations past theirs, and goes
    /// on while any invocation is queued.
    private func expireWaiters() async {
        while let earliest = functions.values.compactMap({ $0.waiters.map(\.deadline).min() }).min() {
            try? await Task.sleep(until: earliest, clock: .continuous)
            let now = ContinuousClock.now
            for key in functions.keys {
                while let index = functions[key]?.waiters.firstIndex(where: { $0.deadline <= now }) {
                    functions[key]!.waiters.remove(at: index).continuation.resume(returning: .timedOut)
                }
            }
        }
        expiry = nil
    }

    /// Lets one waiter of each function try again (memory or a concurrency slot freed up).
    func wakeWaiters() {
        for key in functions.keys {
            if let waiter = functions[key]!.waiters.popFirst() { waiter.continuation.resume(returning: .retry) }
        }
    }

    private func evictIdle(toFree need: UInt64, sparing key: String) {
        var candidates: [(key: String, instance: Instance, since: ContinuousClock.Instant)] = []
        for (k, pool) in functions where k != key {
            candidates += pool.idle.map { (k, $0.instance, $0.since) }
        }
        candidates.sort { $0.since < $1.since }
        for candidate in candidates where memoryInUse + need > settings.memoryBudgetBytes {
            functions[candidate.key]?.idle.removeAll { $0.instance === candidate.instance }
            logger.debug("evicting idle instance for memory", metadata: ["cella.instance": "\(candidate.instance.id)"])
            retire(candidate.instance)
            metrics.evicted(reason: "memory")
        }
    }

    /// Kills an instance and releases its memory from the budget.
    func retire(_ instance: Instance) {
        instance.terminate()
        forget(instance)
    }

    private func forget(_ instance: Instance) {
        guard let member = members.removeValue(forKey: ObjectIdentifier(instance)) else { return }
        memoryInUse -= member.bytes
        wakeWaiters()
    }

    /// An instance's sandbox ended (killed, crashed, or its runtime exited while idle).
    func exited(_ instance: Instance) {
        let key = instance.function.key
        if held[key]?.instance === instance { held[key] = nil }
        functions[key]?.idle.removeAll { $0.instance === instance }
        forget(instance)
    }

    /// Instance gauges, published from the once-a-second reaper tick (and at stop) rather than on
    /// every acquire and release: a scrape every few seconds sees the same, and the invoke path
    /// does not walk every function.
    private func publishGauges() {
        var idle = 0, busy = 0, starting = 0
        for pool in functions.values {
            idle += pool.idle.count
            busy += pool.busy
            starting += pool.starting
        }
        metrics.instances(idle: idle, busy: busy, starting: starting, memoryInUse: memoryInUse)
        metrics.templates(count: readyTemplates.count, bytes: templateBytes)
    }

    func resources(for function: DeployedFunction) -> SandboxSpec.Resources {
        let cpus = max(settings.minimumCPUs, Double(function.config.memoryMB) / 1769)
        return SandboxSpec.Resources(memoryBytes: function.memoryBytes, cpus: cpus, pids: settings.pidsPerInstance)
    }

    func environment(for function: DeployedFunction, instance: String) -> [String: String] {
        var env = function.runtime.environment
        for (key, value) in function.config.environment { env[key] = value }
        let platform: [String: String] = [
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
            "_HANDLER": function.config.handler ?? "",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_LAMBDA_FUNCTION_NAME": function.config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": function.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": String(function.config.memoryMB),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/\(function.config.name)",
            "AWS_LAMBDA_LOG_STREAM_NAME": Self.logStreamName(function: function, instance: instance),
            "AWS_REGION": settings.region,
            "AWS_DEFAULT_REGION": settings.region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_\(function.runtime.name)",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "TZ": "UTC",
        ]
        for (key, value) in platform { env[key] = value }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        if env["LANG"] == nil { env["LANG"] = "C.UTF-8" }
        return env
    }

    /// `yyyy/MM/dd/[version]instance` (Lambda's log stream names), the day in UTC.
    nonisolated static func logStreamName(function: DeployedFunction, instance: String) -> String {
        var now = time(nil)
        var day = tm()
        gmtime_r(&now, &day)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(day.tm_year + 1900)/\(two(day.tm_mon + 1))/\(two(day.tm_mday))/[\(function.version)]\(instance)"
    }
}

/// Instances of one function version on the node, by state.
public struct FunctionInstanceStats: Codable, Sendable {
    public var function: String
    public var idle: Int
    public var busy: Int
    public var starting: Int
    public var queued: Int
    public var memoryMB: Int
}
