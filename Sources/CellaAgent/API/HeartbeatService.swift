import AsyncHTTPClient
import CellaModel
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Registers the node with a controller and keeps it alive there: `POST /v1/nodes/{id}/heartbeat`
/// with a `NodeHeartbeat` every `interval` (controllers mark a node dead after 3 s of silence).
/// A failed beat is retried on the next tick and logged once per outage (after 3 s); the agent serves on
/// whether or not a controller hears it. On a graceful shutdown it sends one last beat saying the
/// node is draining, so placement stops at once instead of after the 3 s.
///
/// Beside the beats, on a loop of its own, it ships the metering records and log lines made since
/// the last accepted shipment (`POST /v1/nodes/{id}/telemetry`); its cursors advance only when
/// the controller accepts, so a controller restart loses nothing. The two loops are separate so
/// that shipping a backlog (thousands of lines a second under load) never delays a beat: when
/// shipping ran after each beat, a node serving 1,000+ invocations/s went 3 s without one and
/// was declared dead while serving.
public final class HeartbeatService: Service, Sendable {
    public struct Configuration: Sendable {
        /// The controller's base URL, e.g. `http://10.0.0.1:9000`.
        public var controller: String
        /// This node's stable id.
        public var nodeId: String
        /// The agent API's address as controllers reach it, e.g. `http://10.0.0.2:9100`.
        public var advertise: String
        /// Sent as `Authorization: Bearer ...` when set.
        public var token: String?
        public var interval: Duration = .seconds(1)

        public init(controller: String, nodeId: String, advertise: String, token: String?) {
            self.controller = controller
            self.nodeId = nodeId
            self.advertise = advertise
            self.token = token
        }
    }

    let agent: Agent
    let configuration: Configuration
    let client: HTTPClient
    let logger: Logger
    private let lastError = Mutex<String>("")
    /// The last record and log sequence numbers the controller accepted.
    private let cursors = Mutex<(records: Int64, logs: Int64)>((0, 0))

    public init(agent: Agent, configuration: Configuration, client: HTTPClient = .shared, logger: Logger) {
        self.agent = agent
        self.configuration = configuration
        self.client = client
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
        // The agent drains on the same signal; one more beat tells placement at once.
        _ = await beat()
        await shipAll()
    }

    private func loop() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.beatLoop() }
            group.addTask { await self.shipLoop() }
        }
    }

    private func shipLoop() async {
        while !Task.isCancelled {
            await shipAll()
            try? await Task.sleep(for: configuration.interval)
        }
    }

    private func beatLoop() async {
        var failures = 0
        while !Task.isCancelled {
            let ok = await beat()
            if ok, failures >= 3 {
                logger.notice("controller reachable again", metadata: ["cella.controller": "\(configuration.controller)"])
            }
            failures = ok ? 0 : failures + 1
            // Once per outage, after three silent seconds (not for a controller still starting).
            if failures == 3 {
                logger.warning("the controller does not accept heartbeats; placements will skip this node until it does", metadata: [
                    "cella.controller": "\(configuration.controller)", "cella.error": "\(lastError.withLock { $0 })"])
            }
            try? await Task.sleep(for: configuration.interval)
        }
    }

    /// Ships until caught up (a batch per request), so a burst drains within a tick or two.
    private func shipAll() async {
        while !Task.isCancelled, let (next, more) = await ship(after: cursors.withLock { $0 }) {
            cursors.withLock { $0 = next }
            if !more { break }
        }
    }

    /// Sends the records and log lines numbered after `cursors`.
    /// - Returns: the new cursors and whether more is waiting; nil when the controller did not
    ///   accept (or there was nothing to send).
    func ship(after cursors: (records: Int64, logs: Int64)) async -> ((records: Int64, logs: Int64), Bool)? {
        let records = agent.records.entries(after: cursors.records, limit: 1000)
        let lines = agent.logs.feed(after: cursors.logs, limit: 5000)
        guard !records.isEmpty || !lines.isEmpty else { return nil }
        let telemetry = NodeTelemetry(
            records: records.map(\.record),
            logs: lines.map { .init(function: $0.function, timeMs: $0.line.timeMs, requestId: $0.line.requestId, text: $0.line.text) })
        // Written by hand rather than with JSONEncoder, which cost 5 % of the agent's CPU under
        // load (one record and three or more log lines per invocation).
        guard await post("telemetry", ByteBuffer(bytes: telemetry.jsonBytes())) else { return nil }
        let next = (records: records.last?.sequence ?? cursors.records, logs: lines.last?.sequence ?? cursors.logs)
        return (next, records.count == 1000 || lines.count == 5000)
    }

    /// Sends one heartbeat. - Returns: whether the controller accepted it.
    @discardableResult
    public func beat() async -> Bool {
        let heartbeat = await agent.heartbeat(advertise: configuration.advertise)
        guard let body = try? JSONEncoder().encode(heartbeat) else { return false }
        return await post("heartbeat", ByteBuffer(bytes: body))
    }

    private func post(_ what: String, _ body: ByteBuffer) async -> Bool {
        let url = configuration.controller + "/v1/nodes/"
            + (configuration.nodeId.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? configuration.nodeId)
            + "/" + what
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token = configuration.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            request.body = .bytes(body)
            let response = try await client.execute(request, timeout: .seconds(2))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else {
                lastError.withLock { $0 = "\(what) answered \(response.status.code)" }
                return false
            }
            return true
        } catch {
            lastError.withLock { $0 = "\(what): \(error)" }
            return false
        }
    }
}
