import Foundation
import Testing

@testable import CellaCLI

/// `-o table|json|yaml`.
@Suite struct OutputFormatTests {
    let functions = try! JSONValue.parse(Array("""
        [{"name":"hello","config":{"runtime":"python3.11","memoryMB":128,"environment":{}},"revision":3,"tags":{}},
         {"name":"a-much-longer-name","config":{"runtime":"provided","memoryMB":1024,"environment":{"A":"1"}},"revision":12,"tags":{}}]
        """.utf8))
    let columns = [Column("NAME", "name"), Column("RUNTIME", "config.runtime"), Column("MEMORY", "config.memoryMB"), Column("HANDLER", "config.handler")]

    @Test func tableAlignsColumns() {
        let text = Render.text(functions, as: .table, columns: columns)
        #expect(text == """
            NAME                RUNTIME     MEMORY  HANDLER
            hello               python3.11  128     -
            a-much-longer-name  provided    1024    -

            """)
        // A single object is a one-row table.
        let one = Render.text(functions.arrayValue?.first ?? .null, as: .table, columns: columns)
        #expect(one.split(separator: "\n").count == 2)
    }

    @Test func jsonRoundTrips() throws {
        let text = Render.text(functions, as: .json, columns: columns)
        #expect(try JSONValue.parse(Array(text.utf8)) == functions)
        #expect(text.contains("\n  {"), "not pretty-printed")
    }

    @Test func yamlOfAListOfObjects() {
        let text = Render.text(functions, as: .yaml, columns: columns)
        #expect(text == """
            - config:
                environment: {}
                memoryMB: 128
                runtime: python3.11
              name: hello
              revision: 3
              tags: {}
            - config:
                environment:
                  A: "1"
                memoryMB: 1024
                runtime: provided
              name: a-much-longer-name
              revision: 12
              tags: {}

            """)
    }

    @Test("yaml quotes strings that would read back as something else", arguments: [
        ("plain", "plain"), ("", #""""#), ("123", #""123""#), ("1.5", #""1.5""#), ("true", #""true""#),
        ("null", #""null""#), ("no", #""no""#), ("a: b", #""a: b""#), ("- x", #""- x""#), ("#c", ##""#c""##),
        (" lead", #"" lead""#), ("line\nbreak", #""line\nbreak""#), ("$LATEST", "$LATEST"), ("say \"hi\"", "say \"hi\""),
        ("{x}", #""{x}""#), ("key:", #""key:""#),
    ])
    func yamlStrings(_ input: String, _ expected: String) {
        #expect(YAML.string(input) == expected)
    }

    @Test func yamlScalarsAndNesting() {
        #expect(YAML.emit(.null) == "null\n")
        #expect(YAML.emit(.array([])) == "[]\n")
        #expect(YAML.emit(.object(["a": .array([.int(1), .bool(false), .null]), "b": .double(2.5)])) == """
            a:
            - 1
            - false
            - null
            b: 2.5

            """)
        #expect(YAML.emit(.array([.array([.string("x"), .string("y")])])) == "-\n  - x\n  - \"y\"\n")
    }
}
