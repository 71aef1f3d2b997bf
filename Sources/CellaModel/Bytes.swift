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

    /// Compares in time that depends only on the lengths: every byte is read, the differences
    /// are OR-ed, and nothing branches on the contents (a short-circuiting `==` would tell an
    /// attacker how many leading bytes of a guessed signature are right).
    package static func constantTimeEqual(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) {
            difference |= left ^ right
        }
        return difference == 0
    }
}
