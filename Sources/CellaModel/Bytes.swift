/// Small byte helpers shared by SigV4, API keys and the token checks of controllers and agents.
package enum Bytes {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`.
    package static func hex(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        for byte in bytes {
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0x0F)])
        }
        return output
    }

    /// Lowercase hex of `bytes`, as text.
    package static func hexString(_ bytes: some Sequence<UInt8>) -> String {
        String(decoding: hex(bytes), as: UTF8.self)
    }

    /// Compares `presented` with `expected` in time that depends only on `expected`'s length:
    /// every byte of it is read, the differences are OR-ed, and nothing branches on the contents
    /// or returns early on a length mismatch (a short-circuiting `==` would tell an attacker how
    /// many leading bytes of a guess are right, an early return how long the secret is).
    package static func constantTimeEqual(_ presented: some Collection<UInt8>, _ expected: some Collection<UInt8>) -> Bool {
        let given = Array(presented)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for (index, byte) in expected.enumerated() {
            difference |= byte ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }
}
