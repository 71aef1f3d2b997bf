/// A CIDR block from an `IpAddress`/`NotIpAddress` condition: `10.0.0.0/8`, `2001:db8::/32`, or a
/// bare address meaning `/32` (IPv4) or `/128` (IPv6). Host bits set below the prefix are ignored,
/// as AWS does with `10.1.2.3/8`. An IPv4 block never matches an IPv6 request address and vice
/// versa; a request address `::ffff:a.b.c.d` is compared as the IPv4 address it maps.
package struct IPAddressRange: Sendable, Hashable {
    package let isIPv6: Bool
    package let prefixLength: Int
    private let maskHigh: UInt64
    private let maskLow: UInt64
    private let networkHigh: UInt64
    private let networkLow: UInt64

    /// Parses `address[/prefix]`, or returns nil.
    package init?(_ text: String) {
        let addressText: Substring
        var prefix: Int?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            prefix = IPAddress.strictDecimal(text[text.index(after: slash)...], max: 128)
            guard prefix != nil else { return nil }
        } else {
            addressText = text[...]
        }
        guard let address = IPAddress(addressText) else { return nil }
        let bits = address.isIPv6 ? 128 : 32
        let length = prefix ?? bits
        guard length <= bits else { return nil }
        isIPv6 = address.isIPv6
        prefixLength = length
        // IPv4 lives in the low 32 bits: its prefix starts 96 bits into the 128.
        let start = address.isIPv6 ? 0 : 96
        maskHigh = Self.mask(bits: start + length, window: 0)
        maskLow = Self.mask(bits: start + length, window: 64)
        // IPv4 masks must not cover the (zero) top 96 bits; they are zero on both sides anyway.
        networkHigh = address.high & maskHigh
        networkLow = address.low & maskLow
    }

    /// Whether `address` is inside the block.
    package func contains(_ address: IPAddress) -> Bool {
        address.isIPv6 == isIPv6
            && address.high & maskHigh == networkHigh
            && address.low & maskLow == networkLow
    }

    /// The part of a `bits`-long leading mask that falls in the 64-bit word starting at `window`.
    private static func mask(bits: Int, window: Int) -> UInt64 {
        let inWindow = min(max(bits - window, 0), 64)
        return inWindow == 0 ? 0 : ~UInt64(0) << (64 - inWindow)
    }
}
