import CellaIAM
import Foundation
import Testing

/// Numeric and date operators: each comparison at, below and above its bound; missing keys;
/// values the operator cannot read.
@Suite struct NumericDateEvaluationTests {
    static let level = "cella:PrincipalTag/level"
    static let now = "cella:CurrentTime"

    static func numeric(_ op: String, _ bound: String) -> [String] {
        allowIf(#"{"\#(op)":{"cella:PrincipalTag/level":\#(bound)}}"#)
    }

    static func date(_ op: String, _ bound: String, key: String = "cella:CurrentTime") -> [String] {
        allowIf(#"{"\#(op)":{"\#(key)":\#(bound)}}"#)
    }

    static let numericCases: [EvaluationCase] = [
        .init("NumericEquals equal", numeric("NumericEquals", "5"), req([level: ["5"]]), .allowed),
        .init("NumericEquals compares numbers, not text", numeric("NumericEquals", "5"), req([level: ["5.0"]]), .allowed),
        .init("NumericEquals unequal", numeric("NumericEquals", "5"), req([level: ["6"]]), .implicitDeny),
        .init("NumericEquals missing key", numeric("NumericEquals", "5"), req([:]), .implicitDeny),
        .init("NumericNotEquals unequal", numeric("NumericNotEquals", "5"), req([level: ["6"]]), .allowed),
        .init("NumericNotEquals equal", numeric("NumericNotEquals", "5"), req([level: ["5"]]), .implicitDeny),
        .init("NumericNotEquals missing key holds", numeric("NumericNotEquals", "5"), req([:]), .allowed),
        .init("NumericLessThan below", numeric("NumericLessThan", "10"), req([level: ["9"]]), .allowed),
        .init("NumericLessThan at bound", numeric("NumericLessThan", "10"), req([level: ["10"]]), .implicitDeny),
        .init("NumericLessThanEquals at bound", numeric("NumericLessThanEquals", "10"), req([level: ["10"]]), .allowed),
        .init("NumericLessThanEquals above", numeric("NumericLessThanEquals", "10"), req([level: ["11"]]), .implicitDeny),
        .init("NumericGreaterThan above", numeric("NumericGreaterThan", "10"), req([level: ["11"]]), .allowed),
        .init("NumericGreaterThan at bound", numeric("NumericGreaterThan", "10"), req([level: ["10"]]), .implicitDeny),
        .init("NumericGreaterThanEquals at bound", numeric("NumericGreaterThanEquals", "10"), req([level: ["10"]]), .allowed),
        .init("NumericGreaterThanEquals below", numeric("NumericGreaterThanEquals", "10"), req([level: ["9.5"]]), .implicitDeny),
        .init("a numeric string in the policy", numeric("NumericLessThan", #""10""#), req([level: ["9"]]), .allowed),
        .init("negative decimals", numeric("NumericGreaterThan", "-1.5"), req([level: ["-1"]]), .allowed),
        .init("a request value that is not a number", numeric("NumericLessThan", "10"), req([level: ["abc"]]), .implicitDeny),
        .init("a non-number matches no value, so NumericNotEquals holds",
              numeric("NumericNotEquals", "5"), req([level: ["abc"]]), .allowed),
        .init("NumericLessThan missing key", numeric("NumericLessThan", "10"), req([:]), .implicitDeny),
        .init("values are ORed", numeric("NumericEquals", "[1,2,3]"), req([level: ["2"]]), .allowed),
    ]

    static let dateCases: [EvaluationCase] = [
        .init("DateLessThan before", date("DateLessThan", #""2030-01-01T00:00:00Z""#), req([now: ["2026-06-01T00:00:00Z"]]), .allowed),
        .init("DateLessThan after", date("DateLessThan", #""2030-01-01T00:00:00Z""#), req([now: ["2031-01-01T00:00:00Z"]]), .implicitDeny),
        .init("DateLessThan at bound", date("DateLessThan", #""2030-01-01T00:00:00Z""#), req([now: ["2030-01-01T00:00:00Z"]]), .implicitDeny),
        .init("DateLessThanEquals at bound", date("DateLessThanEquals", #""2030-01-01T00:00:00Z""#), req([now: ["2030-01-01T00:00:00Z"]]), .allowed),
        .init("DateGreaterThan a date-only bound", date("DateGreaterThan", #""2026-01-01""#), req([now: ["2026-01-01T00:00:01Z"]]), .allowed),
        .init("DateGreaterThan at a date-only bound", date("DateGreaterThan", #""2026-01-01""#), req([now: ["2026-01-01T00:00:00Z"]]), .implicitDeny),
        .init("DateGreaterThanEquals at bound", date("DateGreaterThanEquals", #""2026-01-01""#), req([now: ["2026-01-01T00:00:00Z"]]), .allowed),
        .init("DateGreaterThanEquals before", date("DateGreaterThanEquals", #""2026-01-01""#), req([now: ["2025-12-31T23:59:59Z"]]), .implicitDeny),
        .init("DateEquals across time zones", date("DateEquals", #""2026-01-01T01:00:00+01:00""#), req([now: ["2026-01-01T00:00:00Z"]]), .allowed),
        .init("DateEquals unequal", date("DateEquals", #""2026-01-01T00:00:00Z""#), req([now: ["2026-01-01T00:00:01Z"]]), .implicitDeny),
        .init("DateNotEquals equal", date("DateNotEquals", #""2026-01-01T00:00:00Z""#), req([now: ["2026-01-01T00:00:00Z"]]), .implicitDeny),
        .init("DateNotEquals unequal", date("DateNotEquals", #""2026-01-01T00:00:00Z""#), req([now: ["2027-01-01T00:00:00Z"]]), .allowed),
        .init("DateNotEquals missing key holds", date("DateNotEquals", #""2026-01-01T00:00:00Z""#), req([:]), .allowed),
        .init("an epoch bound against an ISO request", date("DateLessThan", "1893456000"), req([now: ["2026-06-01T00:00:00Z"]]), .allowed),
        .init("an epoch string bound", date("DateGreaterThan", #""1893456000""#), req([now: ["2026-06-01T00:00:00Z"]]), .implicitDeny),
        .init("an ISO bound against epoch seconds",
              date("DateGreaterThan", #""2020-01-01T00:00:00Z""#, key: "cella:EpochTime"), req(["cella:EpochTime": ["1767225600"]]), .allowed),
        .init("fractional seconds count", date("DateGreaterThan", #""2026-01-01T00:00:00Z""#), req([now: ["2026-01-01T00:00:00.5Z"]]), .allowed),
        .init("a request value that is not a date", date("DateLessThan", #""2030-01-01""#), req([now: ["yesterday"]]), .implicitDeny),
        .init("DateLessThan missing key", date("DateLessThan", #""2030-01-01""#), req([:]), .implicitDeny),
        .init("epoch seconds as a number compare with NumericLessThan",
              allowIf(#"{"NumericLessThan":{"cella:EpochTime":1893456000}}"#), req(["cella:EpochTime": ["1767225600"]]), .allowed),
    ]

    @Test(arguments: numericCases)
    func numeric(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }

    @Test(arguments: dateCases)
    func date(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }

    @Test func requestTimeFillsBothKeys() throws {
        var context = req().context
        context.setRequestTime(Date(timeIntervalSince1970: 1_767_225_600.75))
        #expect(context.values(forKey: "cella:CurrentTime") == ["2026-01-01T00:00:00Z"])
        #expect(context.values(forKey: "cella:epochtime") == ["1767225600"])
    }
}
