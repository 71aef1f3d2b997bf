import AsyncHTTPClient
import CellaModel
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Calls node agents' HTTP API (docs/agent-api.md) over pooled keep-alive connections.
public struct AgentClient: Sendable {
    /// An agent's answer to an invoke: its status, headers and body, passed through unparsed.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
        /// Whether the connection may carry another request.
        var keepAlive = true
        /// The agent's error code (`X-Cella-Error`), when it refused the call.
        public var errorCode: String? { headers.first(name: "X-Cella-Error") }

        public init(status: Int, headers: HTTPHeaders, body: ByteBuffer) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        init(status: Int, headers: HTTPHeaders, body: ByteBuffer, keepAlive: Bool) {
            self.init(status: status, headers: headers, body: body)
            self.keepAlive = keepAlive
        }
    }

    /// An agent in the controller's own process (`cella up`). Invocations placed on the node at
    /// `address` are handed to `invoke` by a call, with the same headers, and its answer is taken
    /// as the agent's HTTP answer would be: no loopback connection, no HTTP encoding or parsing
    /// on either side. Everything else (bundles, deploys, drains) still goes over HTTP.
    public struct LocalAgent: Sendable {
        public typealias Invoke = @Sendable (
            _ tenant: String, _ name: String, _ version: String, _ payload: ByteBuffer, _ headers: HTTPHeaders
        ) async -> Answer
        /// The address the agent advertises in its heartbeats.
        public var address: String
        public var invoke: Invoke

        public init(address: String, invoke: @escaping Invoke) {
            self.address = address
            self.invoke = invoke
        }
    }

    /// Why a call failed without an answer.
    public enum CallError: Error, Sendable, CustomStringConvertible {
        /// The connection could not be made: the agent never saw the request, so another node may
        /// run it.
        case notAccepted(String)
        /// The request may have reached the agent (the connection broke after it was sent, or the
        /// deadline passed): it must not be sent anywhere else.
        case failed(String)

        public var description: String {
            switch self {
            case .notAccepted(let m): "not accepted: \(m)"
            case .failed(let m): "failed: \(m)"
            }
        }
    }

    public let http: HTTPClient
    public let maxResponseBytes: Int
    /// `Bearer <node token>`, sent on every call: agents given a token refuse calls without it.
    let authorization: String?
    /// The invoke path's own connections (see `AgentConnections`); everything else goes through
    /// `http`.
    let connections: AgentConnections
    /// The agent in this process, if any.
    let local: LocalAgent?

    public init(http: HTTPClient, token: String? = nil, maxResponseBytes: Int = 7 << 20, local: LocalAgent? = nil) {
        self.http = http
        self.maxResponseBytes = maxResponseBytes
        authorization = token.map { "Bearer \($0)" }
        connections = AgentConnections(group: http.eventLoopGroup)
        self.local = local
    }

    /// Closes the invoke path's idle connections (the controller is stopping).
    public func close() { connections.close() }

    /// A client tuned for the controller: many keep-alive connections per agent, short connects.
    public static func makeHTTPClient(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(1)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
    }

    static func path(_ tenant: String, _ name: String, _ version: String) -> String {
        "/v1/functions/\(escape(tenant))/\(escape(name))/\(escape(version))"
    }

    /// Percent-encodes all but RFC 3986's unreserved ASCII characters. By hand: building a
    /// CharacterSet per call showed in the invoke path's profile.
    static func escape(_ s: String) -> String {
        let bytes = s.utf8
        if bytes.allSatisfy(isUnreserved) { return s }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for b in bytes {
            if isUnreserved(b) { out.append(b) } else { out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]] }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7a) || b == 0x2d || b == 0x5f || b == 0x2e || b == 0x7e
    }

    /// Sends one request and collects the answer.
    public func call(
        _ address: String, _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:],
        body: ByteBuffer? = nil, timeout: TimeAmount
    ) async throws(CallError) -> Answer {
        var request = HTTPClientRequest(url: address + path)
        request.method = method
        request.headers = headers
        if let authorization { request.headers.replaceOrAdd(name: "Authorization", value: authorization) }
        if let body { request.body = .bytes(body) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw Self.classify(error)
        }
        do {
            let body = try await response.body.collect(upTo: maxResponseBytes)
            return Answer(status: Int(response.status.code), headers: response.headers, body: body)
        } catch {
            throw .failed("reading the agent's answer: \(error)")
        }
    }

    /// Connection-stage failures mean the agent never saw the request.
    static func classify(_ error: any Error) -> CallError {
        if error is NIOConnectionError { return .notAccepted("\(error)") }
        if let error = error as? HTTPClientError, error == .connectTimeout { return .notAccepted("connect timed out") }
        if let error = error as? ChannelError, case .connectTimeout = error { return .notAccepted("connect timed out") }
        if let error = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(error.errnoCode) {
            return .notAccepted("\(error)")
        }
        return .failed("\(error)")
    }

    // MARK: Operations

    public func invoke(
        _ address: String, tenant: String, name: String, version: String, payload: ByteBuffer,
        headers: HTTPHeaders, timeout: TimeAmount
    ) async throws(CallError) -> Answer {
        if let local, local.address == address {
            // No deadline here: the agent in this process ends the invocation at the function's
            // timeout itself, and no connection can hang (over HTTP `timeout` covers that).
            let answer = await local.invoke(tenant, name, version, payload, headers)
            guard answer.body.readableBytes <= maxResponseBytes else {
                throw .failed("the agent's answer is over \(maxResponseBytes) bytes")
            }
            return answer
        }
        let path = Self.path(tenant, name, version) + "/invoke"
        guard let (host, port) = AgentConnections.endpoint(address) else {
            return try await call(address, .POST, path, headers: headers, body: payload, timeout: timeout)
        }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        head.headers.replaceOrAdd(name: "Host", value: "\(host):\(port)")
        if let authorization { head.headers.replaceOrAdd(name: "Authorization", value: authorization) }
        return try await connections.call(
            host: host, port: port, head: head, body: payload, timeout: timeout, maxResponseBytes: maxResponseBytes)
    }

    public func hasBundle(_ address: String, digest: String) async throws(CallError) -> Bool {
        try await call(address, .HEAD, "/v1/bundles/\(digest)", timeout: .seconds(5)).status == 200
    }

    public func putBundle(_ address: String, digest: String, bytes: [UInt8]) async throws(CallError) -> Answer {
        try await call(address, .PUT, "/v1/bundles/\(digest)", body: ByteBuffer(bytes: bytes), timeout: .seconds(120))
    }

    public func deploy(_ address: String, tenant: String, name: String, version: String, _ request: AgentDeployRequest) async throws(CallError) -> Answer {
        let body: ByteBuffer
        do { body = ByteBuffer(bytes: try JSONEncoder().encode(request)) } catch { throw .failed("encoding: \(error)") }
        return try await call(address, .PUT, Self.path(tenant, name, version),
                              headers: ["Content-Type": "application/json"], body: body, timeout: .seconds(30))
    }

    public func remove(_ address: String, tenant: String, name: String, version: String) async throws(CallError) -> Answer {
        try await call(address, .DELETE, Self.path(tenant, name, version), timeout: .seconds(30))
    }

    public func setDrain(_ address: String, _ draining: Bool) async throws(CallError) -> Answer {
        try await call(address, draining ? .POST : .DELETE, "/v1/drain", timeout: .seconds(5))
    }
}
