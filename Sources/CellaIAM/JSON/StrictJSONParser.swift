import CellaModel

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

    /// Strings, numbers and literals; this reader adds the tree, duplicate keys, depth and paths.
    private var lexer: JSONLexer
    private var path = JSONPath()
    private var depth = 0

    /// Parses one JSON document.
    /// - Parameter text: The document.
    /// - Returns: The root value.
    /// - Throws: `IAMError` with code `malformedJSON` or `duplicateKey`.
    package static func parse(_ text: String) throws(IAMError) -> JSONValue {
        let parsed: Result<JSONValue, IAMError> = Array(text.utf8).withUnsafeBytes { bytes in
            var parser = StrictJSONParser(lexer: JSONLexer(bytes))
            return Result { () throws(IAMError) in try parser.parseDocument() }
        }
        return try parsed.get()
    }

    private init(lexer: JSONLexer) {
        self.lexer = lexer
    }

    private mutating func parseDocument() throws(IAMError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard lexer.atEnd else { throw syntaxError("unexpected text after the end of the document") }
        return value
    }

    private mutating func parseValue() throws(IAMError) -> JSONValue {
        guard let byte = peek() else { throw syntaxError("unexpected end of document") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("true") }; return .bool(true)
        case UInt8(ascii: "f"): try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("false") }; return .bool(false)
        case UInt8(ascii: "n"): try lex { (lexer) throws(JSONLexer.Failure) in try lexer.literal("null") }; return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw syntaxError("unexpected character \(JSONLexer.describe(byte))")
        }
    }

    private mutating func parseObject() throws(IAMError) -> JSONValue {
        try enterContainer()
        lexer.position += 1  // {
        var members: [JSONMember] = []
        var seen = Set<String>()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            lexer.position += 1
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
            lexer.position += 1
            skipWhitespace()
            path.push(.key(key))
            let value = try parseValue()
            path.pop()
            members.append(JSONMember(key: key, value: value))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                lexer.position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                lexer.position += 1
                depth -= 1
                return .object(members)
            default:
                throw syntaxError("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray() throws(IAMError) -> JSONValue {
        try enterContainer()
        lexer.position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            lexer.position += 1
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
                lexer.position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                lexer.position += 1
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
        try lex { (lexer) throws(JSONLexer.Failure) in try lexer.string() }
    }

    /// The number as written.
    private mutating func parseNumber() throws(IAMError) -> String {
        try lex { (lexer) throws(JSONLexer.Failure) in try lexer.number() }.text
    }

    private mutating func lex<T>(_ read: (inout JSONLexer) throws(JSONLexer.Failure) -> T) throws(IAMError) -> T {
        do { return try read(&lexer) } catch {
            throw IAMError(.malformedJSON, path: path.description, "\(error.reason) (byte offset \(error.offset))")
        }
    }

    private mutating func skipWhitespace() {
        lexer.skipWhitespace()
    }

    private func peek(offset: Int = 0) -> UInt8? {
        lexer.peek(offset: offset)
    }

    private func syntaxError(_ reason: String) -> IAMError {
        IAMError(.malformedJSON, path: path.description, "\(reason) (byte offset \(lexer.position))")
    }

    package static func isWhitespace(_ byte: UInt8) -> Bool {
        JSONLexer.isWhitespace(byte)
    }
}
