import CellaModel
import Foundation
import Testing

/// `NodeTelemetry`'s own JSON coder against Foundation's: each reads what the other writes, and
/// malformed shipments are refused with the place named.
@Suite struct TelemetryJSONTests {
    /// Text that needs every kind of escape, and UTF-8 of every length.
    static let awkward = [
        "", "plain", "quote \" and backslash \\ and slash /", "line\nfeed\rreturn\ttab", "nul \u{0} bell \u{7} esc \u{1b} del \u{7f}",
        "é ü ß", "日本語のログ", "emoji 🧪🚀 and a flag 🇩🇪", "combining e\u{301}", "\u{2028}\u{2029} separators", "{\"json\":[1,2]}",
    ]

    static func sample(seed: UInt64) -> NodeTelemetry {
        var random = Generator(seed: seed)
        var records: [InvocationRecord] = []
        var logs: [NodeTelemetry.Line] = []
        for i in 0..<Int(random.next() % 20) {
            records.append(InvocationRecord(
                requestId: UUID().uuidString.lowercased(), tenant: i % 3 == 0 ? "default" : "t-\(i)",
                function: awkward[Int(random.next() % UInt64(awkward.count))] + "fn", version: i % 2 == 0 ? "latest-r3" : "\(i)",
                startMs: Int64(random.next() % 2_000_000_000_000), durationMs: Double(random.next() % 1_000_000) / 997,
                billedDurationMs: Int64(random.next() % 900_000) + 1, initDurationMs: i % 4 == 0 ? Double(random.next() % 5000) / 7 : nil,
                start: StartKind.allCases[i % 3], memoryMB: 128 << (i % 4), maxMemoryUsedBytes: random.next() >> (i % 64),
                outcome: InvocationOutcome.allCases[i % InvocationOutcome.allCases.count],
                errorType: i % 3 == 1 ? awkward[i % awkward.count] : nil))
        }
        for i in 0..<Int(random.next() % 40) {
            logs.append(.init(function: "default/f:latest-r\(i)", timeMs: Int64(random.next() % 2_000_000_000_000),
                              requestId: i % 5 == 0 ? nil : "req-\(i)", text: awkward[i % awkward.count] + " \(i)"))
        }
        return NodeTelemetry(records: records, logs: logs)
    }

    static func decode(_ text: String) throws -> NodeTelemetry {
        try decode(Array(text.utf8))
    }

    static func decode(_ bytes: [UInt8]) throws -> NodeTelemetry {
        try bytes.withUnsafeBytes { try NodeTelemetry.decodeJSON($0) }
    }

    @Test(arguments: 0..<40 as Range<UInt64>)
    func readsWhatFoundationWritesAndFoundationReadsWhatItWrites(seed: UInt64) throws {
        let telemetry = Self.sample(seed: seed)
        let ours = telemetry.jsonBytes()
        #expect(try Self.decode(ours) == telemetry)
        // Foundation reads ours: a misnamed key would leave it without a required field, or
        // without an optional one the sample sets.
        #expect(try JSONDecoder().decode(NodeTelemetry.self, from: Data(ours)) == telemetry)
        // An agent of an earlier version wrote its shipments with JSONEncoder, in either key order.
        let encoder = JSONEncoder()
        #expect(try Self.decode(Array(try encoder.encode(telemetry))) == telemetry)
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let foundation = try encoder.encode(telemetry)
        #expect(try Self.decode(Array(foundation)) == telemetry)
    }

    @Test func acceptsAnyKeyOrderSpacingNullsAndUnknownFields() throws {
        let text = """
             { "future": {"nested": [1, 2.5e3, "x", true, false, null, {"deep": []}]},
               "records" : [ { "version": "1", "tenant": "t", "function": "f", "requestId": "r",
                 "startMs": 1700000000000, "durationMs": 12, "billedDurationMs": 12, "initDurationMs": null,
                 "start": "cold", "memoryMB": 128, "maxMemoryUsedBytes": 18446744073709551615,
                 "outcome": "init_error", "errorType": null, "added later": "ignored" } ],
               "logs": [ {"text": "a\\u00e9\\ud83e\\uddea\\/", "timeMs": -5, "function": "t/f:1", "requestId": null} ] }\t\r\n
            """
        let telemetry = try Self.decode(text)
        #expect(telemetry.records == [InvocationRecord(
            requestId: "r", tenant: "t", function: "f", version: "1", startMs: 1_700_000_000_000, durationMs: 12, billedDurationMs: 12,
            initDurationMs: nil, start: .cold, memoryMB: 128, maxMemoryUsedBytes: UInt64.max, outcome: .initError, errorType: nil)])
        #expect(telemetry.logs == [.init(function: "t/f:1", timeMs: -5, requestId: nil, text: "aé🧪/")])
        #expect(try Self.decode(#"{"records":[],"logs":[]}"#) == NodeTelemetry(records: [], logs: []))
    }

    static let record = #"{"requestId":"r","tenant":"t","function":"f","version":"1","startMs":1,"durationMs":1.5,"billedDurationMs":2,"start":"warm","memoryMB":128,"maxMemoryUsedBytes":0,"outcome":"success"}"#

    /// Each document and the words its error must contain.
    static let malformed: [(String, String)] = [
        ("", "expected an object at the end of the document"),
        ("[]", "expected an object at byte 0"),
        (#"{"records":[]}"#, "missing field logs"),
        (#"{"logs":[]}"#, "missing field records"),
        (#"{"records":[],"logs":[]} x"#, "trailing characters at byte 25"),
        (#"{"records":[],"logs":[],}"#, "expected a key"),
        (#"{"records":[] "logs":[]}"#, "expected ',' or '}'"),
        (#"{"records":[\#(record),\#(record.replacingOccurrences(of: #""startMs":1,"#, with: ""))],"logs":[]}"#, "records[1]: missing field startMs"),
        (#"{"records":[\#(record.replacingOccurrences(of: #""memoryMB":128"#, with: #""memoryMB":"128""#))],"logs":[]}"#, "records[0].memoryMB: expected a number"),
        (#"{"records":[\#(record.replacingOccurrences(of: #""memoryMB":128"#, with: #""memoryMB":1.5"#))],"logs":[]}"#, "records[0].memoryMB: wrong type"),
        (#"{"records":[\#(record.replacingOccurrences(of: #""startMs":1"#, with: #""startMs":9223372036854775808"#))],"logs":[]}"#, "records[0].startMs: wrong type"),
        (#"{"records":[\#(record.replacingOccurrences(of: #""maxMemoryUsedBytes":0"#, with: #""maxMemoryUsedBytes":-1"#))],"logs":[]}"#, "records[0].maxMemoryUsedBytes: wrong type"),
        (#"{"records":[\#(record.replacingOccurrences(of: #""tenant":"t""#, with: #""tenant":null"#))],"logs":[]}"#, "records[0].tenant: expected a string"),
        (#"{"records":[\#(record.replacingOccurrences(of: "success", with: "fine"))],"logs":[]}"#, #"records[0].outcome: unknown outcome "fine""#),
        (#"{"records":[\#(record.replacingOccurrences(of: "warm", with: "hot"))],"logs":[]}"#, #"records[0].start: unknown start kind "hot""#),
        (#"{"records":[],"logs":[{"function":"f","timeMs":01,"text":""}]}"#, "logs[0].timeMs: leading zero in number"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1.,"text":""}]}"#, "logs[0].timeMs: expected a digit after '.'"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":-,"text":""}]}"#, "logs[0].timeMs: expected a digit at byte"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"abc}]}"#, "logs[0].text: unterminated string"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"a\qb"}]}"#, #"logs[0].text: invalid escape \q at byte"#),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"\ud83e"}]}"#, "logs[0].text: unpaired surrogate"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"\udd2a"}]}"#, "logs[0].text: unpaired surrogate"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"\u12"}]}"#, "logs[0].text: expected four hex digits"),
        ("{\"records\":[],\"logs\":[{\"function\":\"f\",\"timeMs\":1,\"text\":\"tab\tinside\"}]}", "logs[0].text: control character 0x9 in string"),
        (#"{"records":[],"logs":[{"function":"f","timeMs":1}]}"#, "logs[0]: missing field text"),
        (#"{"records":[],"logs":[],"x":\#(String(repeating: "[", count: 70))}"#, "x: nesting deeper than 64"),
        (#"{"records":[],"logs":[],"x":tru}"#, "x: invalid literal, expected 'true'"),
    ]

    @Test(arguments: malformed)
    func refusesMalformedShipmentsNamingWhere(document: String, expected: String) {
        do {
            let decoded = try Self.decode(document)
            Issue.record("decoded \(decoded) from \(document)")
        } catch let error as JSONFormatError {
            #expect(error.description.contains(expected), "\(error.description) for \(document)")
        } catch {
            Issue.record("\(error) is not a JSONFormatError")
        }
    }

    @Test func refusesBytesThatAreNotUTF8() {
        var bytes = Array(#"{"records":[],"logs":[{"function":"f","timeMs":1,"text":"ab"}]}"#.utf8)
        bytes.insert(0xff, at: bytes.count - 5)
        #expect(throws: JSONFormatError.self) { try Self.decode(bytes) }
    }

    /// SplitMix64: repeatable samples per seed.
    struct Generator {
        var state: UInt64
        init(seed: UInt64) { state = seed &+ 0x9e37_79b9_7f4a_7c15 }
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }
}
