import CellaModel
import CellaStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// How the answers of Cella's own routes and of the Lambda-compatible ones are written.
enum APIStyle {
    case cella
    case lambda
}

enum Responses {
    static let errorHeader = HTTPField.Name("X-Cella-Error")!
    static let amznErrorType = HTTPField.Name("X-Amzn-ErrorType")!
    static let amznRequestId = HTTPField.Name("x-amzn-RequestId")!
    static let retryAfter = HTTPField.Name("Retry-After")!

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func raw(_ status: HTTPResponse.Status, _ bytes: [UInt8], headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ error: ControllerError, style: APIStyle, requestId: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let seconds = error.retryAfterSeconds { headers[retryAfter] = String(seconds) }
        let body: [String: String]
        switch style {
        case .cella:
            headers[errorHeader] = error.code.rawValue
            var b = ["code": error.code.rawValue, "message": error.message]
            if let reason = error.reason { b["reason"] = reason }
            body = b
        case .lambda:
            headers[amznErrorType] = error.lambdaType
            if let requestId { headers[amznRequestId] = requestId }
            var b = ["Type": error.httpStatus < 500 ? "User" : "Service", "Message": error.message]
            if let reason = error.reason { b["Reason"] = reason }
            body = b
        }
        let bytes = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return Response(status: HTTPResponse.Status(code: error.httpStatus), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Runs a handler; any error becomes the API's error answer.
    static func respond(_ style: APIStyle, _ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch let error as ControllerError {
            return Responses.error(error, style: style)
        } catch let error as StoreError {
            return Responses.error(.store(error), style: style)
        } catch {
            return Responses.error(ControllerError(.internal, "unexpected failure"), style: style)
        }
    }

    /// Reads a JSON body of at most `limit` bytes into `T`, naming what is wrong when it does not fit.
    static func decode<T: Decodable>(_ type: T.Type, from request: inout Request, limit: Int = 1 << 20) async throws -> T {
        let body = try await collect(&request, limit: limit)
        do { return try JSONDecoder().decode(T.self, from: Data(buffer: body)) } catch let DecodingError.keyNotFound(key, context) {
            throw ControllerError(.invalidRequest, "missing field \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ControllerError(.invalidRequest, "wrong type at \(path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ControllerError(.invalidRequest, "null at \(path(context.codingPath))")
        } catch {
            throw ControllerError(.invalidRequest, "the body is not valid JSON")
        }
    }

    /// An agent's shipment, read without JSONDecoder (`NodeTelemetry.decodeJSON`): at about 1,700
    /// invocations a second JSONDecoder was 22 % of the controller's samples (docs/benchmarks.md).
    static func decodeTelemetry(from request: inout Request, limit: Int) async throws -> NodeTelemetry {
        let body = try await collect(&request, limit: limit)
        do {
            return try body.withUnsafeReadableBytes { (bytes) throws(JSONFormatError) in try NodeTelemetry.decodeJSON(bytes) }
        } catch {
            throw ControllerError(.invalidRequest, "the telemetry is not valid: \(error)")
        }
    }

    private static func collect(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        do { return try await request.collectBody(upTo: limit) } catch {
            throw ControllerError(.tooLarge, "the request body exceeds \(limit) bytes")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "(root)" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
