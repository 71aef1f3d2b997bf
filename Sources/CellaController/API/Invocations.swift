import CellaIAM
import CellaModel
import CellaStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The invoke routes' shared body: Cella's `POST /v1/functions/{name}/invoke` and Lambda's
/// `POST /2015-03-31/functions/{name}/invocations` differ only in header names and error shape.
enum Invocations {
    struct Headers {
        var invocationType: HTTPField.Name
        var logType: HTTPField.Name
        var clientContext: HTTPField.Name
        var idempotencyKey: HTTPField.Name?
    }

    static let cellaHeaders = Headers(
        invocationType: ControllerAPI.invocationType, logType: ControllerAPI.logType,
        clientContext: ControllerAPI.clientContext, idempotencyKey: ControllerAPI.idempotencyKey)
    static let lambdaHeaders = Headers(
        invocationType: HTTPField.Name("X-Amz-Invocation-Type")!, logType: HTTPField.Name("X-Amz-Log-Type")!,
        clientContext: HTTPField.Name("X-Amz-Client-Context")!, idempotencyKey: nil)
    static let traceId = HTTPField.Name("X-Amzn-Trace-Id")!
    static let amzExecutedVersion = HTTPField.Name("X-Amz-Executed-Version")!
    static let amzFunctionError = HTTPField.Name("X-Amz-Function-Error")!
    static let amzLogResult = HTTPField.Name("X-Amz-Log-Result")!

    static func invoke(
        _ controller: Controller, caller: Caller, name: String, qualifier: String?, request: Request, style: APIStyle
    ) async throws -> Response {
        var request = request
        let names = style == .cella ? cellaHeaders : lambdaHeaders
        let headers = request.headers
        let type = headers[names.invocationType] ?? "RequestResponse"
        guard ["RequestResponse", "Event", "DryRun"].contains(type) else {
            throw ControllerError(.invalidRequest, "\(names.invocationType): \"\(type)\" is not RequestResponse, Event or DryRun")
        }
        let limit = type == "Event" ? controller.configuration.maxAsyncPayloadBytes : controller.configuration.maxSyncPayloadBytes
        var payload: ByteBuffer
        do { payload = try await request.collectBody(upTo: limit) } catch {
            throw ControllerError(.tooLarge, "Request must be smaller than \(limit) bytes for the \(type) invocation type")
        }
        if payload.readableBytes == 0 { payload = ByteBuffer(string: "{}") }
        // Checked in one pass without building it (JSONSerialization built the whole event as
        // objects first: for a 6 MB event, far more memory and time than the check needs).
        do {
            try payload.withUnsafeReadableBytes { (bytes) throws(JSONLexer.Failure) in try JSONLexer.validate(bytes) }
        } catch {
            throw ControllerError(.invalidRequest, "Could not parse request body into json: \(error.reason) at byte \(error.offset)")
        }
        // Resolved first (cached), so the policies' cella:FunctionTag/<key> conditions cost no
        // store read of their own. A caller's own tenant only: a 404 here reveals nothing.
        let function = try await controller.resolver.resolve(tenant: caller.tenant, name: name, qualifier: qualifier)
        var conditions: [String: [String]] = [ConditionKey.invocationType: [type]]
        for (k, v) in function.tags { conditions[ConditionKey.functionTag(k)] = [v] }
        try await controller.authenticator.authorize(
            caller, .invokeFunction, ControllerAPI.fn(caller, name, qualifier: qualifier), context: conditions)

        switch type {
        case "DryRun":
            return Response(status: .noContent, headers: versionHeader(function.executedVersion, style))
        case "Event":
            let key = names.idempotencyKey.flatMap { headers[$0] }
            if let key, key.isEmpty || key.utf8.count > 128 {
                throw ControllerError(.invalidRequest, "X-Cella-Idempotency-Key: 1-128 characters")
            }
            let now = NodeRegistry.nowMs()
            let (queued, created) = try await controller.store.enqueue(QueuedInvocation(
                id: UUID().uuidString.lowercased(), tenant: caller.tenant, function: name,
                qualifier: qualifier ?? "$LATEST", payload: Array(buffer: payload), idempotencyKey: key,
                maxAttempts: 1 + function.asyncRetries, nextAttemptAtMs: now, createdAtMs: now, updatedAtMs: now))
            switch style {
            case .cella:
                return try Responses.json(.accepted, ["invocationId": queued.id, "status": queued.status.rawValue,
                                                      "duplicate": created ? "false" : "true"],
                                          headers: [ControllerAPI.invocationId: queued.id])
            case .lambda:
                return Response(status: .accepted, headers: [Responses.amznRequestId: queued.id])
            }
        default:
            var options = Invoker.Options(requestId: UUID().uuidString.lowercased())
            options.logTail = headers[names.logType] == "Tail"
            options.traceId = headers[traceId]
            if let context = headers[names.clientContext] {
                guard context.utf8.count <= 3583, let data = Data(base64Encoded: context),
                      (try? JSONSerialization.jsonObject(with: data)) is [String: Any]
                else {
                    throw ControllerError(.invalidRequest, "\(names.clientContext): must be base64 of a JSON object, at most 3583 characters")
                }
                options.clientContext = context
            }
            let result = try await controller.invoker.invoke(function, payload: payload, options: options)
            var out = versionHeader(result.executedVersion, style)
            out[.contentType] = "application/json"
            switch style {
            case .cella:
                out[ControllerAPI.requestIdHeader] = result.requestId
                out[ControllerAPI.node] = result.node
                out[ControllerAPI.outcome] = result.outcome.rawValue
                if let start = result.start { out[ControllerAPI.start] = start }
                if let error = result.functionError { out[ControllerAPI.functionError] = error }
                if let log = result.logResult { out[ControllerAPI.logResult] = log }
                if let duration = result.durationMs { out[ControllerAPI.duration] = duration }
            case .lambda:
                out[Responses.amznRequestId] = result.requestId
                // Lambda marks every failure of the function `Unhandled`; the error object says which.
                if result.functionError != nil { out[amzFunctionError] = "Unhandled" }
                if let log = result.logResult { out[amzLogResult] = log }
            }
            return Response(status: .ok, headers: out, body: .init(byteBuffer: result.body))
        }
    }

    static func versionHeader(_ version: String, _ style: APIStyle) -> HTTPFields {
        [style == .cella ? ControllerAPI.executedVersion : amzExecutedVersion: version]
    }
}

/// The Lambda-compatible routes (PROTOCOLS.md §2), so boto3 and the aws CLI work with
/// `endpoint_url` pointed here.
enum LambdaAPI {
    static func add(to router: Router<ControllerContext>, _ controller: Controller) {
        router.post("/2015-03-31/functions/:name/invocations") { request, context in
            await Responses.respond(.lambda) {
                var request = request
                let caller = try await controller.authenticator.authenticate(&request, context)
                let raw = try context.parameters.require("name")
                let (name, pathQualifier) = try parseName(raw.removingPercentEncoding ?? raw, tenant: caller.tenant)
                let queryQualifier = request.uri.queryParameters["Qualifier"].map(String.init)
                if let pathQualifier, let queryQualifier, pathQualifier != queryQualifier {
                    throw ControllerError(.invalidRequest, "The derived qualifier from the function name does not match the specified qualifier.")
                }
                return try await Invocations.invoke(
                    controller, caller: caller, name: name, qualifier: pathQualifier ?? queryQualifier, request: request, style: .lambda)
            }
        }
    }

    /// `name`, `name:qualifier`, `account:function:name[:qualifier]` or
    /// `arn:aws:lambda:region:account:function:name[:qualifier]`; the account is the tenant, and
    /// another tenant's is answered like a function that does not exist.
    static func parseName(_ raw: String, tenant: String) throws(ControllerError) -> (String, String?) {
        let parts = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var rest = parts[...]
        if parts.first == "arn" {
            guard parts.count >= 7, parts[1].hasPrefix("aws"), parts[2] == "lambda", parts[5] == "function" else {
                throw ControllerError(.invalidRequest, "\(raw) is not a Lambda function ARN")
            }
            guard parts[4] == tenant else { throw ControllerError(.notFound, "Function not found: \(raw)") }
            rest = parts[6...]
        } else if parts.count >= 3, parts[1] == "function" {
            guard parts[0] == tenant else { throw ControllerError(.notFound, "Function not found: \(raw)") }
            rest = parts[2...]
        }
        guard let name = rest.first, rest.count <= 2 else {
            throw ControllerError(.invalidRequest, "\(raw) is not a function name")
        }
        do { try FunctionConfig.validateName(name, field: "FunctionName") } catch { throw .invalid(error) }
        let qualifier = rest.count == 2 ? rest.last : nil
        if let qualifier, qualifier.isEmpty { throw ControllerError(.invalidRequest, "\(raw): empty qualifier") }
        return (name, qualifier)
    }
}
