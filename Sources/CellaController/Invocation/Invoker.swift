import AsyncHTTPClient
import CellaModel
import CellaStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Runs one invocation on the cluster: picks nodes (`NodeRegistry.candidates`), deploys the
/// version on a node that lacks it, forwards the event, and tells the answer apart — a function's
/// result or failure, a node that could not take it (try the next), a refusal for the caller.
///
/// A request goes to another node only when the first never accepted it (it could not connect,
/// or it answered NodeFull/Draining before running anything). Once an agent may have started it,
/// it is never sent again: a broken connection after sending is the caller's error to see.
public final class Invoker: Sendable {
    public struct Options: Sendable {
        public var requestId: String
        public var logTail = false
        /// Base64 JSON, as the client sent it.
        public var clientContext: String?
        public var traceId: String?
        public init(requestId: String) { self.requestId = requestId }
    }

    public struct Result: Sendable {
        public var requestId: String
        public var node: String
        public var executedVersion: String
        public var outcome: InvocationOutcome
        /// The error type when the function failed (`Unhandled`, `Runtime.ExitError`...).
        public var functionError: String?
        public var start: String?
        /// Base64 of the log tail, when asked for.
        public var logResult: String?
        public var durationMs: String?
        public var body: ByteBuffer
    }

    let registry: NodeRegistry
    let agents: AgentClient
    let store: any Store
    let quotas: Quotas
    let bundles: BundleCache
    let logger: Logger
    /// How many nodes one invocation may try before it is told there is no capacity.
    let attempts: Int
    private let deploys = Mutex<[String: Task<Void, any Error>]>([:])

    public init(registry: NodeRegistry, agents: AgentClient, store: any Store, quotas: Quotas, logger: Logger, attempts: Int = 3) {
        self.registry = registry
        self.agents = agents
        self.store = store
        self.quotas = quotas
        self.bundles = BundleCache(store: store)
        self.logger = logger
        self.attempts = attempts
    }

    public func invoke(_ function: ResolvedFunction, payload: ByteBuffer, options: Options) async throws(ControllerError) -> Result {
        try quotas.acquire(tenant: function.tenant)
        defer { quotas.release(tenant: function.tenant) }
        let (candidates, anyLive) = registry.candidates(key: function.key, memoryBytes: function.memoryBytes, limit: attempts)
        guard anyLive else {
            throw ControllerError(.noNodes, "no live node can run functions now; retry when a node has registered",
                                  retryAfterSeconds: 1)
        }
        var headers: HTTPHeaders = ["X-Cella-Request-Id": options.requestId]
        if options.logTail { headers.add(name: "X-Cella-Log-Type", value: "Tail") }
        if let context = options.clientContext { headers.add(name: "X-Cella-Client-Context", value: context) }
        if let trace = options.traceId { headers.add(name: "X-Cella-Trace-Id", value: trace) }
        let timeout = TimeAmount.seconds(Int64(function.config.timeoutSeconds) + 30)

        nodes: for node in candidates {
            guard let address = registry.address(of: node) else { continue }
            var deployedNow = false
            while true {
                registry.begin(node: node, key: function.key, bytes: function.memoryBytes)
                let answer: AgentClient.Answer
                do {
                    answer = try await agents.invoke(
                        address, tenant: function.tenant, name: function.name, version: function.agentVersion,
                        payload: payload, headers: headers, timeout: timeout)
                } catch {
                    registry.end(node: node, key: function.key, bytes: function.memoryBytes, idleAfter: false, answered: false)
                    switch error {
                    case .notAccepted(let why):
                        logger.warning("node unreachable; trying the next", metadata: ["cella.node": "\(node)", "cella.error": "\(why)"])
                        registry.markUnavailable(node, forMs: 1000)
                        continue nodes
                    case .failed(let why):
                        logger.error("invocation lost in flight", metadata: [
                            "cella.node": "\(node)", "cella.request_id": "\(options.requestId)", "cella.error": "\(why)"])
                        throw ControllerError(.internal, "the node running the invocation failed before answering (request \(options.requestId))")
                    }
                }
                let outcome = answer.headers.first(name: "X-Cella-Outcome").flatMap(InvocationOutcome.init(rawValue:))
                registry.end(node: node, key: function.key, bytes: function.memoryBytes,
                             idleAfter: answer.status == 200 && (outcome == .success || outcome == .error))
                switch (answer.status, answer.errorCode) {
                case (200, _):
                    return Result(
                        requestId: answer.headers.first(name: "X-Cella-Request-Id") ?? options.requestId, node: node,
                        executedVersion: function.executedVersion, outcome: outcome ?? .success,
                        functionError: answer.headers.first(name: "X-Cella-Function-Error"),
                        start: answer.headers.first(name: "X-Cella-Start"),
                        logResult: answer.headers.first(name: "X-Cella-Log-Result"),
                        durationMs: answer.headers.first(name: "X-Cella-Duration-Ms"), body: answer.body)
                case (404, "ResourceNotFound") where !deployedNow:
                    // Not on the node yet (or the agent restarted): deploy, then ask again.
                    registry.forgetDeployed(node: node, key: function.key)
                    do {
                        try await deploy(function, on: node, address: address)
                    } catch let error as ControllerError {
                        throw error
                    } catch let error as AgentClient.CallError {
                        if case .notAccepted = error { registry.markUnavailable(node, forMs: 1000) }
                        logger.warning("deploy failed; trying the next node", metadata: ["cella.node": "\(node)", "cella.error": "\(error)"])
                        continue nodes
                    } catch {
                        throw ControllerError(.internal, "deploying to node \(node): \(error)")
                    }
                    deployedNow = true
                    continue
                case (503, "NodeFull"):
                    registry.markUnavailable(node, forMs: 250)
                case (503, _), (404, _):
                    registry.markUnavailable(node, forMs: 2000)
                case (429, _):
                    throw ControllerError(
                        .tooManyRequests, "Rate Exceeded: the function's reserved concurrency is in use",
                        reason: "ReservedFunctionConcurrentInvocationLimitExceeded", retryAfterSeconds: 1)
                case (401, _):
                    registry.markUnavailable(node, forMs: 2000)
                    logger.error("node refused this controller's node token", metadata: ["cella.node": "\(node)"])
                    throw ControllerError(.internal, "node \(node) refused this controller's node token (--node-token-file must match the agent's)")
                case (413, _):
                    throw ControllerError(.tooLarge, Self.message(answer))
                case (400, _):
                    throw ControllerError(.invalidRequest, Self.message(answer))
                default:
                    throw ControllerError(.internal, "node \(node) failed: \(Self.message(answer))")
                }
                continue nodes
            }
        }
        throw ControllerError(
            .tooManyRequests, "every node that could run \(function.name) is at capacity; retry shortly",
            reason: "NodeCapacityExceeded", retryAfterSeconds: 1)
    }

    /// Makes `function` runnable on the node its next invocation would go to: the bundle is sent
    /// and unpacked there and the version deployed, so a bad bundle (one the node's entry checks
    /// refuse) or a missing runtime is reported now, and the first invocation needs no deploy.
    /// - Returns: the node it is ready on.
    /// - Throws: `ControllerError`: `.noNodes` when no node is live, `.invalidRequest` when the
    ///   node refuses the code or the runtime is missing, `.tooManyRequests` when every candidate
    ///   is full or unreachable.
    public func prepare(_ function: ResolvedFunction) async throws(ControllerError) -> String {
        let (candidates, anyLive) = registry.candidates(key: function.key, memoryBytes: function.memoryBytes, limit: attempts)
        guard anyLive else {
            throw ControllerError(.noNodes, "no live node can run functions now; retry when a node has registered",
                                  retryAfterSeconds: 1)
        }
        for node in candidates {
            guard let address = registry.address(of: node) else { continue }
            // Deployed there already by this controller: deploying again would replace the
            // version on the agent, dropping its idle instances and template.
            if registry.isDeployed(node: node, key: function.key) { return node }
            do {
                try await deploy(function, on: node, address: address)
                return node
            } catch let error as ControllerError {
                throw error
            } catch let error as AgentClient.CallError {
                if case .notAccepted = error { registry.markUnavailable(node, forMs: 1000) }
                logger.warning("prepare: deploy failed; trying the next node", metadata: ["cella.node": "\(node)", "cella.error": "\(error)"])
            } catch {
                throw ControllerError(.internal, "deploying to node \(node): \(error)")
            }
        }
        throw ControllerError(
            .tooManyRequests, "every node that could run \(function.name) is at capacity or unreachable; retry shortly",
            reason: "NodeCapacityExceeded", retryAfterSeconds: 1)
    }

    static func message(_ answer: AgentClient.Answer) -> String {
        struct Body: Decodable { var message: String }
        if let body = try? JSONDecoder().decode(Body.self, from: Data(buffer: answer.body)) { return body.message }
        return "status \(answer.status)"
    }

    /// Makes `function` runnable on `node`: its bundle, then the version. Concurrent callers for
    /// the same node and version share one deployment.
    func deploy(_ function: ResolvedFunction, on node: String, address: String) async throws {
        let id = node + "|" + function.key
        let task: Task<Void, any Error> = deploys.withLock { deploys in
            if let running = deploys[id] { return running }
            let task = Task { try await self.deployNow(function, on: node, address: address) }
            deploys[id] = task
            return task
        }
        defer { _ = deploys.withLock { $0.removeValue(forKey: id) } }
        try await task.value
    }

    private func deployNow(_ function: ResolvedFunction, on node: String, address: String) async throws {
        if try await !agents.hasBundle(address, digest: function.codeDigest) {
            let bytes = try await bundles.bytes(function.codeDigest)
            let answer = try await agents.putBundle(address, digest: function.codeDigest, bytes: bytes)
            switch answer.status {
            case 200, 201: break
            case 400: throw ControllerError(.invalidRequest, "node \(node) refused the bundle: \(Self.message(answer))")
            default: throw ControllerError(.internal, "node \(node) refused the bundle: \(Self.message(answer))")
            }
        }
        let answer = try await agents.deploy(
            address, tenant: function.tenant, name: function.name, version: function.agentVersion,
            AgentDeployRequest(config: function.config, bundleDigest: function.codeDigest))
        switch answer.status {
        case 200..<300: break
        case 400: throw ControllerError(.invalidRequest, Self.message(answer))
        case 404 where answer.errorCode == "RuntimeNotFound":
            throw ControllerError(.invalidRequest, "runtime \(function.config.runtime) is not installed on node \(node)")
        default: throw AgentClient.CallError.notAccepted("node \(node) answered the deploy with \(answer.status): \(Self.message(answer))")
        }
        let stale = registry.setDeployed(
            node: node, key: function.key, replacing: function.agentVersion.hasPrefix("latest-r") ? function.latestPrefix : nil)
        for key in stale {
            let version = String(key[key.index(after: key.lastIndex(of: ":")!)...])
            Task { _ = try? await agents.remove(address, tenant: function.tenant, name: function.name, version: version) }
        }
        logger.info("deployed", metadata: ["cella.node": "\(node)", "cella.function": "\(function.key)"])
    }

    /// Removes every deployment of a function this controller made (after the function is
    /// deleted). Best effort: agents reap idle instances anyway.
    public func undeploy(tenant: String, name: String) async {
        for (node, key) in registry.deployments(prefix: "\(tenant)/\(name):") {
            guard let address = registry.address(of: node), let colon = key.lastIndex(of: ":") else { continue }
            _ = try? await agents.remove(address, tenant: tenant, name: name, version: String(key[key.index(after: colon)...]))
            registry.forgetDeployed(node: node, key: key)
        }
    }
}

/// Bundles read from the store, kept in memory while nodes fetch them (bounded, LRU).
final class BundleCache: Sendable {
    let store: any Store
    let budget: Int
    private let state = Mutex<(entries: [String: [UInt8]], order: [String], bytes: Int)>(([:], [], 0))

    init(store: any Store, budget: Int = 256 << 20) {
        self.store = store
        self.budget = budget
    }

    func bytes(_ digest: String) async throws -> [UInt8] {
        if let hit = state.withLock({ state -> [UInt8]? in
            guard let bytes = state.entries[digest] else { return nil }
            state.order.removeAll { $0 == digest }
            state.order.append(digest)
            return bytes
        }) { return hit }
        guard let bytes = try await store.bundle(digest: digest) else {
            throw ControllerError(.internal, "bundle \(digest) is missing from the store")
        }
        state.withLock { state in
            guard state.entries[digest] == nil, bytes.count <= budget else { return }
            state.entries[digest] = bytes
            state.order.append(digest)
            state.bytes += bytes.count
            while state.bytes > budget, !state.order.isEmpty {
                let old = state.order.removeFirst()
                state.bytes -= state.entries.removeValue(forKey: old)?.count ?? 0
            }
        }
        return bytes
    }
}
