/// An IPv4 or IPv6 address as 128 bits (IPv4 in the low 32), parsed strictly: dotted quads with
/// no leading zeros, IPv6 with at most one `::` and an optional dotted tail, no zone id.
///
/// Parsing works on UTF-8 bytes without allocating for IPv4: it runs once per request for
/// `cella:SourceIp` and once per condition for addresses in other keys.
package struct IPAddress: Sendable, Hashable {
    package let isIPv6: Bool
    package let high: UInt64
    package let low: UInt64

    /// Parses a policy or request address.
    /// - Parameters:
    ///   - text: The address.
    ///   - unmapIPv4: Turn `::ffff:a.b.c.d` into the IPv4 address, as a dual-stack listener
    ///     reports IPv4 peers; used for request values, not for policy CIDRs.
    package init?(_ text: Substring, unmapIPv4: Bool = false) {
        var text = text
        guard let (isIPv6, high, low) = text.withUTF8({ Self.parse($0) }) else { return nil }
        if isIPv6, unmapIPv4, high == 0, low >> 32 == 0xFFFF {
            self.init(isIPv6: false, high: 0, low: low & 0xFFFF_FFFF)
        } else {
            self.init(isIPv6: isIPv6, high: high, low: low)
        }
    }

    package init(isIPv6: Bool, high: UInt64, low: UInt64) {
        self.isIPv6 = isIPv6
        self.high = high
        self.low = low
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (Bool, UInt64, UInt64)? {
        if !bytes.contains(UInt8(ascii: ":")) {
            return parseIPv4(bytes, from: 0).map { (false, 0, UInt64($0)) }
        }
        return parseIPv6(bytes).map { (true, $0.0, $0.1) }
    }

    /// Four decimal octets, no leading zeros, from `start` to the end.
    private static func parseIPv4(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> UInt32? {
        var value: UInt32 = 0
        var index = start
        for octetIndex in 0..<4 {
            if octetIndex > 0 {
                guard index < bytes.count, bytes[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
            guard let (octet, next) = decimal(bytes, from: index, max: 255) else { return nil }
            value = value << 8 | UInt32(octet)
            index = next
        }
        return index == bytes.count ? value : nil
    }

    private static func parseIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        groups.reserveCapacity(8)
        var gap: Int?
        var index = 0
        if bytes.count >= 2, bytes[0] == UInt8(ascii: ":"), bytes[1] == UInt8(ascii: ":") {
            gap = 0
            index = 2
        }
        while index < bytes.count {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ":"), bytes[index] != UInt8(ascii: ".") { index += 1 }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                guard let v4 = parseIPv4(bytes, from: start) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                break
            }
            guard let group = hexGroup(bytes, start..<index) else { return nil }
            groups.append(group)
            guard index < bytes.count else { break }
            index += 1  // ':'
            if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
                guard gap == nil else { return nil }
                gap = groups.count
                index += 1
            } else if index == bytes.count {
                return nil  // a trailing single ':'
            }
        }
        if let gap {
            guard groups.count <= 7 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    private static func hexGroup(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt16? {
        guard (1...4).contains(range.count) else { return nil }
        var value: UInt16 = 0
        for index in range {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// A decimal of at most three digits without sign or leading zeros, at most `max`, starting
    /// at `start`; returns it and the index after it.
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, max: Int) -> (Int, Int)? {
        var index = start
        var value = 0
        while index < bytes.count, index - start < 4, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            value = value * 10 + Int(bytes[index] - 0x30)
            index += 1
        }
        let length = index - start
        guard (1...3).contains(length), length == 1 || bytes[start] != UInt8(ascii: "0"), value <= max else { return nil }
        return (value, index)
    }

    /// A CIDR prefix length: a decimal without sign or leading zeros, at most `max`.
    package static func strictDecimal(_ text: Substring, max: Int) -> Int? {
        var text = text
        return text.withUTF8 { bytes in
            guard let (value, end) = decimal(bytes, from: 0, max: max), end == bytes.count else { return nil }
            return value
        }
    }
}
