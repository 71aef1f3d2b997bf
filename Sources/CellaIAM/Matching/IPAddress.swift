/// An IPv4 or IPv6 address as 128 bits (IPv4 in the low 32), parsed strictly: dotted quads with
/// no leading zeros, IPv6 with at most one `::` and an optional dotted tail, no zone id.
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
        if !text.contains(":") {
            guard let v4 = Self.parseIPv4(text) else { return nil }
            self.init(isIPv6: false, high: 0, low: UInt64(v4))
            return
        }
        guard let (high, low) = Self.parseIPv6(text) else { return nil }
        if unmapIPv4, high == 0, low >> 32 == 0xFFFF {
            self.init(isIPv6: false, high: 0, low: low & 0xFFFF_FFFF)
        } else {
            self.init(isIPv6: true, high: high, low: low)
        }
    }

    package init(isIPv6: Bool, high: UInt64, low: UInt64) {
        self.isIPv6 = isIPv6
        self.high = high
        self.low = low
    }

    private static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = strictDecimal(part, max: 255) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    private static func parseIPv6(_ text: Substring) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var gap: Int?
        var rest = text
        if rest.hasPrefix("::") {
            gap = 0
            rest = rest.dropFirst(2)
        }
        while !rest.isEmpty {
            if let colon = rest.firstIndex(of: ":") {
                let group = rest[..<colon]
                guard let value = hexGroup(group) else { return nil }
                groups.append(value)
                rest = rest[rest.index(after: colon)...]
                if rest.first == ":" {
                    guard gap == nil else { return nil }
                    gap = groups.count
                    rest = rest.dropFirst()
                } else if rest.isEmpty {
                    return nil  // trailing single ':'
                }
            } else if rest.contains(".") {
                guard let v4 = parseIPv4(rest) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                rest = ""
            } else {
                guard let value = hexGroup(rest) else { return nil }
                groups.append(value)
                rest = ""
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

    private static func hexGroup(_ text: Substring) -> UInt16? {
        guard (1...4).contains(text.utf8.count), text.utf8.allSatisfy({ $0.isHexDigit }) else { return nil }
        return UInt16(text, radix: 16)
    }

    /// A decimal without sign or leading zeros, at most `max`.
    package static func strictDecimal(_ text: Substring, max: Int) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 3, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        guard text == "0" || text.first != "0", let value = Int(text), value <= max else { return nil }
        return value
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
