import CellaBundles
import CellaModel
import CellaSandbox
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A node agent: deploys function versions on this node and runs their invocations in sandboxed
/// instances over the Lambda Runtime API. `AgentAPI` puts it on HTTP for the controller.
public final class Agent: Sendable {
    public let configuration: AgentConfiguration
    public let logs: LogStore
    public let records: RecordStore
    let launcher: SandboxLauncher
    let pool: InstancePool
    let bundles: BundleStore
    let runtimes: RuntimeRegistry
    let metrics: AgentMetrics
    let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var functions: [String: DeployedFunction] = [:]
        var owners: [String: UInt32] = [:]
        var deployments: UInt64 = 0
        var draining = false
        var inFlight = 0
        /// Bundles deploys are reading now, with how many.
        var bundlesInDeploy: [String: Int] = [:]
        /// Bundles of removed versions whose busy instances may still run, until when.
        var bundlesRetiring: [String: Date] = [:]
    }

    /// Prepares the node: removes sandboxes and cgroups a previous run left, opens the bundle store
    /// and compiles the sandbox's seccomp profile. Call `start()` before serving.
    /// - Throws: `AgentError` `.internal` when the host cannot run sandboxes or the data directory
    ///   is unusable.
    public init(
        configuration: AgentConfiguration, logger: Logger = Logger(label: "cella.agent"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        threadPool: NIOThreadPool = .singleton
    ) throws(AgentError) {
        self.configuration = configuration
        self.logger = logger
        do {
            launcher = try SandboxLauncher(configuration: configuration.sandbox, logger: logger)
        } catch {
            throw AgentError(.internal, "cannot run sandboxes on this host: \(error)")
        }
        let stale = launcher.removeStale().sandboxes
        if !stale.isEmpty {
            logger.notice("removed sandboxes left by a previous run", metadata: ["cella.count": "\(stale.count)"])
        }
        do {
            bundles = try BundleStore(root: configuration.dataDirectory + "/bundles", limits: configuration.bundleLimits)
        } catch {
            throw AgentError(.internal, "cannot open the bundle store: \(error)")
        }
        // Searchable by the sandboxes' unprivileged host users, which mount trees from below it.
        chmod(configuration.dataDirectory, 0o711)
        runtimes = RuntimeRegistry(directory: configuration.runtimesDirectory)
        logs = LogStore(bytesPerFunction: configuration.logBytesPerFunction)
        records = RecordStore()
        metrics = AgentMetrics(memoryBudgetBytes: configuration.memoryBudgetBytes)
        pool = InstancePool(
            settings: .init(
                memoryBudgetBytes: configuration.memoryBudgetBytes, idleTimeout: configuration.idleTimeout,
                queueTimeout: configuration.queueTimeout, initTimeout: configuration.initTimeout,
                minimumCPUs: configuration.minimumCPUs, pidsPerInstance: configuration.pidsPerInstance,
                tmpMiB: configuration.tmpMiB, maxPayloadBytes: configuration.maxPayloadBytes,
                region: configuration.region, templates: configuration.templates,
                templateBudgetBytes: configuration.templateMemoryBudgetBytes, cloneTimeout: configuration.cloneTimeout,
                preparedNetworks: configuration.preparedNetworks, preparedCgroups: configuration.preparedCgroups,
                preparedSandboxes: configuration.preparedSandboxes),
            launcher: launcher, threadPool: threadPool, group: group, logs: logs, metrics: metrics, logger: logger)
    }

    /// Removes partial bundle unpacks a crash left behind.
    public func start() async {
        if let removed = try? await bundles.removeIncomplete(), removed > 0 {
            logger.notice("removed incomplete bundle files", metadata: ["cella.count": "\(removed)"])
        }
    }

    // MARK: Bundles and functions

    /// Stores a bundle archive under its sha256, which must equal `digest` when one is given, and
    /// unpacks it at once: a bad bundle is refused at upload, and nothing of it is kept.
    /// - Throws: `AgentError` `.badBundle` naming the rule and the entry.
    public func putBundle(_ archive: [UInt8], digest: String?) async throws(AgentError) -> String {
        let stored: BundleDigest
        do {
            let expected = try digest.map { (d: String) throws(BundleError) in try BundleDigest(parsing: d) }
            stored = try await bundles.store(archive: archive, expected: expected)
        } catch {
            throw AgentError(.badBundle, "\(error.code.rawValue): \(error.message)")
        }
        do {
            _ = try await bundles.unpacked(stored)
        } catch {
            _ = try? await bundles.remove(stored)
            throw AgentError(.badBundle, "\(error.code.rawValue): \(error.message)")
        }
        await enforceBundleBudget(keeping: stored.description)
        return stored.description
    }

    /// Keeps the bundle store within `bundleDiskBudgetBytes` (archives and unpacked trees
    /// together): removes the least recently used bundles that no deployed version uses, none a
    /// deploy is reading, none of a version removed while its instances may still be busy (its
    /// timeout plus the grace), and none stored or used in the last `bundleGrace` (a controller
    /// sends a bundle, then deploys it), until the rest fits. A removed bundle is sent again by the controller
    /// when a version needs it (its deploy answers 404 first).
    /// - Parameters:
    ///   - keeping: a bundle not to remove now (the one just stored).
    ///   - override: a budget instead of the configured one (tests).
    /// - Returns: the digests removed, least recently used first.
    /// Seconds a stored or used bundle is safe from the disk budget.
    static let bundleGrace: TimeInterval = 120

    @discardableResult
    public func enforceBundleBudget(keeping: String? = nil, budget override: Int64? = nil) async -> [String] {
        guard let entries = try? await bundles.list() else { return [] }
        func size(_ e: BundleStoreEntry) -> Int64 { (e.archiveBytes ?? 0) + (e.unpackedBytes ?? 0) }
        var total = entries.reduce(Int64(0)) { $0 + size($1) }
        let budget = override ?? Int64(clamping: configuration.bundleDiskBudgetBytes)
        var removed: [String] = []
        if total > budget {
            for entry in entries.sorted(by: { ($0.lastUsed, $0.digest.description) < ($1.lastUsed, $1.digest.description) }) {
                guard total > budget else { break }
                let digest = entry.digest.description
                // Read again before each removal: a deploy may have begun meanwhile.
                let now = Date()
                let pinned = state.withLock { state in
                    state.bundlesRetiring = state.bundlesRetiring.filter { $0.value > now }
                    return state.bundlesInDeploy[digest] != nil || state.bundlesRetiring[digest] != nil
                        || state.functions.values.contains { $0.bundleDigest == digest }
                }
                guard digest != keeping, !pinned, entry.lastUsed < now.addingTimeInterval(-Self.bundleGrace) else { continue }
                guard (try? await bundles.remove(entry.digest)) == true else { continue }
                total -= size(entry)
                removed.append(digest)
                metrics.bundleEvicted()
                logger.info("bundle evicted (disk budget)", metadata: ["cella.bundle": "\(digest)", "cella.bytes": "\(size(entry))"])
            }
            if total > budget {
                logger.warning("the bundle store is over its disk budget and every remaining bundle is in use", metadata: [
                    "cella.bytes": "\(total)", "cella.budget_bytes": "\(budget)"])
            }
        }
        metrics.bundles(bytes: total)
        return removed
    }

    /// Whether the bundle is on this node.
    public func hasBundle(_ digest: String) async -> Bool {
        guard let parsed = try? BundleDigest(parsing: digest) else { return false }
        return await bundles.contains(parsed)
    }

    /// Makes a function version runnable here: checks its config, finds its runtime, unpacks its
    /// bundle (once per digest). Deploying the same version again replaces it.
    /// - Throws: `AgentError` `.invalidRequest`, `.runtimeNotFound`, `.notFound` (bundle),
    ///   `.badBundle`.
    @discardableResult
    public func deploy(tenant: String, version: String, _ request: AgentDeployRequest) async throws(AgentError) -> DeployedFunction {
        do {
            try FunctionConfig.validateName(tenant, field: "tenant")
            try request.config.validate()
        } catch {
            throw AgentError(.invalidRequest, error.description)
        }
        try Self.validateVersion(version)
        let runtime = try runtimes.runtime(named: request.config.runtime)
        let digest: BundleDigest
        do { digest = try BundleDigest(parsing: request.bundleDigest) } catch {
            throw AgentError(.invalidRequest, "bundleDigest: \(error.description)")
        }
        // Pinned while this deploy reads it, so the disk budget does not remove it underneath.
        state.withLock { $0.bundlesInDeploy[digest.description, default: 0] += 1 }
        defer {
            state.withLock { state in
                let left = (state.bundlesInDeploy[digest.description] ?? 1) - 1
                state.bundlesInDeploy[digest.description] = left > 0 ? left : nil
            }
        }
        guard await bundles.contains(digest) else {
            throw AgentError(.notFound, "bundle \(digest) is not on this node: PUT it to /v1/bundles/\(digest) first")
        }
        let codePath: String
        do { codePath = try await bundles.unpacked(digest) } catch {
            throw AgentError(.badBundle, error.description)
        }
        let ownBootstrap = Self.isExecutable(codePath + "/bootstrap")
        if !ownBootstrap {
            if runtime.bootstrap.hasPrefix("/var/task/") {
                throw AgentError(.invalidRequest, "runtime \(runtime.name) runs the bundle's own executable bootstrap, and this bundle has none at its root")
            }
            if request.config.handler == nil {
                throw AgentError(.invalidRequest, "handler: runtime \(runtime.name) needs a handler such as app.handler")
            }
        }
        let owner = ownerIndex(for: tenant)
        let function = state.withLock { state in
            state.deployments += 1
            let function = DeployedFunction(
                tenant: tenant, config: request.config, version: version, bundleDigest: digest.description,
                codePath: codePath, runtime: runtime,
                bootstrap: ownBootstrap ? "/var/task/bootstrap" : runtime.bootstrap, ownerIndex: owner,
                deployment: state.deployments)
            state.functions[function.key] = function
            return function
        }
        await pool.register(function)
        logger.info("deployed", metadata: ["cella.function": "\(function.key)", "cella.bundle": "\(digest)"])
        return function
    }

    /// Removes a function version and stops its instances.
    /// - Throws: `AgentError` `.notFound`.
    public func remove(tenant: String, name: String, version: String) async throws(AgentError) {
        let key = DeployedFunction.key(tenant: tenant, name: name, version: version)
        guard let removed = state.withLock({ $0.functions.removeValue(forKey: key) }) else {
            throw AgentError(.notFound, "function \(key) is not deployed on this node")
        }
        // Its busy instances may run up to their timeout on the unpacked tree: keep it that long.
        let until = Date().addingTimeInterval(TimeInterval(removed.config.timeoutSeconds) + Self.bundleGrace)
        state.withLock { $0.bundlesRetiring[removed.bundleDigest] = max($0.bundlesRetiring[removed.bundleDigest] ?? until, until) }
        await pool.unregister(key)
        logs.remove(function: key)
    }

    /// Starts instances of a deployed version ahead of need, up to `count` (bounded by its
    /// reserved concurrency and the memory budget); returns how many it has.
    /// - Throws: `AgentError` `.notFound`, `.nodeFull`, `.invalidRequest` (init failed),
    ///   `.draining`.
    public func prewarm(tenant: String, name: String, version: String, count: Int) async throws(AgentError) -> Int {
        guard !isDraining else { throw AgentError(.draining, "the agent is draining") }
        guard (1...1000).contains(count) else { throw AgentError(.invalidRequest, "count \(count) is outside 1...1000") }
        return try await pool.prewarm(DeployedFunction.key(tenant: tenant, name: name, version: version), count: count)
    }

    // MARK: Invocations

    /// What a caller may add to an invocation.
    public struct InvokeOptions: Sendable {
        /// The controller's id for the invocation; a new UUID when nil.
        public var requestId: String?
        /// Decoded client context JSON, passed to the runtime as is.
        public var clientContext: String?
        public var cognitoIdentity: String?
        public var traceId: String?
        public init(requestId: String? = nil, clientContext: String? = nil, cognitoIdentity: String? = nil, traceId: String? = nil) {
            self.requestId = requestId
            self.clientContext = clientContext
            self.cognitoIdentity = cognitoIdentity
            self.traceId = traceId
        }
    }

    /// The answer to one invocation.
    public struct InvokeResult: Sendable {
        /// The function's result, or its error object when `record.outcome` is not success.
        public var body: ByteBuffer
        public var record: InvocationRecord
        let log: InvocationLog
        /// The invocation's log, START to REPORT, its last 4 KB (made on request: most callers
        /// do not ask for it).
        public var logTail: String { log.text(limit: 4096) }
    }

    /// Runs one invocation on a warm instance or a new one.
    /// - Throws: `AgentError` for platform failures only (`.notFound`, `.throttled`, `.nodeFull`,
    ///   `.draining`, `.tooLarge`, `.internal`); the function's own failures are results.
    public func invoke(tenant: String, name: String, version: String, payload: ByteBuffer,
                       options: InvokeOptions = InvokeOptions()) async throws(AgentError) -> InvokeResult {
        let key = DeployedFunction.key(tenant: tenant, name: name, version: version)
        let function: DeployedFunction = try state.withLock { (state) throws(AgentError) -> DeployedFunction in
            guard !state.draining else { throw AgentError(.draining, "the agent is draining and takes no new invocations") }
            guard let function = state.functions[key] else {
                throw AgentError(.notFound, "function \(key) is not deployed on this node")
            }
            state.inFlight += 1
            return function
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        guard payload.readableBytes <= configuration.maxPayloadBytes else {
            throw AgentError(.tooLarge, "the event is \(payload.readableBytes) bytes; the limit is \(configuration.maxPayloadBytes)")
        }
        // The event loop the request came in on (when it runs on one): a clone made ahead for the
        // next invocation of this version is served there.
        let requestLoop = MultiThreadedEventLoopGroup.currentEventLoop
        let requestId = options.requestId ?? Self.newRequestId()
        let startMs = Instance.nowMs()
        let began = ContinuousClock.now
        let acquired = try await pool.acquire(key)
        var tail = InvocationLog(requestId: requestId, version: version)
        let body: ByteBuffer
        var record: InvocationRecord
        switch acquired {
        case .initFailed(let error, let initMs):
            logs.append(function: key, LogLine(timeMs: Instance.nowMs(), requestId: requestId, instance: "platform", text: tail.startLine))
            body = Self.encode(error)
            let durationMs = Instance.milliseconds(since: began)
            record = InvocationRecord(
                requestId: requestId, tenant: tenant, function: name, version: version, startMs: startMs,
                durationMs: durationMs, billedDurationMs: InvocationRecord.billed(durationMs), initDurationMs: initMs,
                start: .cold, memoryMB: function.config.memoryMB, maxMemoryUsedBytes: 0, outcome: .initError,
                errorType: error.errorType)
            tail.lines += error.logTail ?? []
        case .instance(let instance, let start, let initMs):
            logs.append(function: key, LogLine(timeMs: Instance.nowMs(), requestId: requestId, instance: "platform", text: tail.startLine))
            let handed = ContinuousClock.now
            let pending = PendingInvocation(
                requestId: requestId, payload: payload,
                deadlineMs: Instance.nowMs() + Int64(function.config.timeoutSeconds) * 1000,
                clientContext: options.clientContext, cognitoIdentity: options.cognitoIdentity,
                traceId: options.traceId)
            let (result, lines) = await instance.invoke(pending, timeout: .seconds(Int64(function.config.timeoutSeconds)))
            let durationMs = Instance.milliseconds(since: handed)
            let peak = instance.peakMemoryBytes
            await pool.release(instance, requestLoop: requestLoop)
            tail.lines = lines
            let outcome: InvocationOutcome
            let errorType: String?
            switch result {
            case .response(let buffer):
                (body, outcome, errorType) = (buffer, .success, nil)
            case .functionError(let buffer, let type):
                (body, outcome, errorType) = (buffer, .error, type)
            case .failure(let kind, let error):
                (body, outcome, errorType) = (Self.encode(error), kind, error.errorType)
            }
            record = InvocationRecord(
                requestId: requestId, tenant: tenant, function: name, version: version, startMs: startMs,
                durationMs: durationMs, billedDurationMs: InvocationRecord.billed(durationMs), initDurationMs: initMs,
                start: start, memoryMB: function.config.memoryMB, maxMemoryUsedBytes: peak, outcome: outcome,
                errorType: errorType)
        }
        tail.record = record
        for line in tail.platformLines().dropFirst() {
            logs.append(function: key, LogLine(timeMs: Instance.nowMs(), requestId: requestId, instance: "platform", text: line))
        }
        records.append(record)
        metrics.invoked(record.outcome, start: record.start, seconds: Instance.milliseconds(since: began) / 1000)
        return InvokeResult(body: body, record: record, log: tail)
    }

    // MARK: Lifecycle

    /// Stops taking invocations; those in flight finish.
    public func drain() { state.withLock { $0.draining = true } }
    public func undrain() { state.withLock { $0.draining = false } }
    public var isDraining: Bool { state.withLock { $0.draining } }
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Drains, waits for in-flight invocations (up to the drain timeout), then stops every
    /// instance and unmounts the launcher's shared roots.
    public func shutdown() async {
        drain()
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while inFlight > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await pool.stopAll()
        launcher.releaseSharedRoots()
    }

    /// Stops instances idle for longer than the idle timeout.
    public func reapIdle() async {
        await pool.reapIdle()
    }

    /// What the node holds and does now.
    public struct Stats: Codable, Sendable {
        public var draining: Bool
        public var inFlight: Int
        public var memoryBudgetBytes: UInt64
        public var memoryReservedBytes: UInt64
        public var functions: [FunctionInstanceStats]
        public var bundles: [String]
        /// Templates held (docs/runtime-snapshots.md) and their memory against the template budget.
        public var templates: [TemplateStats]
        public var templateBudgetBytes: UInt64
        /// Network namespaces ready for cold starts, and how many sandboxes started in one.
        public var preparedNetworks: Int
        public var preparedNetworksUsed: Int
        /// Empty cgroups ready for cold starts, and how many sandboxes started in one.
        public var preparedCgroups: Int
        public var preparedCgroupsUsed: Int
        /// Sandboxes held before their runtime's exec for versions that start cold, and how many
        /// cold starts took one.
        public var preparedSandboxes: Int
        public var preparedSandboxesUsed: Int
        /// The function versions (`tenant/name:version`) those held sandboxes are for.
        public var preparedSandboxFunctions: [String]
    }

    public func stats() async -> Stats {
        let (functions, memory) = await pool.stats()
        let (draining, inFlight) = state.withLock { ($0.draining, $0.inFlight) }
        return Stats(
            draining: draining, inFlight: inFlight, memoryBudgetBytes: configuration.memoryBudgetBytes,
            memoryReservedBytes: memory, functions: functions,
            bundles: ((try? await bundles.list()) ?? []).map(\.digest.description).sorted(),
            templates: await pool.templateStats(), templateBudgetBytes: configuration.templateMemoryBudgetBytes,
            preparedNetworks: await pool.preparedNetworkCount.ready, preparedNetworksUsed: await pool.preparedNetworkCount.used,
            preparedCgroups: await pool.preparedCgroupCount.ready, preparedCgroupsUsed: await pool.preparedCgroupCount.used,
            preparedSandboxes: await pool.preparedSandboxCount.ready, preparedSandboxesUsed: await pool.preparedSandboxCount.used,
            preparedSandboxFunctions: await pool.preparedSandboxFunctions)
    }

    /// The function versions (`tenant/name:version`) whose templates this node holds, for the
    /// heartbeat's `templates`: the controller routes their new instances here.
    public func templatesHeld() async -> [String] {
        await pool.templateStats().map(\.function)
    }

    /// What a heartbeat tells the controller: capacity, load, and what is warm and cached here.
    /// - Parameter advertise: the agent API's address as controllers reach it.
    public func heartbeat(advertise: String) async -> NodeHeartbeat {
        let (functions, memory) = await pool.stats()
        let (draining, inFlight) = state.withLock { ($0.draining, $0.inFlight) }
        return NodeHeartbeat(
            address: advertise, memoryBudgetBytes: Int64(configuration.memoryBudgetBytes),
            memoryReservedBytes: Int64(memory), inFlight: inFlight,
            warm: functions.filter { $0.idle > 0 }.map(\.function), templates: await templatesHeld(),
            bundles: ((try? await bundles.list()) ?? []).map(\.digest.description).sorted(),
            draining: draining,
            instances: functions.map {
                InstanceCounts(function: $0.function, idle: $0.idle, busy: $0.busy, starting: $0.starting,
                               memoryBytes: Int64($0.idle + $0.busy + $0.starting) * Int64($0.memoryMB) << 20)
            })
    }

    // MARK: Helpers

    private func ownerIndex(for tenant: String) -> UInt32 {
        state.withLock { state in
            if let index = state.owners[tenant] { return index }
            // Index 0 is the CLI's own sandboxes; tenants start at 1.
            let index = UInt32(state.owners.count + 1)
            state.owners[tenant] = index
            return index
        }
    }

    /// A random (version 4) UUID in lowercase, from the system generator (getrandom(2), no file).
    static func newRequestId() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() & 0xffff_ffff_ffff_0fff | 0x0000_0000_0000_4000
        let low = generator.next() & 0x3fff_ffff_ffff_ffff | 0x8000_0000_0000_0000
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: digits - text.count) + text
        }
        return "\(hex(high >> 32, 8))-\(hex(high >> 16 & 0xffff, 4))-\(hex(high & 0xffff, 4))-"
            + "\(hex(low >> 48, 4))-\(hex(low & 0xffff_ffff_ffff, 12))"
    }

    static func validateVersion(_ version: String) throws(AgentError) {
        guard version == "$LATEST" || (!version.isEmpty && version.utf8.count <= 64
            && version.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f }))
        else { throw AgentError(.invalidRequest, "version \"\(version)\" must be $LATEST or 1-64 characters of A-Z a-z 0-9 _ -") }
    }

    static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o111) != 0
    }

    static func encode(_ error: FunctionErrorBody) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: (try? encoder.encode(error)) ?? Data())
    }
}
