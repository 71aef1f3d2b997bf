import CellaHTTP
import CellaModel
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The agent's HTTP API for the controller (docs/agent-api.md). Every failure answers with the
/// error's status, an `X-Cella-Error` header naming its code, and `{"code", "message"}`.
public enum AgentAPI {
    public static let requestIdHeader = HTTPField.Name("X-Cella-Request-Id")!
    public static let logTypeHeader = HTTPField.Name("X-Cella-Log-Type")!
    public static let clientContextHeader = HTTPField.Name("X-Cella-Client-Context")!
    public static let traceIdHeader = HTTPField.Name("X-Cella-Trace-Id")!
    public static let errorHeader = HTTPField.Name("X-Cella-Error")!
    public static let functionErrorHeader = HTTPField.Name("X-Cella-Function-Error")!
    public static let outcomeHeader = HTTPField.Name("X-Cella-Outcome")!
    public static let startHeader = HTTPField.Name("X-Cella-Start")!
    public static let durationHeader = HTTPField.Name("X-Cella-Duration-Ms")!
    public static let billedHeader = HTTPField.Name("X-Cella-Billed-Duration-Ms")!
    public static let initDurationHeader = HTTPField.Name("X-Cella-Init-Duration-Ms")!
    public static let memoryHeader = HTTPField.Name("X-Cella-Max-Memory-Used-Bytes")!
    public static let logResultHeader = HTTPField.Name("X-Cella-Log-Result")!

    /// The agent's HTTP server: the routes below, with the invoke route answered inside the
    /// connection's pipeline (`DirectRoutes`; events of at most 64 KiB with a declared length,
    /// the rest stream through Hummingbird to the same route).
    public static func application(
        agent: Agent, metrics: PrometheusCollectorRegistry?, configuration: ApplicationConfiguration,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }, logger: Logger
    ) -> some Service {
        DirectRoutes.application(
            responder: router(agent: agent, metrics: metrics).buildResponder(),
            accepts: { $0.method == .post && DirectRoutes.matches($0.path, ["v1", "functions", "*", "*", "*", "invoke"]) },
            configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }

    /// The routes, on a router the caller serves.
    public static func router(agent: Agent, metrics: PrometheusCollectorRegistry?) -> Router<BasicRequestContext> {
        let router = Router()
        if let token = agent.configuration.apiToken {
            router.add(middleware: NodeTokenMiddleware(token: token))
        }
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]

        router.get("/v1/health") { _, _ in
            jsonResponse(.ok, #"{"status":"\#(agent.isDraining ? "draining" : "ok")"}"#)
        }
        router.get("/v1/stats") { _, _ in
            let stats = await agent.stats()
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try json.encode(stats))))
        }
        router.post("/v1/drain") { _, _ in
            agent.drain()
            return jsonResponse(.ok, #"{"status":"draining"}"#)
        }
        router.delete("/v1/drain") { _, _ in
            agent.undrain()
            return jsonResponse(.ok, #"{"status":"ok"}"#)
        }
        router.put("/v1/bundles/:digest") { request, context in
            await respond {
                var request = request
                let digest = try context.parameters.require("digest")
                let limit = Int(agent.configuration.bundleLimits.maxArchiveBytes)
                let body: ByteBuffer
                do { body = try await request.collectBody(upTo: limit) } catch {
                    throw AgentError(.tooLarge, "the bundle exceeds \(limit) bytes")
                }
                let stored = try await agent.putBundle(Array(buffer: body), digest: digest)
                return jsonResponse(.created, #"{"digest":"\#(stored)"}"#)
            }
        }
        router.head("/v1/bundles/:digest") { _, context in
            await agent.hasBundle(try context.parameters.require("digest")) ? Response(status: .ok) : Response(status: .notFound)
        }
        router.put("/v1/functions/:tenant/:name/:version") { request, context in
            await respond {
                var request = request
                let (tenant, name, version) = try functionPath(context)
                let body = try await request.collectBody(upTo: 1 << 20)
                let deploy: AgentDeployRequest
                do { deploy = try JSONDecoder().decode(AgentDeployRequest.self, from: Data(buffer: body)) } catch {
                    throw AgentError(.invalidRequest, "the body is not a deploy request: \(error)")
                }
                guard deploy.config.name == name else {
                    throw AgentError(.invalidRequest, "config.name \"\(deploy.config.name)\" differs from the path's \"\(name)\"")
                }
                let function = try await agent.deploy(tenant: tenant, version: version, deploy)
                return jsonResponse(.ok, #"{"function":"\#(JSONText.escape(function.key))","bundleDigest":"\#(function.bundleDigest)"}"#)
            }
        }
        router.delete("/v1/functions/:tenant/:name/:version") { _, context in
            await respond {
                let (tenant, name, version) = try functionPath(context)
                try await agent.remove(tenant: tenant, name: name, version: version)
                return Response(status: .noContent)
            }
        }
        router.post("/v1/functions/:tenant/:name/:version/invoke") { request, context in
            var request = request
            let tenant: String, name: String, version: String
            do { (tenant, name, version) = try functionPath(context) } catch {
                return errorResponse(AgentError(.invalidRequest, "\(error)"))
            }
            let limit = agent.configuration.maxPayloadBytes
            let payload: ByteBuffer
            do { payload = try await request.collectBody(upTo: limit) } catch {
                return errorResponse(AgentError(.tooLarge, "the event exceeds \(limit) bytes"))
            }
            let headers = request.headers
            return response(await invoke(agent: agent, tenant: tenant, name: name, version: version, payload: payload) { headers[$0] })
        }
        router.post("/v1/functions/:tenant/:name/:version/prewarm") { request, context in
            await respond {
                let (tenant, name, version) = try functionPath(context)
                guard let count = request.uri.queryParameters["count"].flatMap({ Int($0) }) else {
                    throw AgentError(.invalidRequest, "prewarm needs ?count=N")
                }
                let have = try await agent.prewarm(tenant: tenant, name: name, version: version, count: count)
                return jsonResponse(.ok, #"{"instances":\#(have)}"#)
            }
        }
        router.get("/v1/functions/:tenant/:name/:version/logs") { request, context in
            await respond {
                let (tenant, name, version) = try functionPath(context)
                let query = request.uri.queryParameters
                let lines = agent.logs.lines(
                    function: DeployedFunction.key(tenant: tenant, name: name, version: version),
                    requestId: query["requestId"].map(String.init),
                    sinceMs: query["sinceMs"].flatMap { Int64($0) } ?? 0,
                    limit: query["limit"].flatMap { Int($0) } ?? 1000)
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(bytes: try json.encode(lines))))
            }
        }
        router.get("/v1/logs") { request, _ in
            let query = request.uri.queryParameters
            let entries = agent.logs.feed(
                after: query["after"].flatMap { Int64($0) } ?? 0, limit: min(10_000, query["limit"].flatMap { Int($0) } ?? 1000))
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try json.encode(entries))))
        }
        router.get("/v1/records") { request, _ in
            let query = request.uri.queryParameters
            let entries = agent.records.entries(
                after: query["after"].flatMap { Int64($0) } ?? 0, limit: query["limit"].flatMap { Int($0) } ?? 1000)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try json.encode(entries))))
        }
        if let metrics {
            router.get("/metrics") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                         body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
            }
        }
        return router
    }

    static func functionPath(_ context: BasicRequestContext) throws -> (String, String, String) {
        (try context.parameters.require("tenant"), try context.parameters.require("name"),
         try context.parameters.require("version"))
    }

    /// An answer of the invoke route: its status, headers and body.
    public struct InvokeAnswer: Sendable {
        public var status: Int
        public var headers: HTTPFields
        public var body: ByteBuffer
    }

    /// What the invoke route answers to an event already read, taking its request headers from
    /// `header`: the route calls it, and so does a controller in the agent's own process
    /// (`cella up`), which hands invocations over without HTTP. Never throws: failures are
    /// answers, as over HTTP.
    public static func invoke(
        agent: Agent, tenant: String, name: String, version: String, payload: ByteBuffer,
        header: (HTTPField.Name) -> String?
    ) async -> InvokeAnswer {
        var options = Agent.InvokeOptions(requestId: header(requestIdHeader), traceId: header(traceIdHeader))
        if let encoded = header(clientContextHeader) {
            guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else {
                return errorAnswer(AgentError(.invalidRequest, "X-Cella-Client-Context is not base64 of UTF-8 JSON"))
            }
            options.clientContext = text
        }
        let tail = header(logTypeHeader) == "Tail"
        let result: Agent.InvokeResult
        do { result = try await agent.invoke(tenant: tenant, name: name, version: version, payload: payload, options: options) } catch {
            return errorAnswer(error)
        }
        let record = result.record
        var headers: HTTPFields = [
            .contentType: "application/json",
            requestIdHeader: record.requestId,
            outcomeHeader: record.outcome.rawValue,
            startHeader: record.start.rawValue,
            durationHeader: InvocationLog.format(record.durationMs),
            billedHeader: String(record.billedDurationMs),
            memoryHeader: String(record.maxMemoryUsedBytes),
        ]
        if let initMs = record.initDurationMs { headers[initDurationHeader] = InvocationLog.format(initMs) }
        if record.outcome != .success { headers[functionErrorHeader] = record.errorType ?? "Unhandled" }
        if tail { headers[logResultHeader] = Data(result.logTail.utf8).base64EncodedString() }
        return InvokeAnswer(status: 200, headers: headers, body: result.body)
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Runs a handler and turns an `AgentError` (or any other) into the API's error answer.
    static func respond(_ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch let error as AgentError {
            return errorResponse(error)
        } catch {
            return errorResponse(AgentError(.invalidRequest, "\(error)"))
        }
    }

    static func errorResponse(_ error: AgentError) -> Response { response(errorAnswer(error)) }

    static func response(_ answer: InvokeAnswer) -> Response {
        Response(status: .init(code: answer.status), headers: answer.headers, body: .init(byteBuffer: answer.body))
    }

    static func errorAnswer(_ error: AgentError) -> InvokeAnswer {
        InvokeAnswer(
            status: error.httpStatus, headers: [.contentType: "application/json", errorHeader: error.code.rawValue],
            body: ByteBuffer(string: #"{"code":"\#(error.code.rawValue)","message":"\#(JSONText.escape(error.message))"}"#))
    }
}

/// Refuses every call without the node token (`Authorization: Bearer <token>`), compared in
/// constant time; `GET /v1/health` stays open for load balancers and probes.
struct NodeTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let expected: [UInt8]

    init(token: String) { expected = Array("Bearer \(token)".utf8) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get && request.uri.path == "/v1/health" { return try await next(request, context) }
        guard let presented = request.headers[.authorization], Bytes.constantTimeEqual(Array(presented.utf8), expected) else {
            return AgentAPI.errorResponse(AgentError(.unauthorized, "this agent takes calls with its node token only: Authorization: Bearer <node token>"))
        }
        return try await next(request, context)
    }
}
