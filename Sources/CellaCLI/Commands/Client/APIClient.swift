import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Calls the controller's API (docs/controller-api.md) with the resolved endpoint and key. The key
/// is only ever a bearer token, so tenant API keys work the same as the operator's.
struct APIClient: Sendable {
    let target: ClientOptions.Resolved

    /// An HTTP answer, whatever its status.
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var ok: Bool { (200..<300).contains(status) }
        func header(_ name: String) -> String? { headers.first(name: name) }
    }

    /// The largest answer read (the biggest is an invoke result, at most 6 MB, or a log listing).
    static let maxAnswerBytes = 64 << 20

    /// `/v1/functions/NAME/...` with each segment percent-encoded.
    static func path(_ segments: String...) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/")
        return "/" + segments.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(separator: "/")
    }

    /// Sends one request and returns the answer, whatever its status.
    /// - Parameters:
    ///   - query: pairs with nil values left out.
    ///   - progress: report the upload's progress on stderr (only when the body is large and
    ///     stderr is a terminal).
    /// - Throws: `ClientError` (api) when the controller cannot be reached or the answer is too big.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: [UInt8]? = nil,
        headers: [(String, String)] = [], progress: Bool = false, timeout: TimeAmount = .seconds(960)
    ) async throws(ClientError) -> Answer {
        var url = target.endpoint + path
        let items = query.compactMap { name, value in value.map { (name, $0) } }
        if !items.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+$")
            url += "?" + items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(target.key)")
        request.headers.add(name: "User-Agent", value: "cella-cli/\(CellaCommand.configuration.version)")
        if let tenant = target.tenant { request.headers.add(name: "X-Cella-Tenant", value: tenant) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            if progress && body.count > 1 << 20 && isatty(STDERR_FILENO) == 1 {
                request.body = .stream(UploadProgress(bytes: body), length: .known(Int64(body.count)))
            } else {
                request.body = .bytes(body)
            }
        }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let buffer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: buffer))
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError(.api, "cannot reach \(target.endpoint): \(error)",
                              hint: "is the controller running there? check --endpoint or `cella context ls`")
        }
    }

    /// Sends a request that must succeed and returns its JSON answer (`.null` for an empty one).
    /// - Throws: `ClientError` (api) with the API's code and message for a non-2xx status.
    @discardableResult
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], json: JSONValue? = nil,
        body: [UInt8]? = nil, progress: Bool = false
    ) async throws(ClientError) -> JSONValue {
        var bytes = body
        var headers: [(String, String)] = []
        if let json {
            bytes = Array(json.compactJSON().utf8)
            headers.append(("Content-Type", "application/json"))
        }
        let answer = try await send(method, path, query: query, body: bytes, headers: headers, progress: progress)
        guard answer.ok else { throw ClientError.api(status: answer.status, body: answer.body) }
        if answer.body.isEmpty { return .null }
        do { return try JSONValue.parse(answer.body) } catch {
            throw ClientError(.api, "the API's answer to \(method) \(path) is not JSON", hint: "is \(target.endpoint) a Cella controller?")
        }
    }
}

/// An upload body in 256 KB chunks that draws `uploading 12.0/40.0 MiB (30%)` on stderr as the
/// client pulls them, so the figure follows what was handed to the connection.
struct UploadProgress: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    static let chunk = 256 << 10

    struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        var offset = 0

        mutating func next() async -> ByteBuffer? {
            let total = bytes.count
            guard offset < total else {
                if offset == total {
                    offset += 1
                    Render.err("\r\u{1B}[Kuploaded \(Self.mib(total)) MiB\n")
                }
                return nil
            }
            let end = Swift.min(offset + UploadProgress.chunk, total)
            let buffer = ByteBuffer(bytes: bytes[offset..<end])
            offset = end
            Render.err("\r\u{1B}[Kuploading \(Self.mib(offset))/\(Self.mib(total)) MiB (\(offset * 100 / total)%)")
            return buffer
        }

        static func mib(_ n: Int) -> String { String(format: "%.1f", Double(n) / 1_048_576) }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes) }
}
