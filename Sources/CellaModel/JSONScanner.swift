/// Reads one JSON document value by value, without building a tree: the objects and arrays of
/// a streaming reader on `JSONLexer`'s strings, numbers and literals. Nesting deeper than 64 is
/// refused.
struct JSONScanner {
    private var lexer: JSONLexer
    private static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) { lexer = JSONLexer(bytes) }

    private mutating func peek() -> UInt8? {
        lexer.skipWhitespace()
        return lexer.peek()
    }

    private func unexpected(_ what: String) -> JSONFormatError {
        lexer.atEnd
            ? JSONFormatError("expected \(what) at the end of the document")
            : JSONFormatError("expected \(what) at byte \(lexer.position)")
    }

    private mutating func lex<T>(_ read: (inout JSONLexer) throws(JSONLexer.Failure) -> T) throws(JSONFormatError) -> T {
        do { return try read(&lexer) } catch {
            throw JSONFormatError("\(error.reason) at byte \(error.offset)")
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(JSONFormatError) {
        guard peek() == byte else { throw unexpected(what) }
        lexer.position += 1
    }

    /// Consumes `null` if it is next.
    mutating func null() throws(JSONFormatError) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("null") }
        return true
    }

    /// Calls `body` with each key of an object, positioned at its value; `body` must consume it.
    mutating func object(_ body: (String, inout JSONScanner) throws(JSONFormatError) -> Void) throws(JSONFormatError) {
        try expect(UInt8(ascii: "{"), "an object")
        if peek() == UInt8(ascii: "}") { lexer.position += 1; return }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw unexpected("a key") }
            let key = try string()
            try expect(UInt8(ascii: ":"), "':'")
            try body(key, &self)
            switch peek() {
            case UInt8(ascii: ","): lexer.position += 1
            case UInt8(ascii: "}"): lexer.position += 1; return
            default: throw unexpected("',' or '}'")
            }
        }
    }

    /// Calls `body` with each element's index, positioned at it; `body` must consume it.
    mutating func array(_ body: (Int, inout JSONScanner) throws(JSONFormatError) -> Void) throws(JSONFormatError) {
        try expect(UInt8(ascii: "["), "an array")
        if peek() == UInt8(ascii: "]") { lexer.position += 1; return }
        var index = 0
        while true {
            try body(index, &self)
            index += 1
            switch peek() {
            case UInt8(ascii: ","): lexer.position += 1
            case UInt8(ascii: "]"): lexer.position += 1; return
            default: throw unexpected("',' or ']'")
            }
        }
    }

    mutating func string() throws(JSONFormatError) -> String {
        guard peek() == UInt8(ascii: "\"") else { throw unexpected("a string") }
        return try lex { (lexer) throws(JSONLexer.Failure) in try lexer.string() }
    }

    private mutating func number() throws(JSONFormatError) -> (text: String, integral: Bool, at: Int) {
        guard let first = peek(), first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw unexpected("a number")
        }
        let at = lexer.position
        let (text, integral) = try lex { (lexer) throws(JSONLexer.Failure) in try lexer.number() }
        return (text, integral, at)
    }

    /// An integer that fits `T` (no fraction, no exponent).
    mutating func integer<T: FixedWidthInteger>() throws(JSONFormatError) -> T {
        let (text, integral, at) = try number()
        guard integral, let value = T(text) else {
            throw JSONFormatError("wrong type at byte \(at): \(text) is not a \(T.self)")
        }
        return value
    }

    mutating func double() throws(JSONFormatError) -> Double {
        let (text, _, at) = try number()
        guard let value = Double(text), value.isFinite else {
            throw JSONFormatError("wrong type at byte \(at): \(text) is not a finite number")
        }
        return value
    }

    /// Consumes any value (an unknown field's).
    mutating func skipValue(depth: Int = 0) throws(JSONFormatError) {
        guard depth < Self.maxDepth else { throw JSONFormatError("nesting deeper than \(Self.maxDepth) at byte \(lexer.position)") }
        guard let next = peek() else { throw unexpected("a value") }
        switch next {
        case UInt8(ascii: "{"): try object { (_, scanner) throws(JSONFormatError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try array { (_, scanner) throws(JSONFormatError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try lex { (lexer) throws(JSONLexer.Failure) in try lexer.skipString() }
        case UInt8(ascii: "t"): try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("true") }
        case UInt8(ascii: "f"): try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("false") }
        case UInt8(ascii: "n"): try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("null") }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try lex { (lexer) throws(JSONLexer.Failure) in try lexer.skipNumber() }
        default: throw unexpected("a value")
        }
    }

    /// Only whitespace may follow the document.
    mutating func end() throws(JSONFormatError) {
        guard peek() == nil else { throw JSONFormatError("trailing characters at byte \(lexer.position)") }
    }
}

extension JSONLexer {
    /// The string value of `field` in a JSON object, read without building the rest: nil when the
    /// document is not an object, has no such field, the field is not a string, or the document
    /// is malformed before the field. Only the fields before it are read.
    package static func topLevelString(_ field: String, in bytes: UnsafeRawBufferPointer) -> String? {
        var scanner = JSONScanner(bytes)
        var found: String?
        do {
            try scanner.object { (key, scanner) throws(JSONFormatError) in
                guard key == field else { return try scanner.skipValue() }
                found = try? scanner.string()
                throw JSONFormatError("found")  // stop reading: the rest is not needed
            }
        } catch {}
        return found
    }
}
