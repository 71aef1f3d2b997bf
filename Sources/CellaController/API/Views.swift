import CellaBundles
import CellaModel
import CellaStore
import Foundation
import NIOPosix

/// `POST /v1/functions`.
struct CreateFunctionBody: Decodable {
    var config: FunctionConfig
    var codeDigest: String
    var asyncRetries: Int?
    var tags: [String: String]?
    /// Publish a version right after creating.
    var publish: Bool?
}

/// `PUT /v1/functions/{name}/code`.
struct UpdateCodeBody: Decodable {
    var codeDigest: String
    var expectedRevision: Int64?
    var publish: Bool?
}

/// `PUT /v1/functions/{name}/config`: the fields given replace the stored ones.
struct UpdateConfigBody: Decodable {
    var runtime: String?
    var handler: String?
    var memoryMB: Int?
    var timeoutSeconds: Int?
    var environment: [String: String]?
    var reservedConcurrency: Int?
    /// Removes the reservation (`reservedConcurrency` absent means "unchanged").
    var clearReservedConcurrency: Bool?
    var asyncRetries: Int?
    var tags: [String: String]?
    var expectedRevision: Int64?

    func apply(to record: inout FunctionRecord) {
        if let runtime { record.config.runtime = runtime }
        if let handler { record.config.handler = handler }
        if let memoryMB { record.config.memoryMB = memoryMB }
        if let timeoutSeconds { record.config.timeoutSeconds = timeoutSeconds }
        if let environment { record.config.environment = environment }
        if let reservedConcurrency { record.config.reservedConcurrency = reservedConcurrency }
        if clearReservedConcurrency == true { record.config.reservedConcurrency = nil }
        if let asyncRetries { record.asyncRetries = asyncRetries }
        if let tags { record.tags = tags }
    }
}

struct FunctionView: Encodable {
    var name: String
    var config: FunctionConfig
    var codeDigest: String
    var asyncRetries: Int
    var tags: [String: String]
    var revision: Int64
    var createdAtMs: Int64
    var updatedAtMs: Int64
    var publishedVersion: String?

    init(_ r: FunctionRecord) {
        name = r.name
        config = r.config
        codeDigest = r.codeDigest
        asyncRetries = r.asyncRetries
        tags = r.tags
        revision = r.revision
        createdAtMs = r.createdAtMs
        updatedAtMs = r.updatedAtMs
    }
}

struct BundleView: Encodable {
    var digest: String
    var sizeBytes: Int
    /// `zip` or `tar.gz`.
    var format: String
    /// What a node will unpack: archive members, regular files and their bytes.
    var entries: Int
    var files: Int
    var unpackedBytes: Int64
}

struct NodeView: Encodable {
    var id: String
    var address: String
    /// `live`, `dead` or `draining`.
    var status: String
    var memoryBudgetBytes: Int64
    var memoryReservedBytes: Int64
    var inFlight: Int
    var warm: [String]
    var templates: [String]
    var bundles: Int
    var lastHeartbeatMs: Int64
    var registeredAtMs: Int64

    init(_ v: NodeRegistry.NodeView) {
        let r = v.record
        id = r.id
        address = r.address
        status = !v.live ? "dead" : (r.draining || v.agentDraining) ? "draining" : "live"
        memoryBudgetBytes = r.memoryBudgetBytes
        memoryReservedBytes = r.memoryReservedBytes
        inFlight = max(r.inFlight, v.localInFlight)
        warm = r.warm
        templates = r.templates
        bundles = r.bundles.count
        lastHeartbeatMs = r.lastHeartbeatMs
        registeredAtMs = r.registeredAtMs
    }
}

/// An async invocation as `GET /v1/invocations/{id}` tells it. The function's answer is `result`,
/// as the JSON it is when it is JSON, else base64 in `resultBase64`.
struct InvocationView: Encodable {
    var id: String
    var function: String
    var qualifier: String
    var status: String
    var attempts: Int
    var maxAttempts: Int
    var requestId: String?
    var error: String?
    var resultBase64: String?
    var createdAtMs: Int64
    var updatedAtMs: Int64
    /// Valid JSON, spliced in as `result` by `json()`.
    var rawResult: [UInt8]?

    enum CodingKeys: String, CodingKey {
        case id, function, qualifier, status, attempts, maxAttempts, requestId, error, resultBase64, createdAtMs, updatedAtMs
    }

    init(_ q: QueuedInvocation) {
        id = q.id
        function = q.function
        qualifier = q.qualifier
        status = q.status.rawValue
        attempts = q.attempts
        maxAttempts = q.maxAttempts
        requestId = q.lastRequestId
        error = q.lastError
        if let bytes = q.result {
            // 500, not the events' 512: spliced into this view (and a list of them), the answer
            // must stay within what JSON readers such as Foundation's take (512 levels).
            if (try? bytes.withUnsafeBytes({ try JSONLexer.validate($0, maxDepth: 500) })) != nil {
                rawResult = bytes
            } else {
                resultBase64 = Data(bytes).base64EncodedString()
            }
        }
        createdAtMs = q.createdAtMs
        updatedAtMs = q.updatedAtMs
    }

    /// The view as JSON bytes, with `result` in place.
    func json() throws -> [UInt8] {
        var bytes = Array(try Responses.encoder.encode(self))
        guard let raw = rawResult, bytes.last == UInt8(ascii: "}") else { return bytes }
        bytes.removeLast()
        bytes += Array(#","result":"#.utf8) + raw + [UInt8(ascii: "}")]
        return bytes
    }

    static func list(_ views: [InvocationView]) throws -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, view) in views.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += try view.json()
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}

/// The checks a bundle passes at upload: every check a node makes when it unpacks it (format,
/// archive and unpacked sizes, entry count, each entry's path, type and links, CRCs), run on the
/// bytes in memory, off the event loops, writing nothing. A bundle refused here would have been
/// refused by every node; the message names the entry.
enum BundleCheck {
    static func validate(_ bytes: [UInt8], maxArchiveBytes: Int) async throws -> BundleUnpacker.Summary {
        let limits = BundleLimits(maxArchiveBytes: Int64(maxArchiveBytes))
        let result = try await NIOThreadPool.singleton.runIfActive { () -> Result<BundleUnpacker.Summary, BundleError> in
            Result { () throws(BundleError) in try BundleUnpacker.check(bytes, limits: limits) }
        }
        switch result {
        case .success(let summary): return summary
        case .failure(let error):
            throw ControllerError(.invalidBundle, "bundle refused (\(error.code.rawValue)): \(error.message)")
        }
    }
}

/// Agents' shipments into the store.
enum Telemetry {
    /// `latest-r7` is how agents know `$LATEST` revision 7; users know it as `$LATEST`.
    static func userVersion(_ agentVersion: some StringProtocol) -> String {
        agentVersion.hasPrefix("latest-r") ? "$LATEST" : String(agentVersion)
    }

    static func store(_ telemetry: NodeTelemetry, in store: any Store) async throws {
        if !telemetry.records.isEmpty {
            try await store.appendRecords(telemetry.records.map { r in
                var r = r
                r.version = userVersion(r.version)
                return r
            })
        }
        let lines: [LogLineRecord] = telemetry.logs.compactMap { line in
            guard let slash = line.function.firstIndex(of: "/"), let colon = line.function.lastIndex(of: ":"), slash < colon else { return nil }
            return LogLineRecord(
                tenant: String(line.function[..<slash]), function: String(line.function[line.function.index(after: slash)..<colon]),
                version: userVersion(line.function[line.function.index(after: colon)...]), requestId: line.requestId ?? "",
                timeMs: line.timeMs, text: line.text)
        }
        if !lines.isEmpty { try await store.appendLogs(lines) }
    }
}
