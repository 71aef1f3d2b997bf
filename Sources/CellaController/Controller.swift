import AsyncHTTPClient
import CellaModel
import CellaStore
import Foundation
import Logging
import ServiceLifecycle

/// One controller: the parts behind its HTTP routes. Stateless apart from caches — everything
/// durable is in the store, so several controllers can share one PostgreSQL.
public final class Controller: Sendable {
    public struct Configuration: Sendable {
        /// The cluster operator's bearer token.
        public var operatorToken: String
        /// The nodes' shared secret: agents send it with heartbeats and telemetry, and this
        /// controller sends it on every call to an agent. It opens the node routes only, so a node
        /// holds no operator credential. Nil: the operator token serves as it (agents then hold
        /// the operator's token; deploy with a node token).
        public var nodeToken: String?
        /// The token agents present and expect.
        public var effectiveNodeToken: String { nodeToken ?? operatorToken }
        /// Created on start when missing; where the operator acts without `X-Cella-Tenant`.
        public var defaultTenant = "default"
        /// Largest sync event, bytes (Lambda: 6 MB).
        public var maxSyncPayloadBytes = 6 * 1024 * 1024
        /// Largest async event, bytes (Lambda: 1 MB).
        public var maxAsyncPayloadBytes = 1024 * 1024
        /// Largest code bundle, bytes (Lambda: 50 MB zipped).
        public var maxBundleBytes = 50 * 1024 * 1024
        public var quotas = Quotas.Limits(concurrency: 1000, perSecond: nil)
        public var quotaOverrides: [String: Quotas.Limits] = [:]
        public var async = AsyncWorker.Configuration()
        /// A node silent this long is dead to placement.
        public var nodeDeadAfterMs: Int64 = 3000
        /// How long a caller's credential, principal and attached policies read from the store
        /// are reused (`IdentityCache`): a revocation or policy change made through another
        /// controller takes effect here within this time. 0: read them for every request.
        public var identityCacheMs: Int64 = 1000

        public init(operatorToken: String) {
            self.operatorToken = operatorToken
        }
    }

    public let configuration: Configuration
    public let store: any Store
    public let registry: NodeRegistry
    public let agents: AgentClient
    public let resolver: FunctionResolver
    public let quotas: Quotas
    public let invoker: Invoker
    public let worker: AsyncWorker
    public let authenticator: Authenticator
    let logger: Logger

    /// `localAgent`: an agent in this process (`cella up`), which invocations placed on it reach
    /// by a call instead of HTTP.
    public init(
        store: any Store, configuration: Configuration, http: HTTPClient, localAgent: AgentClient.LocalAgent? = nil,
        logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        registry = NodeRegistry(deadAfterMs: configuration.nodeDeadAfterMs)
        agents = AgentClient(http: http, token: configuration.effectiveNodeToken, local: localAgent)
        resolver = FunctionResolver(store: store)
        quotas = Quotas(defaults: configuration.quotas, overrides: configuration.quotaOverrides)
        invoker = Invoker(registry: registry, agents: agents, store: store, quotas: quotas, logger: logger)
        let registry = registry
        worker = AsyncWorker(
            store: store, resolver: resolver, invoker: invoker, configuration: configuration.async, logger: logger,
            canRun: { registry.hasLiveNode() })
        authenticator = Authenticator(
            operatorToken: configuration.operatorToken, nodeToken: configuration.nodeToken,
            defaultTenant: configuration.defaultTenant, store: store, identityTTLMs: configuration.identityCacheMs)
    }

    /// Migrates the store, makes the default tenant and loads the nodes known to the store.
    public func prepare() async throws {
        try await store.migrate()
        if try await store.tenant(configuration.defaultTenant) == nil {
            do {
                try await store.createTenant(TenantRecord(id: configuration.defaultTenant, createdAtMs: NodeRegistry.nowMs()))
            } catch let error as StoreError where error.code == .conflict {
                // Another controller made it first.
            }
        }
        registry.merge(try await store.nodes())
    }

    /// The background services: the async queue and the node monitor.
    public var services: [any Service] { [worker, NodeMonitor(controller: self)] }
}

/// Keeps the node registry current: merges what other controllers wrote to the store and marks
/// nodes dead after `nodeDeadAfterMs` of silence, twice a second.
struct NodeMonitor: Service {
    let controller: Controller

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let nodes = try? await controller.store.nodes() { controller.registry.merge(nodes) }
                for id in controller.registry.reap() {
                    controller.logger.warning("node dead: no heartbeat", metadata: [
                        "cella.node": "\(id)", "cella.dead_after_ms": "\(controller.configuration.nodeDeadAfterMs)"])
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
