import Foundation

/// Nested Codable values (configs, tags, node inventories) live in one JSON column each: they are
/// read and written whole, never queried by part, so a child table per field would only add
/// joins. Keys are sorted so equal values store equal text.
enum JSONColumn {
    static func encode<T: Encodable>(_ value: T, column: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            let data = try encoder.encode(value)
            guard let text = String(data: data, encoding: .utf8) else {
                throw StoreError(.internal, "column \(column): JSON encoding did not give UTF-8")
            }
            return text
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.internal, "column \(column): cannot encode \(T.self) as JSON", underlying: error)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            // The text itself is not echoed: a config holds environment values.
            throw StoreError(.internal, "column \(column): stored JSON is not a valid \(T.self)", underlying: error)
        }
    }
}

/// Version numbers are stored as integers (so "10" sorts after "9") and named by their decimal
/// text. Only the canonical text names a version: "01" or "+1" do not.
enum VersionNumber {
    static func parse(_ text: String) -> Int64? {
        guard let n = Int64(text), n > 0, String(n) == text else { return nil }
        return n
    }
}
