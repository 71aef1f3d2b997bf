/// Small JSON text helpers for hand-built bodies on hot paths (and for quoting untrusted names in
/// messages: control characters and DEL come out escaped).
public enum JSONText {
    /// `s` as the inside of a JSON string.
    public static func escape(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        appendEscaped(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as the inside of a JSON string: `"` and `\` escaped, control characters and
    /// DEL as `\n`, `\r`, `\t` or `\u00xx`; everything else (valid UTF-8, as every Swift string
    /// is) as is.
    public static func appendEscaped(_ s: String, to out: inout [UInt8]) {
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7f:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xf)]])
            default: out.append(byte)
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
