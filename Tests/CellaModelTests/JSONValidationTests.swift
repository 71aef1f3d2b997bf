import CellaModel
import Foundation
import Testing

/// `JSONLexer.validate`, the controller's check that an event is JSON: it accepts what RFC 8259
/// allows (any value at the top, as Lambda does) and refuses the rest, saying what and where.
@Suite struct JSONValidationTests {
    static func validate(_ bytes: [UInt8], maxDepth: Int = 512) throws {
        try bytes.withUnsafeBytes { try JSONLexer.validate($0, maxDepth: maxDepth) }
    }

    static let valid = [
        "{}", "[]", "0", "-0", "12.5e-3", "1E+2", "true", "false", "null", #""""#, #""text""#, " \t\r\n{ } \n",
        #"{"a":[1,{"b":null},"c",[[]],{}],"d":{"e":{"f":-1.5}}}"#, #"["\u00e9\ud83e\uddea\/\\\"\b\f\n\r\t", "é🧪"]"#,
        #"{"a":1,"a":2}"#,  // duplicate keys: JSON, and Lambda passes them on
        #"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"x"}]}"#,
    ]

    @Test(arguments: valid)
    func acceptsJSON(document: String) throws {
        try Self.validate(Array(document.utf8))
        // Foundation agrees.
        #expect((try? JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])) != nil)
    }

    /// Each document and the words its error must contain.
    static let invalid: [(String, String)] = [
        ("", "unexpected end of document"),
        ("   ", "unexpected end of document"),
        ("not json", "invalid literal, expected 'null'"),
        ("xyz", "unexpected character 'x'"),
        ("{} {}", "unexpected text after the end of the document"),
        ("1 2", "unexpected text after the end of the document"),
        ("{", "expected a string key"),
        ("{\"a\"}", "expected ':' after a key"),
        ("{\"a\":}", "unexpected character '}'"),
        ("{\"a\":1,}", "expected a string key"),
        ("{\"a\":1 \"b\":2}", "expected ',' or '}' in object"),
        ("[1,]", "unexpected character ']'"),
        ("[1 2]", "expected ',' or ']' in array"),
        ("[1", "expected ',' or ']' in array"),
        ("[}", "unexpected character '}'"),
        ("{]", "expected a string key"),
        ("01", "leading zero in number"),
        ("-", "expected a digit"),
        ("1.", "expected a digit after '.'"),
        ("1e", "expected a digit in exponent"),
        ("NaN", "unexpected character 'N'"),
        ("tru", "invalid literal, expected 'true'"),
        ("\"a", "unterminated string"),
        ("\"a\tb\"", "control character 0x9 in string"),
        (#""\x""#, #"invalid escape \x"#),
        (#""\ud800""#, "unpaired surrogate"),
        (#""\udc00""#, "unpaired surrogate"),
        (#""\u12g4""#, "expected four hex digits"),
        ("{'a':1}", "expected a string key"),
    ]

    @Test(arguments: invalid)
    func refusesWhatIsNotJSON(document: String, expected: String) {
        do {
            try Self.validate(Array(document.utf8))
            Issue.record("accepted \(document)")
        } catch let failure as JSONLexer.Failure {
            #expect(failure.reason.contains(expected), "\(failure.reason) at \(failure.offset) for \(document)")
            #expect(failure.offset <= document.utf8.count)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func refusesBytesThatAreNotUTF8() {
        for bad: [UInt8] in [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]] {
            let document = [UInt8(ascii: "\"")] + bad + [UInt8(ascii: "\"")]
            #expect(throws: JSONLexer.Failure.self) { try Self.validate(document) }
        }
    }

    /// The agent reads a function error's `errorType` this way, without building the body.
    @Test func topLevelStringReadsOneFieldOfAnObject() {
        func field(_ name: String, _ document: String) -> String? {
            Array(document.utf8).withUnsafeBytes { JSONLexer.topLevelString(name, in: $0) }
        }
        let big = "[" + String(repeating: #"{"frame":"file.py:1","locals":[1,2.5e3,true,null,"x"]},"#, count: 2000) + "0]"
        #expect(field("errorType", #"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#) == "ValueError")
        #expect(field("errorType", #" { "stackTrace": \#(big), "errorType" : "Deepé" } "#) == "Deepé")
        #expect(field("errorType", #"{"errorType":"Escaped"}"#) == "Escaped")
        #expect(field("errorType", #"{"errorType":"First","trailing":"#) == "First", "fields after it are not read")
        #expect(field("errorType", #"{"errorType":7}"#) == nil)
        #expect(field("errorType", #"{"errorMessage":"no type"}"#) == nil)
        #expect(field("errorType", #"["errorType","ValueError"]"#) == nil)
        #expect(field("errorType", #""errorType""#) == nil)
        #expect(field("errorType", #"{"a":tru,"errorType":"After a fault"}"#) == nil)
        #expect(field("errorType", "") == nil)
    }

    @Test func boundsNesting() throws {
        let deep = { (n: Int) in Array((String(repeating: "[", count: n) + String(repeating: "]", count: n)).utf8) }
        try Self.validate(deep(512))
        #expect(throws: JSONLexer.Failure.self) { try Self.validate(deep(513)) }
        try Self.validate(Array((String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 40)).utf8), maxDepth: 40)
        #expect(throws: JSONLexer.Failure.self) {
            try Self.validate(Array((String(repeating: #"{"a":"#, count: 41) + "1" + String(repeating: "}", count: 41)).utf8), maxDepth: 40)
        }
    }

    /// Whatever Foundation writes from a random tree is accepted; cutting it short anywhere inside
    /// is not (a prefix of a document is never a whole one, bar a number's digits).
    @Test(arguments: 0..<30 as Range<UInt64>)
    func acceptsWhatFoundationWritesAndRefusesItsPrefixes(seed: UInt64) throws {
        var random = TelemetryJSONTests.Generator(seed: seed)
        func tree(_ depth: Int) -> Any {
            switch random.next() % (depth > 4 ? 4 : 6) {
            case 0: return Int(truncatingIfNeeded: random.next()) >> Int(random.next() % 60)
            case 1: return Double(Int(random.next() % 2_000_000)) / 64 - 5000
            case 2: return TelemetryJSONTests.awkward[Int(random.next() % UInt64(TelemetryJSONTests.awkward.count))]
            case 3: return random.next() % 2 == 0
            case 4: return (0..<Int(random.next() % 5)).map { _ in tree(depth + 1) }
            default:
                var object: [String: Any] = [:]
                for i in 0..<Int(random.next() % 5) { object["k\(i)\(TelemetryJSONTests.awkward[i % 4])"] = tree(depth + 1) }
                return object
            }
        }
        let document = Array(try JSONSerialization.data(withJSONObject: ["root": tree(0)]))
        try Self.validate(document)
        for cut in stride(from: 1, to: document.count, by: max(1, document.count / 50)) {
            #expect(throws: JSONLexer.Failure.self, "a prefix of \(cut) bytes") { try Self.validate(Array(document[..<cut])) }
        }
    }
}
