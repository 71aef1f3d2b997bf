/// A strict RFC 8259 JSON reader that rejects what policy validation must see.
///
/// Foundation's `JSONSerialization` keeps the last of two equal keys and says nothing, so a policy
/// with two `Effect` members would pass with whichever came last. This reader rejects duplicate
/// keys (compared after escapes are decoded, so `"Eff\u0065ct"` equals `"Effect"`), nesting deeper
/// than ``maxDepth``, control characters in strings, lone surrogates, leading zeros, trailing
/// commas and anything after the root value. Errors carry the JSON path of the element being read.
package struct StrictJSONParser {
    /// Policies nest six levels deep at most; anything much deeper is an attack on the stack.
    package static let maxDepth = 32

    private let bytes: [UInt8]
    private var position = 0
    private var path = JSONPath()
    private var depth = 0

    /// Parses one JSON document.
    /// - Parameter text: The document.
    /// - Returns: The root value.
    /// - Throws: `IAMError` with code `malformedJSON` or `duplicateKey`.
    package static func parse(_ text: String) throws(IAMError) -> JSONValue {
        var parser = StrictJSONParser(bytes: Array(text.utf8))
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else {
            throw parser.syntaxError("unexpected text after the end of the document")
        }
        return value
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func parseValue() throws(IAMError) -> JSONValue {
        guard let byte = peek() else { throw syntaxError("unexpected end of document") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw syntaxError("unexpected character \(Self.describe(byte))")
        }
    }

    private mutating func parseObject() throws(IAMError) -> JSONValue {
        try enterContainer()
        position += 1  // {
        var members: [JSONMember] = []
        var seen = Set<String>()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(members)
        }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a string key") }
            let key = try parseString()
            guard seen.insert(key).inserted else {
                throw IAMError(.duplicateKey, path: path.appending(key: key).description, "duplicate key '\(key)'")
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw syntaxError("expected ':' after key '\(key)'") }
            position += 1
            skipWhitespace()
            path.push(.key(key))
            let value = try parseValue()
            path.pop()
            members.append(JSONMember(key: key, value: value))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                depth -= 1
                return .object(members)
            default:
                throw syntaxError("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray() throws(IAMError) -> JSONValue {
        try enterContainer()
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            path.push(.index(elements.count))
            let value = try parseValue()
            path.pop()
            elements.append(value)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                depth -= 1
                return .array(elements)
            default:
                throw syntaxError("expected ',' or ']' in array")
            }
        }
    }

    private mutating func enterContainer() throws(IAMError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw syntaxError("nesting deeper than \(Self.maxDepth) levels") }
    }

    private mutating func parseString() throws(IAMError) -> String {
        position += 1  // opening quote
        var output: [UInt8] = []
        while true {
            guard let byte = peek() else { throw syntaxError("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &output)
            case 0..<0x20:
                throw syntaxError("control character \(Self.describe(byte)) in string")
            default:
                output.append(byte)
            }
        }
    }

    private mutating func parseEscape(into output: inout [UInt8]) throws(IAMError) {
        guard let byte = peek() else { throw syntaxError("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try parseUnicodeEscape()
            output.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            throw syntaxError("invalid escape '\\\(Self.describe(byte))'")
        }
    }

    /// Reads `XXXX` after `\u`, and a following `\uXXXX` low surrogate when the first is a high one.
    private mutating func parseUnicodeEscape() throws(IAMError) -> Unicode.Scalar {
        let first = try parseHex4()
        if (0xD800...0xDBFF).contains(first) {
            guard peek() == UInt8(ascii: "\\"), peek(offset: 1) == UInt8(ascii: "u") else {
                throw syntaxError("unpaired surrogate in \\u escape")
            }
            position += 2
            let second = try parseHex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw syntaxError("unpaired surrogate in \\u escape") }
            let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            guard let scalar = Unicode.Scalar(combined) else { throw syntaxError("invalid \\u escape") }
            return scalar
        }
        guard let scalar = Unicode.Scalar(first) else { throw syntaxError("unpaired surrogate in \\u escape") }
        return scalar
    }

    private mutating func parseHex4() throws(IAMError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = Self.hexValue(byte) else {
                throw syntaxError("expected four hex digits in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as written.
    private mutating func parseNumber() throws(IAMError) -> String {
        let start = position
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") {
            position += 1
            if let next = peek(), Self.isDigit(next) { throw syntaxError("leading zero in number") }
        } else {
            guard consumeDigits() else { throw syntaxError("expected a digit") }
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard consumeDigits() else { throw syntaxError("expected a digit after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard consumeDigits() else { throw syntaxError("expected a digit in exponent") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func consumeDigits() -> Bool {
        let start = position
        while let byte = peek(), Self.isDigit(byte) { position += 1 }
        return position > start
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(IAMError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard bytes.count - position >= expected.count,
              bytes[position..<position + expected.count].elementsEqual(expected)
        else { throw syntaxError("invalid literal, expected '\(literal)'") }
        position += expected.count
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), Self.isWhitespace(byte) { position += 1 }
    }

    private func peek(offset: Int = 0) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    private func syntaxError(_ reason: String) -> IAMError {
        IAMError(.malformedJSON, path: path.description, "\(reason) (byte offset \(position))")
    }

    package static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16))"
    }
}
