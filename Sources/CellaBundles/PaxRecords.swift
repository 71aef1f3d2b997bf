/// The records of a pax extended header: `<length> <key>=<value>\n`, where the length counts the
/// whole record (POSIX.1-2001, pax "Extended Header" format).
struct PaxRecords {
    private(set) var values: [String: [UInt8]] = [:]

    /// Parses one extended header's data; later records override earlier ones.
    /// - Parameter entry: the header's name, for messages.
    /// - Throws: `BundleError` with `corrupt` for a malformed record.
    init(parsing data: [UInt8], entry: String) throws(BundleError) {
        var index = 0
        while index < data.count {
            // Trailing NUL padding after the last record is tolerated, as GNU tar does.
            if data[index...].allSatisfy({ $0 == 0 }) { break }
            guard let space = data[index...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: data[index..<space], as: UTF8.self)),
                  length > space - index + 1, index + length <= data.count,
                  data[index + length - 1] == UInt8(ascii: "\n"),
                  let equals = data[(space + 1)..<(index + length - 1)].firstIndex(of: UInt8(ascii: "="))
            else { throw .entry(.corrupt, entry, "malformed pax extended header record") }
            let key = String(decoding: data[(space + 1)..<equals], as: UTF8.self)
            values[key] = Array(data[(equals + 1)..<(index + length - 1)])
            index += length
        }
    }

    init() {}

    /// Later headers' records override earlier ones.
    mutating func merge(_ other: PaxRecords) { values.merge(other.values) { $1 } }

    /// A record's value; an empty value counts as absent (pax's way of unsetting a key).
    subscript(_ key: String) -> [UInt8]? {
        guard let value = values[key], !value.isEmpty else { return nil }
        return value
    }

    /// A decimal record such as `size`; for `mtime`, the fraction is dropped.
    func integer(_ key: String, entry: String) throws(BundleError) -> Int64? {
        guard let raw = self[key] else { return nil }
        let text = String(decoding: raw, as: UTF8.self)
        let whole = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let value = Int64(whole) else {
            throw .entry(.corrupt, entry, "pax record \(key) is not a number")
        }
        return value
    }

    /// Whether any key starts with `prefix` (GNU sparse files announce themselves so).
    func hasKey(prefixed prefix: String) -> Bool { values.keys.contains { $0.hasPrefix(prefix) } }
}
