import CellaAuth
import CellaHTTP
import CellaIAM
import CellaModel
import CellaStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The controller's HTTP API (docs/controller-api.md): Cella's own routes under `/v1` and the
/// Lambda-compatible invoke under `/2015-03-31`.
public enum ControllerAPI {
    static let invocationType = HTTPField.Name("X-Cella-Invocation-Type")!
    static let idempotencyKey = HTTPField.Name("X-Cella-Idempotency-Key")!
    static let requestIdHeader = HTTPField.Name("X-Cella-Request-Id")!
    static let executedVersion = HTTPField.Name("X-Cella-Executed-Version")!
    static let functionError = HTTPField.Name("X-Cella-Function-Error")!
    static let outcome = HTTPField.Name("X-Cella-Outcome")!
    static let start = HTTPField.Name("X-Cella-Start")!
    static let logType = HTTPField.Name("X-Cella-Log-Type")!
    static let logResult = HTTPField.Name("X-Cella-Log-Result")!
    static let clientContext = HTTPField.Name("X-Cella-Client-Context")!
    static let duration = HTTPField.Name("X-Cella-Duration-Ms")!
    static let invocationId = HTTPField.Name("X-Cella-Invocation-Id")!
    static let node = HTTPField.Name("X-Cella-Node")!

    /// The controller's HTTP server: the routes below, with the invoke routes (both styles)
    /// answered inside the connection's pipeline (`DirectRoutes`; events of at most 64 KiB with a
    /// declared length, the rest stream through Hummingbird to the same routes).
    public static func application(
        _ controller: Controller, configuration: ApplicationConfiguration,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }, logger: Logger
    ) -> some Service {
        DirectRoutes.application(
            responder: router(controller).buildResponder(), accepts: isInvoke,
            configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }

    static func isInvoke(_ head: HTTPRequest) -> Bool {
        head.method == .post
            && (DirectRoutes.matches(head.path, ["v1", "functions", "*", "invoke"])
                || DirectRoutes.matches(head.path, ["2015-03-31", "functions", "*", "invocations"]))
    }

    public static func router(_ controller: Controller) -> Router<ControllerContext> {
        let router = Router(context: ControllerContext.self)
        let auth = controller.authenticator
        let store = controller.store

        router.get("/v1/health") { _, _ in
            try Responses.json(.ok, ["status": "ok"])
        }

        // MARK: Nodes
        router.post("/v1/nodes/:id/heartbeat") { request, context in
            await Responses.respond(.cella) {
                var request = request
                try auth.requireNode(try await auth.authenticate(&request, context))
                let id = try context.parameters.require("id")
                try FunctionConfig.validateName(id, field: "node id")
                let beat = try await Responses.decode(NodeHeartbeat.self, from: &request)
                let record = controller.registry.heartbeat(id: id, beat)
                try await store.upsertNode(record)
                return try Responses.json(.ok, ["status": record.draining ? "draining" : "ok"])
            }
        }
        router.post("/v1/nodes/:id/telemetry") { request, context in
            await Responses.respond(.cella) {
                var request = request
                try auth.requireNode(try await auth.authenticate(&request, context))
                let telemetry = try await Responses.decodeTelemetry(from: &request, limit: 32 << 20)
                try await Telemetry.store(telemetry, in: store)
                return Response(status: .noContent)
            }
        }
        router.get("/v1/nodes") { request, context in
            await Responses.respond(.cella) {
                var request = request
                try auth.requireOperator(try await auth.authenticate(&request, context))
                return try Responses.json(.ok, controller.registry.list().map(NodeView.init))
            }
        }
        for (method, draining) in [(HTTPRequest.Method.post, true), (.delete, false)] {
            router.on("/v1/nodes/:id/drain", method: method) { request, context in
                await Responses.respond(.cella) {
                    var request = request
                try auth.requireOperator(try await auth.authenticate(&request, context))
                    let id = try context.parameters.require("id")
                    try await store.setNodeDraining(id, draining: draining)
                    controller.registry.setDraining(id, draining)
                    return try Responses.json(.ok, ["node": id, "status": draining ? "draining" : "ok"])
                }
            }
        }

        // MARK: Tenants
        router.post("/v1/tenants") { request, context in
            await Responses.respond(.cella) {
                var request = request
                try auth.requireOperator(try await auth.authenticate(&request, context))
                struct Body: Decodable { var id: String }
                let body = try await Responses.decode(Body.self, from: &request)
                try validateTenant(body.id)
                let tenant = TenantRecord(id: body.id, createdAtMs: NodeRegistry.nowMs())
                try await store.createTenant(tenant)
                return try Responses.json(.created, tenant)
            }
        }
        router.get("/v1/tenants") { request, context in
            await Responses.respond(.cella) {
                var request = request
                try auth.requireOperator(try await auth.authenticate(&request, context))
                return try Responses.json(.ok, try await store.tenants())
            }
        }
        router.delete("/v1/tenants/:id") { request, context in
            await Responses.respond(.cella) {
                var request = request
                try auth.requireOperator(try await auth.authenticate(&request, context))
                let id = try context.parameters.require("id")
                defer { auth.identities.tenantChanged(id) }
                guard try await store.deleteTenant(id) else { throw ControllerError(.notFound, "no tenant \(id)") }
                return Response(status: .noContent)
            }
        }

        // MARK: Bundles
        router.post("/v1/bundles") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let target = request.uri.queryParameters["function"].map(String.init) ?? "*"
                try await authorizeAny(caller, [.createFunction, .updateFunctionCode], fn(caller, target), auth)
                let limit = controller.configuration.maxBundleBytes
                let body: ByteBuffer
                do { body = try await request.collectBody(upTo: limit) } catch {
                    throw ControllerError(.tooLarge, "the bundle exceeds \(limit) bytes")
                }
                let bytes = Array(buffer: body)
                let summary = try await BundleCheck.validate(bytes, maxArchiveBytes: limit)
                let digest = Bytes.hexString(SHA256.hash(data: bytes))
                try await store.putBundle(digest: digest, bytes: bytes)
                return try Responses.json(.created, BundleView(
                    digest: digest, sizeBytes: bytes.count, format: summary.format.rawValue,
                    entries: summary.entries, files: summary.files, unpackedBytes: summary.unpackedBytes))
            }
        }

        // MARK: Functions
        router.post("/v1/functions") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let body = try await Responses.decode(CreateFunctionBody.self, from: &request)
                try await auth.authorize(caller, .createFunction, fn(caller, body.config.name), context: tagContext(body.tags))
                do throws(ModelError) { try body.config.validate() } catch { throw ControllerError.invalid(error) }
                try await requireBundle(body.codeDigest, store)
                let retries = try validateRetries(body.asyncRetries ?? 2)
                let now = NodeRegistry.nowMs()
                let record = FunctionRecord(
                    tenant: caller.tenant, name: body.config.name, config: body.config, codeDigest: body.codeDigest,
                    asyncRetries: retries, tags: body.tags ?? [:], createdAtMs: now, updatedAtMs: now)
                do { try await store.createFunction(record) } catch let error as StoreError where error.code == .conflict {
                    throw ControllerError(.conflict, "Function already exist: \(record.name)")
                } catch let error as StoreError where error.code == .notFound {
                    throw ControllerError(.notFound, "no tenant \(caller.tenant)")
                }
                controller.resolver.invalidate(tenant: caller.tenant, name: record.name)
                var view = FunctionView(record)
                if body.publish == true {
                    view.publishedVersion = try await store.publishVersion(tenant: caller.tenant, name: record.name, description: "", nowMs: now).version
                }
                return try Responses.json(.created, view)
            }
        }
        router.get("/v1/functions") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .listFunctions, fn(caller, "*"))
                return try Responses.json(.ok, try await store.functions(tenant: caller.tenant).map(FunctionView.init))
            }
        }
        router.get("/v1/functions/:name") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .getFunction, fn(caller, try context.parameters.require("name")))
                return try Responses.json(.ok, FunctionView(try await function(caller, context, store)))
            }
        }
        router.delete("/v1/functions/:name") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .deleteFunction, fn(caller, try context.parameters.require("name")))
                let name = try context.parameters.require("name")
                guard try await store.deleteFunction(tenant: caller.tenant, name: name) else {
                    throw ControllerError(.notFound, "Function not found: \(name)")
                }
                controller.resolver.invalidate(tenant: caller.tenant, name: name)
                await controller.invoker.undeploy(tenant: caller.tenant, name: name)
                return Response(status: .noContent)
            }
        }
        router.put("/v1/functions/:name/code") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .updateFunctionCode, fn(caller, try context.parameters.require("name")))
                var record = try await function(caller, context, store)
                let body = try await Responses.decode(UpdateCodeBody.self, from: &request)
                if body.publish == true { try await auth.authorize(caller, .publishVersion, fn(caller, record.name)) }
                try await requireBundle(body.codeDigest, store)
                record.codeDigest = body.codeDigest
                return try await update(record, expected: body.expectedRevision, publish: body.publish, controller)
            }
        }
        router.put("/v1/functions/:name/config") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .updateFunctionConfiguration, fn(caller, try context.parameters.require("name")))
                var record = try await function(caller, context, store)
                let body = try await Responses.decode(UpdateConfigBody.self, from: &request)
                body.apply(to: &record)
                do throws(ModelError) { try record.config.validate() } catch { throw ControllerError.invalid(error) }
                record.asyncRetries = try validateRetries(record.asyncRetries)
                return try await update(record, expected: body.expectedRevision, publish: nil, controller)
            }
        }
        router.post("/v1/functions/:name/versions") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .publishVersion, fn(caller, try context.parameters.require("name")))
                let name = try context.parameters.require("name")
                struct Body: Decodable { var description: String? }
                let body = (try? await Responses.decode(Body.self, from: &request)) ?? Body()
                let version = try await store.publishVersion(
                    tenant: caller.tenant, name: name, description: body.description ?? "", nowMs: NodeRegistry.nowMs())
                return try Responses.json(.created, version)
            }
        }
        router.get("/v1/functions/:name/versions") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .listVersions, fn(caller, try context.parameters.require("name")))
                let record = try await function(caller, context, store)
                return try Responses.json(.ok, try await store.versions(tenant: caller.tenant, name: record.name))
            }
        }
        router.put("/v1/functions/:name/aliases/:alias") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let exists = try await store.alias(tenant: caller.tenant, function: try context.parameters.require("name"),
                                                   name: try context.parameters.require("alias")) != nil
                try await auth.authorize(caller, exists ? .updateAlias : .createAlias, fn(caller, try context.parameters.require("name")))
                let name = try context.parameters.require("name")
                let aliasName = try context.parameters.require("alias")
                try FunctionConfig.validateName(aliasName, field: "alias")
                guard !aliasName.allSatisfy(\.isNumber) else {
                    throw ControllerError(.invalidRequest, "alias: \"\(aliasName)\" is all digits, which names a version")
                }
                struct Body: Decodable { var version: String }
                let body = try await Responses.decode(Body.self, from: &request)
                let alias = AliasRecord(tenant: caller.tenant, function: name, name: aliasName, version: body.version, updatedAtMs: NodeRegistry.nowMs())
                try await store.putAlias(alias)
                controller.resolver.invalidate(tenant: caller.tenant, name: name)
                return try Responses.json(.ok, alias)
            }
        }
        router.get("/v1/functions/:name/aliases") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .listAliases, fn(caller, try context.parameters.require("name")))
                let record = try await function(caller, context, store)
                return try Responses.json(.ok, try await store.aliases(tenant: caller.tenant, function: record.name))
            }
        }
        router.delete("/v1/functions/:name/aliases/:alias") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .deleteAlias, fn(caller, try context.parameters.require("name")))
                let name = try context.parameters.require("name")
                let alias = try context.parameters.require("alias")
                guard try await store.deleteAlias(tenant: caller.tenant, function: name, name: alias) else {
                    throw ControllerError(.notFound, "no alias \(alias) of \(name)")
                }
                controller.resolver.invalidate(tenant: caller.tenant, name: name)
                return Response(status: .noContent)
            }
        }

        // MARK: Invoke, invocations, logs, records
        router.post("/v1/functions/:name/invoke") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                let qualifier = request.uri.queryParameters["qualifier"].map(String.init)
                return try await Invocations.invoke(
                    controller, caller: caller, name: name, qualifier: qualifier, request: request, style: .cella)
            }
        }
        /// Deploys a function version to the node its next invocation would go to and answers
        /// when it is ready there (`cella fn deploy` waits on this).
        router.post("/v1/functions/:name/prepare") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                let qualifier = request.uri.queryParameters["qualifier"].map(String.init)
                try await auth.authorize(caller, .updateFunctionCode, fn(caller, name, qualifier: qualifier))
                let function = try await controller.resolver.resolve(tenant: caller.tenant, name: name, qualifier: qualifier)
                let node = try await controller.invoker.prepare(function)
                return try Responses.json(.ok, ["function": name, "version": function.executedVersion, "node": node, "status": "ready"])
            }
        }
        router.get("/v1/invocations/:id") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let id = try context.parameters.require("id")
                guard let invocation = try await store.invocation(tenant: caller.tenant, id: id) else {
                    throw ControllerError(.notFound, "no invocation \(id)")
                }
                try await auth.authorize(caller, .getInvocation, fn(caller, invocation.function))
                return Responses.raw(.ok, try InvocationView(invocation).json())
            }
        }
        router.get("/v1/functions/:name/logs") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .getLogs, fn(caller, try context.parameters.require("name")))
                let record = try await function(caller, context, store)
                return try Responses.json(.ok, try await store.logs(query(caller, record.name, request)))
            }
        }
        router.get("/v1/functions/:name/records") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .getLogs, fn(caller, try context.parameters.require("name")))
                let record = try await function(caller, context, store)
                return try Responses.json(.ok, try await store.records(query(caller, record.name, request)))
            }
        }
        router.get("/v1/functions/:name/dead-letters") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .getInvocation, fn(caller, try context.parameters.require("name")))
                let record = try await function(caller, context, store)
                let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 100
                let dead = try await store.deadLetters(tenant: caller.tenant, function: record.name, limit: min(limit, 1000))
                return Responses.raw(.ok, try InvocationView.list(dead.map(InvocationView.init)))
            }
        }

        LambdaAPI.add(to: router, controller)
        IdentityAPI.add(to: router, controller)
        TopAPI.add(to: router, controller)
        return router
    }

    // MARK: Helpers

    /// `crn:cella:{tenant}:function:{name}[:{qualifier}]`, the resource of function operations.
    static func fn(_ caller: Caller, _ name: String, qualifier: String? = nil) -> String {
        "crn:cella:\(caller.tenant):function:\(name)" + (qualifier.map { ":\($0)" } ?? "")
    }

    static func tagContext(_ tags: [String: String]?) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (k, v) in tags ?? [:] { out[ConditionKey.functionTag(k)] = [v] }
        return out
    }

    /// Allowed when any of `actions` is.
    static func authorizeAny(_ caller: Caller, _ actions: [Action], _ resource: String, _ auth: Authenticator) async throws {
        var last: (any Error)?
        for action in actions {
            do { try await auth.authorize(caller, action, resource); return } catch { last = error }
        }
        if let last { throw last }
    }

    static func validateTenant(_ id: String) throws(ControllerError) {
        guard (1...63).contains(id.utf8.count),
              id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d })
        else { throw ControllerError(.invalidRequest, "id: \"\(id)\" must be 1-63 characters of a-z 0-9 -") }
    }

    static func validateRetries(_ retries: Int) throws(ControllerError) -> Int {
        guard (0...2).contains(retries) else {
            throw ControllerError(.invalidRequest, "asyncRetries: \(retries) is outside 0...2")
        }
        return retries
    }

    static func requireBundle(_ digest: String, _ store: any Store) async throws {
        guard digest.utf8.count == 64, digest.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw ControllerError(.invalidRequest, "codeDigest: must be 64 lowercase hex characters (the sha256 POST /v1/bundles answered)")
        }
        guard try await store.hasBundle(digest: digest) else {
            throw ControllerError(.invalidRequest, "codeDigest: no bundle \(digest); upload it with POST /v1/bundles first")
        }
    }

    static func function(_ caller: Caller, _ context: ControllerContext, _ store: any Store) async throws -> FunctionRecord {
        let name = try context.parameters.require("name")
        guard let record = try await store.function(tenant: caller.tenant, name: name) else {
            throw ControllerError(.notFound, "Function not found: \(name)")
        }
        return record
    }

    static func update(_ record: FunctionRecord, expected: Int64?, publish: Bool?, _ controller: Controller) async throws -> Response {
        var record = record
        record.updatedAtMs = NodeRegistry.nowMs()
        let stored: FunctionRecord
        do { stored = try await controller.store.updateFunction(record, expectedRevision: expected) } catch let error as StoreError where error.code == .revisionMismatch {
            throw ControllerError(.conflict, "the function changed since revision \(expected ?? 0); read it again and retry")
        }
        controller.resolver.invalidate(tenant: record.tenant, name: record.name)
        var view = FunctionView(stored)
        if publish == true {
            view.publishedVersion = try await controller.store.publishVersion(
                tenant: record.tenant, name: record.name, description: "", nowMs: record.updatedAtMs).version
        }
        return try Responses.json(.ok, view)
    }

    static func query(_ caller: Caller, _ function: String, _ request: Request) -> InvocationQuery {
        let q = request.uri.queryParameters
        return InvocationQuery(
            tenant: caller.tenant, function: function, requestId: q["requestId"].map(String.init),
            sinceMs: q["sinceMs"].flatMap { Int64($0) }, limit: min(10_000, q["limit"].flatMap { Int($0) } ?? 1000))
    }
}
