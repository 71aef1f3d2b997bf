/// `NodeTelemetry` as JSON without Foundation's coders: the document `JSONEncoder` writes, read
/// as `JSONDecoder` reads it (keys in any order, unknown keys ignored, absent or null optionals),
/// at a fraction of their cost. Stricter than `JSONDecoder` in two ways no writer of Cella's
/// produces: integers must be written as integers (`1.0` or `1e3` are refused), and a byte-order
/// mark is refused. An agent ships every invocation's record and log lines: at about 1,700
/// invocations a second JSONDecoder was 22 % of the controller's samples and JSONEncoder 5 % of
/// the agent's (docs/benchmarks.md).
extension NodeTelemetry {
    /// The JSON document, UTF-8.
    public func jsonBytes() -> [UInt8] {
        var out = JSONBytesWriter()
        out.bytes.reserveCapacity(128 + records.count * 320 + logs.reduce(0) { $0 + 96 + $1.text.utf8.count })
        out.raw("{\"logs\":[")
        for (index, line) in logs.enumerated() {
            if index > 0 { out.raw(",") }
            out.raw("{\"function\":"); out.string(line.function)
            if let requestId = line.requestId { out.raw(",\"requestId\":"); out.string(requestId) }
            out.raw(",\"text\":"); out.string(line.text)
            out.raw(",\"timeMs\":"); out.integer(line.timeMs)
            out.raw("}")
        }
        out.raw("],\"records\":[")
        for (index, r) in records.enumerated() {
            if index > 0 { out.raw(",") }
            out.raw("{\"billedDurationMs\":"); out.integer(r.billedDurationMs)
            out.raw(",\"durationMs\":"); out.double(r.durationMs)
            if let errorType = r.errorType { out.raw(",\"errorType\":"); out.string(errorType) }
            out.raw(",\"function\":"); out.string(r.function)
            if let initMs = r.initDurationMs { out.raw(",\"initDurationMs\":"); out.double(initMs) }
            out.raw(",\"maxMemoryUsedBytes\":"); out.integer(r.maxMemoryUsedBytes)
            out.raw(",\"memoryMB\":"); out.integer(r.memoryMB)
            out.raw(",\"outcome\":"); out.string(r.outcome.rawValue)
            out.raw(",\"requestId\":"); out.string(r.requestId)
            out.raw(",\"start\":"); out.string(r.start.rawValue)
            out.raw(",\"startMs\":"); out.integer(r.startMs)
            out.raw(",\"tenant\":"); out.string(r.tenant)
            out.raw(",\"version\":"); out.string(r.version)
            out.raw("}")
        }
        out.raw("]}")
        return out.bytes
    }

    /// Reads the JSON document `jsonBytes` writes (or `JSONEncoder` wrote).
    /// - Throws: `JSONFormatError` naming where the document is malformed, a required field is
    ///   missing or null, or a value has the wrong type.
    public static func decodeJSON(_ bytes: UnsafeRawBufferPointer) throws(JSONFormatError) -> NodeTelemetry {
        var scanner = JSONScanner(bytes)
        var records: [InvocationRecord]?
        var logs: [Line]?
        try scanner.object { (key, scanner) throws(JSONFormatError) in
            switch key {
            case "records":
                var list: [InvocationRecord] = []
                try scanner.array { (index, scanner) throws(JSONFormatError) in
                    try JSONFormatError.at("records[\(index)]") { () throws(JSONFormatError) in list.append(try record(&scanner)) }
                }
                records = list
            case "logs":
                var list: [Line] = []
                try scanner.array { (index, scanner) throws(JSONFormatError) in
                    try JSONFormatError.at("logs[\(index)]") { () throws(JSONFormatError) in list.append(try line(&scanner)) }
                }
                logs = list
            default:
                try JSONFormatError.at(key) { () throws(JSONFormatError) in try scanner.skipValue() }
            }
        }
        try scanner.end()
        guard let records else { throw JSONFormatError("missing field records") }
        guard let logs else { throw JSONFormatError("missing field logs") }
        return NodeTelemetry(records: records, logs: logs)
    }

    private static func line(_ scanner: inout JSONScanner) throws(JSONFormatError) -> Line {
        var function: String?, timeMs: Int64?, requestId: String?, text: String?
        try scanner.object { (key, scanner) throws(JSONFormatError) in
            try JSONFormatError.at(key) { () throws(JSONFormatError) in
                switch key {
                case "function": function = try scanner.string()
                case "timeMs": timeMs = try scanner.integer()
                case "requestId": requestId = try scanner.null() ? nil : try scanner.string()
                case "text": text = try scanner.string()
                default: try scanner.skipValue()
                }
            }
        }
        return Line(function: try required(function, "function"), timeMs: try required(timeMs, "timeMs"),
                    requestId: requestId, text: try required(text, "text"))
    }

    private static func record(_ scanner: inout JSONScanner) throws(JSONFormatError) -> InvocationRecord {
        var requestId: String?, tenant: String?, function: String?, version: String?
        var startMs: Int64?, durationMs: Double?, billedDurationMs: Int64?, initDurationMs: Double?
        var start: StartKind?, memoryMB: Int?, maxMemoryUsedBytes: UInt64?, outcome: InvocationOutcome?, errorType: String?
        try scanner.object { (key, scanner) throws(JSONFormatError) in
            try JSONFormatError.at(key) { () throws(JSONFormatError) in
                switch key {
                case "requestId": requestId = try scanner.string()
                case "tenant": tenant = try scanner.string()
                case "function": function = try scanner.string()
                case "version": version = try scanner.string()
                case "startMs": startMs = try scanner.integer()
                case "durationMs": durationMs = try scanner.double()
                case "billedDurationMs": billedDurationMs = try scanner.integer()
                case "initDurationMs": initDurationMs = try scanner.null() ? nil : try scanner.double()
                case "start":
                    let text = try scanner.string()
                    guard let kind = StartKind(rawValue: text) else { throw JSONFormatError("unknown start kind \"\(text)\"") }
                    start = kind
                case "memoryMB": memoryMB = try scanner.integer()
                case "maxMemoryUsedBytes": maxMemoryUsedBytes = try scanner.integer()
                case "outcome":
                    let text = try scanner.string()
                    guard let value = InvocationOutcome(rawValue: text) else { throw JSONFormatError("unknown outcome \"\(text)\"") }
                    outcome = value
                case "errorType": errorType = try scanner.null() ? nil : try scanner.string()
                default: try scanner.skipValue()
                }
            }
        }
        return InvocationRecord(
            requestId: try required(requestId, "requestId"), tenant: try required(tenant, "tenant"),
            function: try required(function, "function"), version: try required(version, "version"),
            startMs: try required(startMs, "startMs"), durationMs: try required(durationMs, "durationMs"),
            billedDurationMs: try required(billedDurationMs, "billedDurationMs"), initDurationMs: initDurationMs,
            start: try required(start, "start"), memoryMB: try required(memoryMB, "memoryMB"),
            maxMemoryUsedBytes: try required(maxMemoryUsedBytes, "maxMemoryUsedBytes"),
            outcome: try required(outcome, "outcome"), errorType: errorType)
    }

    private static func required<T>(_ value: T?, _ field: String) throws(JSONFormatError) -> T {
        guard let value else { throw JSONFormatError("missing field \(field)") }
        return value
    }
}

/// A malformed or mistyped JSON document: what is wrong, and where (`records[3].startMs`).
public struct JSONFormatError: Error, CustomStringConvertible, Equatable {
    /// The fields and elements leading to the fault, outermost first.
    public var path: [String]
    public var message: String

    public init(_ message: String) {
        self.path = []
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path.joined(separator: ".")): \(message)" }

    /// Runs `body`, adding `component` in front of the path of any error it throws.
    static func at<T>(_ component: String, _ body: () throws(JSONFormatError) -> T) throws(JSONFormatError) -> T {
        do { return try body() } catch {
            var error = error
            error.path.insert(component, at: 0)
            throw error
        }
    }
}

/// Appends JSON text to a byte array.
struct JSONBytesWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func integer(_ value: some BinaryInteger) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Swift's shortest round-tripping form (`12.5`, `1e-05`): valid JSON for every finite value.
    /// JSON has no NaN or infinity; a duration that were one is written as 0 rather than failing
    /// the whole shipment (JSONEncoder threw, and the agent would have retried it forever).
    mutating func double(_ value: Double) {
        bytes.append(contentsOf: (value.isFinite ? value.description : "0").utf8)
    }

    /// A quoted string (`JSONText`'s escapes).
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        JSONText.appendEscaped(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
