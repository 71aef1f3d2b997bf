/// The lexical layer of RFC 8259 JSON: whitespace, strings, numbers and literals, read from a byte
/// buffer. Both of Cella's JSON readers stand on it: the strict tree reader that validates IAM
/// policies (`StrictJSONParser`) and the streaming reader of agents' telemetry (`JSONScanner`).
///
/// It refuses control characters in strings, unknown escapes, unpaired surrogates, strings that
/// are not UTF-8, leading zeros and numbers without digits where the grammar needs them.
package struct JSONLexer {
    /// What is wrong, and the byte offset where it was found.
    package struct Failure: Error {
        package var reason: String
        package var offset: Int
    }

    package let bytes: UnsafeRawBufferPointer
    package var position = 0

    /// `bytes` must stay valid while the lexer is used.
    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    package func peek(offset: Int = 0) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    package var atEnd: Bool { position >= bytes.count }

    package static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    package mutating func skipWhitespace() {
        while position < bytes.count, Self.isWhitespace(bytes[position]) { position += 1 }
    }

    private func failure(_ reason: String, at offset: Int? = nil) -> Failure {
        Failure(reason: reason, offset: offset ?? position)
    }

    /// At an opening quote: the string, its escapes decoded.
    package mutating func string() throws(Failure) -> String {
        let opening = position
        position += 1
        let start = position
        // The common case, no escape: one validated copy.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            position += 1
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "\"") {
            position += 1
            return try Self.text(UnsafeRawBufferPointer(rebasing: bytes[start..<position - 1]), from: opening)
        }
        var output = Array(bytes[start..<position])
        while true {
            guard let byte = peek() else { throw failure("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: output, as: UTF8.self) else {
                    throw Failure(reason: "the string is not UTF-8", offset: opening)
                }
                return text
            case UInt8(ascii: "\\"):
                try escape(into: &output)
            case 0..<0x20:
                throw failure("control character \(Self.describe(byte)) in string", at: position - 1)
            default:
                output.append(byte)
            }
        }
    }

    private static func text(_ utf8: UnsafeRawBufferPointer, from opening: Int) throws(Failure) -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw Failure(reason: "the string is not UTF-8", offset: opening)
        }
        return text
    }

    private mutating func escape(into output: inout [UInt8]) throws(Failure) {
        guard let byte = peek() else { throw failure("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            output.append(contentsOf: String(Character(try unicodeEscape())).utf8)
        default:
            let shown = (0x21..<0x7F).contains(byte) ? "\\\(Character(Unicode.Scalar(byte)))" : "\\ followed by \(Self.describe(byte))"
            throw failure("invalid escape \(shown)", at: position - 1)
        }
    }

    /// Reads `XXXX` after `\u`, and a following `\uXXXX` low surrogate when the first is a high one.
    private mutating func unicodeEscape() throws(Failure) -> Unicode.Scalar {
        let first = try hex4()
        if (0xD800...0xDBFF).contains(first) {
            guard peek() == UInt8(ascii: "\\"), peek(offset: 1) == UInt8(ascii: "u") else {
                throw failure("unpaired surrogate in \\u escape")
            }
            position += 2
            let second = try hex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw failure("unpaired surrogate in \\u escape") }
            guard let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)) else {
                throw failure("invalid \\u escape")
            }
            return scalar
        }
        guard let scalar = Unicode.Scalar(first) else { throw failure("unpaired surrogate in \\u escape") }
        return scalar
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = Self.hexValue(byte) else {
                throw failure("expected four hex digits in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// At `-` or a digit: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` as written, and whether
    /// it has neither fraction nor exponent.
    package mutating func number() throws(Failure) -> (text: String, integral: Bool) {
        let start = position
        var integral = true
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") {
            position += 1
            if let next = peek(), Self.isDigit(next) { throw failure("leading zero in number") }
        } else {
            guard consumeDigits() else { throw failure("expected a digit") }
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            integral = false
            guard consumeDigits() else { throw failure("expected a digit after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            integral = false
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard consumeDigits() else { throw failure("expected a digit in exponent") }
        }
        return (String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self), integral)
    }

    private mutating func consumeDigits() -> Bool {
        let start = position
        while let byte = peek(), Self.isDigit(byte) { position += 1 }
        return position > start
    }

    package mutating func literal(_ word: StaticString) throws(Failure) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - position >= expected.count, bytes[position..<position + expected.count].elementsEqual(expected) else {
            throw failure("invalid literal, expected '\(word)'")
        }
        position += expected.count
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

    /// A byte as it reads in an error: `'q'`, or `0x9` when it does not print.
    package static func describe(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16))"
    }
}
