import AsyncHTTPClient
import CellaController
import CellaStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// A controller in this test process on a SQLite store in a temporary directory, serving on a
/// loopback port; tests talk to it over HTTP only.
final class RunningController: Sendable {
    let controller: Controller
    let baseURL: String
    let token = "test-operator-token-0123456789"
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let directory: String
    private let store: any Store
    private let http: HTTPClient
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    static func start(configure: (inout Controller.Configuration) -> Void = { _ in }) async throws -> RunningController {
        let directory = NSTemporaryDirectory() + "cella-controller-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "cella.controller.test")
        logger.logLevel = .error
        let store = try await StoreFactory.open(url: "sqlite:\(directory)/cella.db", logger: logger)
        var config = Controller.Configuration(operatorToken: "test-operator-token-0123456789")
        configure(&config)
        let http = AgentClient.makeHTTPClient()
        let controller = Controller(store: store, configuration: config, http: http, logger: logger)
        try await controller.prepare()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = ControllerAPI.application(
            controller,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app)] + controller.services.map { .init(service: $0) }, logger: logger))
        let task = Task { try await group.run() }
        var port = 0
        for await p in ports { port = p }
        return RunningController(controller: controller, baseURL: "http://127.0.0.1:\(port)", group: group, task: task,
                                 directory: directory, store: store, http: http)
    }

    private init(controller: Controller, baseURL: String, group: ServiceGroup, task: Task<Void, any Error>,
                 directory: String, store: any Store, http: HTTPClient) {
        self.controller = controller
        self.baseURL = baseURL
        self.group = group
        self.task = task
        self.directory = directory
        self.store = store
        self.http = http
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try await http.shutdown()
        await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
                 auth: Bool = true) async throws -> Cluster.Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if auth { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return Cluster.Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: buffer))
    }

    func json(_ method: HTTPMethod, _ path: String, _ object: Any, headers: [(String, String)] = []) async throws -> Cluster.Reply {
        try await request(method, path, body: Array(try JSONSerialization.data(withJSONObject: object)), headers: headers)
    }
}

func withController(configure: (inout Controller.Configuration) -> Void = { _ in }, _ body: (RunningController) async throws -> Void) async throws {
    let running = try await RunningController.start(configure: configure)
    let failure: (any Error)?
    do { try await body(running); failure = nil } catch { failure = error }
    try await running.stop()
    if let failure { throw failure }
}
