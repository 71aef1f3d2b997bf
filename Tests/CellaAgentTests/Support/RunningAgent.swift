import AsyncHTTPClient
import CellaAgent
import CellaBundles
import CellaModel
import CellaTestSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Testing

/// A real agent in this test process: its own cgroup root, state and data directories and port,
/// serving its HTTP API on loopback. Tests talk to it over HTTP only, as the controller does.
final class RunningAgent: Sendable {
    let agent: Agent
    let baseURL: String
    let cgroupRoot: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let dataDirectory: String

    static let client = HTTPClient(eventLoopGroupProvider: .singleton)
    private static let counter = Atomic<Int>(0)

    static func start(configure: (inout AgentConfiguration) -> Void = { _ in }) async throws -> RunningAgent {
        let n = counter.add(1, ordering: .relaxed).newValue
        var config = AgentConfiguration()
        config.port = 0
        config.runtimesDirectory = try AgentFixtures.runtimesDirectory()
        config.dataDirectory = NSTemporaryDirectory() + "cella-agent-test-\(getpid())-\(n)"
        config.sandbox = .init(cgroupRoot: "cella-agent-test-\(getpid())-\(n)", stateDirectory: "/run/cella-agent-test-\(getpid())-\(n)")
        config.memoryBudgetBytes = 2 << 30
        config.idleTimeout = .seconds(60)
        config.queueTimeout = .seconds(5)
        config.tmpMiB = 64
        // Cold starts unless a test asks for templates (AgentTemplateTests): the other tests are
        // about instances started from scratch, and clones share their template's init state.
        config.templates = false
        // No empty cgroups made ahead unless a test asks (AgentTemplateTests): the others count
        // the cgroups under the root as the sandboxes'.
        config.preparedCgroups = 0
        // Nor sandboxes held ahead: their cgroups and processes would count as instances' too.
        config.preparedSandboxes = 0
        configure(&config)
        var logger = Logger(label: "cella.agent.test")
        logger.logLevel = .warning
        let agent = try Agent(configuration: config, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = AgentAPI.application(
            agent: agent, metrics: nil,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: AgentService(agent: agent)), .init(service: app)], logger: logger))
        let task = Task { try await group.run() }
        var port = 0
        for await p in ports { port = p }
        return RunningAgent(agent: agent, baseURL: "http://127.0.0.1:\(port)", group: group, task: task,
                            dataDirectory: config.dataDirectory, cgroupRoot: config.sandbox.cgroupRoot)
    }

    private init(agent: Agent, baseURL: String, group: ServiceGroup, task: Task<Void, any Error>,
                 dataDirectory: String, cgroupRoot: String) {
        self.agent = agent
        self.baseURL = baseURL
        self.group = group
        self.task = task
        self.dataDirectory = dataDirectory
        self.cgroupRoot = cgroupRoot
    }

    /// Graceful shutdown (drain, stop every instance), then removes the data directory and the
    /// cgroup roots, and checks nothing of the agent's sandboxes is left.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try? FileManager.default.removeItem(atPath: dataDirectory)
        #expect(StateDirectory.sharedRootMounts("/run/\(cgroupRoot)").isEmpty, "the agent's shutdown left shared roots mounted")
        StateDirectory.remove("/run/\(cgroupRoot)")
        #expect(AgentFixtures.sandboxCgroups(root: cgroupRoot).isEmpty, "sandbox cgroups left behind")
        AgentFixtures.removeCgroupRoot(cgroupRoot)
    }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        func header(_ name: String) -> String? { headers.first(name: name) }
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
                 headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await Self.client.execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: buffer))
    }

    /// Uploads `bundle` and deploys it as `name` version `version`.
    @discardableResult
    func deploy(_ name: String, runtime: String, handler: String? = nil, bundle: [UInt8], version: String = "1",
                tenant: String = "t1", configure: (inout FunctionConfig) -> Void = { _ in }) async throws -> Reply {
        let digest = BundleDigest(of: bundle).description
        let upload = try await request(.PUT, "/v1/bundles/\(digest)", body: bundle)
        guard upload.status == 201 else { return upload }
        var config = FunctionConfig(name: name, runtime: runtime, handler: handler)
        configure(&config)
        let body = try JSONEncoder().encode(AgentDeployRequest(config: config, bundleDigest: digest))
        return try await request(.PUT, "/v1/functions/\(tenant)/\(name)/\(version)", body: Array(body))
    }

    func invoke(_ name: String, _ event: String = "{}", version: String = "1", tenant: String = "t1",
                headers: [(String, String)] = []) async throws -> Reply {
        try await request(.POST, "/v1/functions/\(tenant)/\(name)/\(version)/invoke", body: Array(event.utf8), headers: headers)
    }
}

/// Runs `body` with a fresh agent and always stops it (checking that no sandbox is left).
func withAgent(
    configure: (inout AgentConfiguration) -> Void = { _ in }, _ body: (RunningAgent) async throws -> Void
) async throws {
    let running = try await RunningAgent.start(configure: configure)
    let failure: (any Error)?
    do { try await body(running); failure = nil } catch { failure = error }
    try await running.stop()
    if let failure { throw failure }
}
