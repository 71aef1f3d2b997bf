import ArgumentParser
import Foundation

/// `-o table|json|yaml`, shared by every command that shows API objects.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, yaml
}

/// A column of a table: its header and how to get its cell from one object.
struct Column: Sendable {
    var header: String
    var value: @Sendable (JSONValue) -> String

    /// A column showing the value at a dotted path.
    init(_ header: String, _ path: String) {
        self.header = header
        self.value = { $0[path: path]?.cell ?? "-" }
    }

    init(_ header: String, value: @escaping @Sendable (JSONValue) -> String) {
        self.header = header
        self.value = value
    }

    /// Milliseconds since the epoch as UTC time, to the second.
    static func time(_ header: String, _ path: String) -> Column {
        Column(header) { object in
            guard let ms = object[path: path]?.intValue, ms > 0 else { return "-" }
            return Render.timestamp(ms)
        }
    }

    /// Bytes as MiB.
    static func mebibytes(_ header: String, _ path: String) -> Column {
        Column(header) { object in
            guard let bytes = object[path: path]?.intValue else { return "-" }
            return String(bytes >> 20)
        }
    }
}

/// Turns API objects into the text a command prints.
enum Render {
    /// - Parameters:
    ///   - value: an object or an array of objects (a listing).
    ///   - columns: the table's columns; json and yaml show every field.
    static func text(_ value: JSONValue, as format: OutputFormat, columns: [Column]) -> String {
        switch format {
        case .json: return value.prettyJSON() + "\n"
        case .yaml: return YAML.emit(value)
        case .table:
            let rows: [JSONValue] = value.arrayValue ?? [value]
            return table(header: columns.map(\.header), rows: rows.map { row in columns.map { $0.value(row) } })
        }
    }

    /// Columns padded to their widest cell, two spaces apart, the last one not padded.
    static func table(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in all {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i == row.count - 1 { line += cell } else { line += cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }
            }
            out += line.trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }

    static func timestamp(_ ms: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Writes to stdout.
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Writes to stderr.
    static func err(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A small YAML 1.2 emitter for JSON values: block style, keys sorted, strings quoted whenever a
/// plain scalar could be read back as something else (a number, a boolean, null, or YAML syntax).
enum YAML {
    static func emit(_ value: JSONValue) -> String {
        var out = ""
        switch value {
        case .array(let a) where !a.isEmpty: sequence(a, indent: 0, into: &out)
        case .object(let o) where !o.isEmpty: mapping(o, indent: 0, into: &out)
        default: out = scalar(value) + "\n"
        }
        return out
    }

    private static func isCollection(_ value: JSONValue) -> Bool {
        switch value {
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        default: return false
        }
    }

    private static func mapping(_ o: [String: JSONValue], indent: Int, into out: inout String, firstInline: Bool = false) {
        let pad = String(repeating: " ", count: indent)
        for (i, key) in o.keys.sorted().enumerated() {
            guard let value = o[key] else { continue }
            let prefix = (i == 0 && firstInline) ? "" : pad
            out += prefix + string(key) + ":"
            switch value {
            case .object(let child) where !child.isEmpty:
                out += "\n"
                mapping(child, indent: indent + 2, into: &out)
            case .array(let child) where !child.isEmpty:
                out += "\n"
                sequence(child, indent: indent, into: &out)
            default:
                out += " " + scalar(value) + "\n"
            }
        }
    }

    private static func sequence(_ a: [JSONValue], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in a {
            switch item {
            case .object(let o) where !o.isEmpty:
                out += pad + "- "
                mapping(o, indent: indent + 2, into: &out, firstInline: true)
            case .array(let child) where !child.isEmpty:
                out += pad + "-\n"
                sequence(child, indent: indent + 2, into: &out)
            default: out += pad + "- " + scalar(item) + "\n"
            }
        }
    }

    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : (d.isNaN ? ".nan" : (d > 0 ? ".inf" : "-.inf"))
        case .string(let s): return string(s)
        case .array: return "[]"
        case .object: return "{}"
        }
    }

    /// Plain when safe, else a double-quoted scalar with JSON's escapes (valid YAML).
    static func string(_ s: String) -> String {
        needsQuotes(s) ? JSONValue.string(s).compactJSON() : s
    }

    private static let reserved: Set<String> = [
        "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    ]

    private static func needsQuotes(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else { return true }
        if reserved.contains(s) || Double(s) != nil || Int(s) != nil { return true }
        if s.hasPrefix("0x") || s.hasPrefix("0o") || s.hasPrefix(".") { return true }
        if " \t".unicodeScalars.contains(first) || " \t".unicodeScalars.contains(last) { return true }
        if "-?:,[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) { return true }
        if s.contains(": ") || s.contains(" #") || s.hasSuffix(":") { return true }
        return s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || $0 == "\u{FEFF}" }
    }
}

extension JSONValue {
    /// One-line JSON.
    func compactJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
