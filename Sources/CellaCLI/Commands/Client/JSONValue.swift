import Foundation

/// A JSON document as the client reads the API's answers: kept whole so `-o json` and `-o yaml`
/// show every field the server sent, including ones this client does not know yet.
enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// - Throws: `DecodingError` when the bytes are not JSON.
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The value at a dotted path (`config.runtime`), or nil.
    subscript(path path: String) -> JSONValue? {
        var current: JSONValue? = self
        for part in path.split(separator: ".") {
            guard case .object(let fields)? = current else { return nil }
            current = fields[String(part)]
        }
        return current
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields[key]
    }

    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d): return Int64(exactly: d.rounded())
        default: return nil
        }
    }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// Pretty JSON with sorted keys: stable output for scripts and tests.
    func prettyJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The value as one table cell: scalars as they read, lists joined by commas, objects as
    /// compact JSON.
    var cell: String {
        switch self {
        case .null: return "-"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s): return s.isEmpty ? "-" : s
        case .array(let a): return a.isEmpty ? "-" : a.map(\.cell).joined(separator: ",")
        case .object(let o):
            if o.isEmpty { return "-" }
            return o.keys.sorted().map { "\($0)=\(o[$0]?.cell ?? "")" }.joined(separator: ",")
        }
    }
}
