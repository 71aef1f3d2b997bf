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
        let escaped = try skipString()
        let inside = UnsafeRawBufferPointer(rebasing: bytes[opening + 1..<position - 1])
        // Checked by skipString: valid UTF-8, and escapes that decode.
        return escaped ? Self.unescape(inside) : String(decoding: inside, as: UTF8.self)
    }

    /// At an opening quote: steps over the string, checking it (escapes, control characters,
    /// UTF-8) without building it. Returns whether it holds an escape.
    @discardableResult
    package mutating func skipString() throws(Failure) -> Bool {
        let opening = position
        position += 1
        var escaped = false
        var ascii = true
        while true {
            guard position < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                if !ascii { try Self.checkUTF8(UnsafeRawBufferPointer(rebasing: bytes[opening + 1..<position - 1]), from: opening) }
                return escaped
            case UInt8(ascii: "\\"):
                escaped = true
                try skipEscape()
            case 0..<0x20:
                throw failure("control character \(Self.describe(byte)) in string", at: position - 1)
            case 0x80...:
                ascii = false
            default:
                break
            }
        }
    }

    private static func checkUTF8(_ utf8: UnsafeRawBufferPointer, from opening: Int) throws(Failure) {
        var iterator = utf8.makeIterator()
        var decoder = Unicode.UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return
            case .error: throw Failure(reason: "the string is not UTF-8", offset: opening)
            }
        }
    }

    private mutating func skipEscape() throws(Failure) {
        guard let byte = peek() else { throw failure("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            let first = try hex4()
            if (0xD800...0xDBFF).contains(first) {
                guard peek() == UInt8(ascii: "\\"), peek(offset: 1) == UInt8(ascii: "u") else {
                    throw failure("unpaired surrogate in \\u escape")
                }
                position += 2
                guard (0xDC00...0xDFFF).contains(try hex4()) else { throw failure("unpaired surrogate in \\u escape") }
            } else if (0xDC00...0xDFFF).contains(first) {
                throw failure("unpaired surrogate in \\u escape")
            }
        default:
            let shown = (0x21..<0x7F).contains(byte) ? "\\\(Character(Unicode.Scalar(byte)))" : "\\ followed by \(Self.describe(byte))"
            throw failure("invalid escape \(shown)", at: position - 1)
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard position + 4 <= bytes.count, let value = Self.hex4(bytes, at: position) else {
            throw failure("expected four hex digits in \\u escape")
        }
        position += 4
        return value
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, at start: Int) -> UInt32? {
        var value: UInt32 = 0
        for index in start..<start + 4 {
            guard let digit = hexValue(bytes[index]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The inside of a string `skipString` accepted, its escapes decoded.
    private static func unescape(_ inside: UnsafeRawBufferPointer) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(inside.count)
        var index = 0
        while index < inside.count {
            let byte = inside[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                continue
            }
            let kind = inside[index]
            index += 1
            switch kind {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(inside, at: index) ?? 0xFFFD
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = hex4(inside, at: index + 2) ?? 0xDC00
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                output.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: output.append(kind)  // " \ /
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// At `-` or a digit: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` as written, and whether
    /// it has neither fraction nor exponent.
    package mutating func number() throws(Failure) -> (text: String, integral: Bool) {
        let start = position
        let integral = try skipNumber()
        return (String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self), integral)
    }

    /// At `-` or a digit: steps over a number, checking its grammar without building it.
    /// Returns whether it has neither fraction nor exponent.
    @discardableResult
    package mutating func skipNumber() throws(Failure) -> Bool {
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
        return integral
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

extension JSONLexer {
    /// Checks that `bytes` are one JSON document: a single value of any kind, whitespace around
    /// it, containers nested at most `maxDepth` deep. Builds nothing: one pass, and memory for
    /// the nesting only, so a 6 MB event costs no tree of objects to say it is JSON.
    package static func validate(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(Failure) {
        var lexer = JSONLexer(bytes)
        /// The open containers, innermost last: true for an object.
        var open: [Bool] = []
        func key(_ lexer: inout JSONLexer) throws(Failure) {
            lexer.skipWhitespace()
            guard lexer.peek() == UInt8(ascii: "\"") else { throw lexer.failure("expected a string key") }
            try lexer.skipString()
            lexer.skipWhitespace()
            guard lexer.peek() == UInt8(ascii: ":") else { throw lexer.failure("expected ':' after a key") }
            lexer.position += 1
        }
        while true {
            // A value is next.
            lexer.skipWhitespace()
            guard let byte = lexer.peek() else { throw lexer.failure("unexpected end of document") }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < maxDepth else { throw lexer.failure("nesting deeper than \(maxDepth) levels") }
                let object = byte == UInt8(ascii: "{")
                lexer.position += 1
                lexer.skipWhitespace()
                if lexer.peek() == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    lexer.position += 1  // empty: a whole value
                } else {
                    open.append(object)
                    if object { try key(&lexer) }
                    continue
                }
            case UInt8(ascii: "\""): try lexer.skipString()
            case UInt8(ascii: "t"): try lexer.literal("true")
            case UInt8(ascii: "f"): try lexer.literal("false")
            case UInt8(ascii: "n"): try lexer.literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try lexer.skipNumber()
            default: throw lexer.failure("unexpected character \(describe(byte))")
            }
            // After a value: a separator, the end of containers, or the end of the document.
            while true {
                lexer.skipWhitespace()
                guard let inner = open.last else {
                    guard lexer.atEnd else { throw lexer.failure("unexpected text after the end of the document") }
                    return
                }
                switch lexer.peek() {
                case UInt8(ascii: ","):
                    lexer.position += 1
                    if inner { try key(&lexer) }
                case (inner ? UInt8(ascii: "}") : UInt8(ascii: "]")):
                    lexer.position += 1
                    open.removeLast()
                    continue
                default:
                    throw lexer.failure(inner ? "expected ',' or '}' in object" : "expected ',' or ']' in array")
                }
                break
            }
        }
    }
}
