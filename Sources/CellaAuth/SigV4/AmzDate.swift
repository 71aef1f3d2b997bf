import CellaIAM

/// `X-Amz-Date`: ISO 8601 basic format in UTC, `YYYYMMDDTHHMMSSZ`.
package enum AmzDate {
    /// Seconds since the epoch, or nil when `text` is not exactly that format or not a real time.
    package static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        for index in [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14] where !(0x30...0x39).contains(bytes[index]) {
            return nil
        }
        // Re-punctuated into the extended format the IAM date reader checks (real days, hours < 24).
        func part(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        let extended = "\(part(0..<4))-\(part(4..<6))-\(part(6..<8))T\(part(9..<11)):\(part(11..<13)):\(part(13..<15))Z"
        return PolicyDate.parse(extended)
    }

    /// `seconds` in the basic format (whole seconds, rounded down).
    package static func format(_ seconds: Double) -> String {
        let extended = PolicyDate.iso8601(epochSeconds: Int(seconds.rounded(.down)))
        return String(extended.filter { $0 != "-" && $0 != ":" })
    }
}
