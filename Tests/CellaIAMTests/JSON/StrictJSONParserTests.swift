@testable import CellaIAM
import Testing

@Suite struct StrictJSONParserTests {
    @Test func readsEveryValueKind() throws {
        let value = try StrictJSONParser.parse(#" {"s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00","n":[-0.5e+3,0,12],"b":[true,false],"z":null,"o":{}} "#)
        let expected = JSONValue.object([
            JSONMember(key: "s", value: .string("a\"\\/\u{8}\u{c}\n\r\té😀")),
            JSONMember(key: "n", value: .array([.number("-0.5e+3"), .number("0"), .number("12")])),
            JSONMember(key: "b", value: .array([.bool(true), .bool(false)])),
            JSONMember(key: "z", value: .null),
            JSONMember(key: "o", value: .object([])),
        ])
        #expect(value == expected)
    }

    @Test func keepsMemberOrder() throws {
        guard case .object(let members) = try StrictJSONParser.parse(#"{"b":1,"a":2,"c":3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "c"])
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, IAMError.Code.duplicateKey, "a"),
        (#"{"x":{"a":1,"\u0061":2}}"#, .duplicateKey, "x.a"),
        (#"{"x":[{"k":1},{"k":1,"k":2}]}"#, .duplicateKey, "x[1].k"),
        (#"{"a":1,}"#, .malformedJSON, ""),
        (#"{"a":[1,]}"#, .malformedJSON, "a[1]"),
        (#"{"a":tru}"#, .malformedJSON, "a"),
        (#"{"a":"\x"}"#, .malformedJSON, "a"),
        (#"{"a":"\u12"}"#, .malformedJSON, "a"),
        (#"{"a":"\udc00"}"#, .malformedJSON, "a"),
        (#"{"a":-}"#, .malformedJSON, "a"),
        (#"{"a":1.}"#, .malformedJSON, "a"),
        (#"{"a":1e}"#, .malformedJSON, "a"),
        (#"{"a":00}"#, .malformedJSON, "a"),
        (#"{"a":+1}"#, .malformedJSON, "a"),
        (#"{a:1}"#, .malformedJSON, ""),
        (#"{"a" 1}"#, .malformedJSON, ""),
        (#"{"a":"unterminated}"#, .malformedJSON, "a"),
        (#"{"a":1} {}"#, .malformedJSON, ""),
        ("", .malformedJSON, ""),
        ("\u{FEFF}{}", .malformedJSON, ""),
    ])
    func rejects(text: String, code: IAMError.Code, path: String) {
        let error = #expect(throws: IAMError.self) { try StrictJSONParser.parse(text) }
        #expect(error?.code == code)
        #expect(error?.path == path)
    }

    @Test func depthIsBounded() throws {
        let ok = String(repeating: "[", count: StrictJSONParser.maxDepth) + String(repeating: "]", count: StrictJSONParser.maxDepth)
        _ = try StrictJSONParser.parse(ok)
        let deep = "[" + ok + "]"
        #expect(throws: IAMError.self) { try StrictJSONParser.parse(deep) }
    }
}
