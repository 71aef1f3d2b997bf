import CellaModel
import CellaStore
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Runs the durable queue of async (`Event`) invocations: claims due ones from the store under a
/// lease, runs each through the `Invoker`, and records the outcome — succeeded, queued again with
/// exponential backoff, or a dead letter with the last error once its attempts are spent.
///
/// At least once: the lease is renewed while an invocation runs; a controller that dies stops
/// renewing, and when the lease runs out any controller claims the invocation again and runs it
/// once more. Duplicates happen only then (or when the store cannot be reached to record a result).
public final class AsyncWorker: Service, Sendable {
    public struct Configuration: Sendable {
        /// Invocations this controller runs at once.
        public var concurrency = 64
        /// How long a claim holds an invocation without renewal.
        public var leaseMs: Int64 = 10_000
        /// Wait before the first retry; each further retry waits twice as long.
        public var retryBaseMs: Int64 = 1000
        public var retryMaxMs: Int64 = 300_000
        /// How often the queue is polled when idle.
        public var pollInterval: Duration = .milliseconds(100)
        public init() {}
    }

    let store: any Store
    let resolver: FunctionResolver
    let invoker: Invoker
    let configuration: Configuration
    let owner: String
    let logger: Logger
    /// Whether any node could run an invocation now; while none can (a controller just started and
    /// has not heard heartbeats yet, or every node is gone), nothing is claimed, so no attempt is
    /// spent on a cluster that cannot run it.
    let canRun: @Sendable () -> Bool
    private let running = Synchronization.Atomic<Int>(0)

    public init(
        store: any Store, resolver: FunctionResolver, invoker: Invoker, configuration: Configuration, logger: Logger,
        canRun: @escaping @Sendable () -> Bool = { true }
    ) {
        self.canRun = canRun
        self.store = store
        self.resolver = resolver
        self.invoker = invoker
        self.configuration = configuration
        self.owner = "controller-" + UUID().uuidString.lowercased()
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            var failing = false
            // On a graceful shutdown nothing new is claimed; the invocations already started
            // finish (their leases keep them ours until then) before the group returns.
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let free = configuration.concurrency - running.load(ordering: .relaxed)
                var claimed: [QueuedInvocation] = []
                if free > 0, canRun() {
                    do {
                        claimed = try await store.claimInvocations(
                            owner: owner, limit: free, nowMs: NodeRegistry.nowMs(), leaseMs: configuration.leaseMs)
                        if failing { logger.notice("async queue reachable again") }
                        failing = false
                    } catch {
                        if !failing { logger.error("claiming async invocations failed", metadata: ["cella.error": "\(error)"]) }
                        failing = true
                    }
                }
                for invocation in claimed {
                    running.add(1, ordering: .relaxed)
                    group.addTask {
                        await self.execute(invocation)
                        self.running.subtract(1, ordering: .relaxed)
                    }
                }
                if claimed.count < max(1, free) { try? await Task.sleep(for: configuration.pollInterval) }
            }
        }
    }

    /// Runs one attempt of a claimed invocation and records what happened.
    func execute(_ invocation: QueuedInvocation) async {
        let renewal = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(configuration.leaseMs / 3))
                let kept = try await store.renewLease(
                    id: invocation.id, owner: owner, untilMs: NodeRegistry.nowMs() + configuration.leaseMs)
                if !kept { return }
            }
        }
        defer { renewal.cancel() }
        let requestId = UUID().uuidString.lowercased()
        let log = logger.with(["cella.invocation": "\(invocation.id)", "cella.request_id": "\(requestId)"])
        do {
            let function = try await resolver.resolve(tenant: invocation.tenant, name: invocation.function, qualifier: invocation.qualifier)
            let result = try await invoker.invoke(function, payload: ByteBuffer(bytes: invocation.payload), options: .init(requestId: requestId))
            if result.outcome == .success {
                _ = try await store.completeInvocation(
                    id: invocation.id, owner: owner, requestId: result.requestId, result: Array(buffer: result.body), nowMs: NodeRegistry.nowMs())
                return
            }
            try await failed(invocation, requestId: result.requestId,
                             error: "\(result.functionError ?? "Unhandled"): the function failed (\(result.outcome.rawValue))",
                             result: Array(buffer: result.body), final: false, log: log)
        } catch let error as ControllerError {
            // A function deleted since submission will not come back: no retries.
            try? await failed(invocation, requestId: requestId, error: "\(error.code.rawValue): \(error.message)", result: nil,
                              final: error.code == .notFound, log: log)
        } catch {
            log.error("recording an async invocation failed; its lease will expire and it runs again", metadata: ["cella.error": "\(error)"])
        }
    }

    private func failed(_ invocation: QueuedInvocation, requestId: String, error: String, result: [UInt8]?, final: Bool, log: Logger) async throws {
        let now = NodeRegistry.nowMs()
        if final || invocation.attempts >= invocation.maxAttempts {
            log.warning("async invocation dead-lettered", metadata: ["cella.attempts": "\(invocation.attempts)", "cella.error": "\(error)"])
            _ = try await store.deadLetterInvocation(id: invocation.id, owner: owner, requestId: requestId, error: error, result: result, nowMs: now)
        } else {
            let delay = min(configuration.retryMaxMs, configuration.retryBaseMs << Int64(max(0, invocation.attempts - 1)))
            log.info("async invocation failed; retrying", metadata: ["cella.attempts": "\(invocation.attempts)", "cella.retry_in_ms": "\(delay)"])
            _ = try await store.retryInvocation(id: invocation.id, owner: owner, requestId: requestId, error: error, nextAttemptAtMs: now + delay, nowMs: now)
        }
    }
}

extension Logger {
    func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (k, v) in metadata { copy[metadataKey: k] = v }
        return copy
    }
}
