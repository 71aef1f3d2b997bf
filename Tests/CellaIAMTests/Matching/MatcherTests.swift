@testable import CellaIAM
import Testing

/// The building blocks, on their own: wildcards, addresses, dates.
@Suite struct MatcherTests {
    @Test(arguments: [
        ("*", "", true), ("*", "anything", true), ("", "", true), ("", "a", false),
        ("abc", "abc", true), ("abc", "abd", false), ("abc", "ab", false),
        ("ab*", "ab", true), ("ab*", "abxyz", true), ("ab*", "a", false),
        ("*c", "abc", true), ("*c", "abd", false), ("a*c", "ac", true), ("a*c", "abbbc", true),
        ("a*c", "abcd", false), ("a?c", "abc", true), ("a?c", "ac", false), ("??", "ab", true),
        ("*a*b*c*", "xxaxxbxxcxx", true), ("*a*b*c*", "xxcxxbxxaxx", false),
        ("a*b*", "aXbYbZ", true), ("*?", "", false), ("*?", "é", true), ("?", "é", true),
        ("??", "é", false), ("a*??", "aé", false), ("a*?", "aé", true), ("*é", "café", true),
        ("**", "x", true), ("*x*", "yyy", false),
    ])
    func wildcards(pattern: String, subject: String, expected: Bool) {
        #expect(WildcardPattern(wildcardText: pattern).matches(Array(subject.utf8)) == expected)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.255.255", true), ("10.0.0.0/8", "9.255.255.255", false),
        ("192.168.1.0/24", "192.168.1.77", true), ("192.168.1.0/24", "192.168.2.1", false),
        ("0.0.0.0/0", "1.2.3.4", true), ("1.2.3.4", "1.2.3.4", true), ("1.2.3.4/32", "1.2.3.5", false),
        ("2001:db8::/32", "2001:0db8:ffff::1", true), ("2001:db8::/33", "2001:db8:8000::1", false),
        ("::/0", "fe80::1", true), ("::1", "0:0:0:0:0:0:0:1", true), ("fe80::/10", "febf::1", true),
        ("fe80::/10", "fec0::1", false), ("::ffff:0:0/96", "::ffff:1.2.3.4", false),
        ("2001:db8::1/128", "2001:db8::1", true), ("2001:db8:0:0:1::/80", "2001:db8::1:0:0:5", true),
        ("10.0.0.0/8", "::ffff:10.1.1.1", true), ("10.0.0.0/8", "10.1.1.1.1", false),
        ("1::", "1:0:0:0:0:0:0:0", true), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", true),
    ])
    func addressRanges(block: String, address: String, expected: Bool) throws {
        let range = try #require(IPAddressRange(block))
        let parsed = IPAddress(address[...], unmapIPv4: true)
        #expect((parsed.map(range.contains) ?? false) == expected)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.0.0.0", "01.2.3.4", "1.2.3.4/", "1.2.3.4/033", "1.2.3.4/-1",
        "::/129", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", "12345::", "fe80::1%eth0", "g::",
        "1.2.3.4::", "::1.2.3", " 1.2.3.4",
    ])
    func rejectsBadBlocks(text: String) {
        #expect(IPAddressRange(text) == nil)
    }

    @Test(arguments: [
        ("1970-01-01", 0.0), ("1970-01-01T00:00:00Z", 0), ("2026-01-01T00:00:00Z", 1_767_225_600),
        ("2026-01-01", 1_767_225_600), ("2030-01-01T00:00:00Z", 1_893_456_000),
        ("2024-02-29T12:00:00Z", 1_709_208_000), ("2026-01-01T01:00:00+01:00", 1_767_225_600),
        ("2025-12-31T19:00:00-05:00", 1_767_225_600), ("2026-01-01T00:00Z", 1_767_225_600),
        ("2026-01-01T00:00:00.250Z", 1_767_225_600.25), ("1767225600", 1_767_225_600), ("-86400", -86_400),
        ("1969-12-31T00:00:00Z", -86_400), ("2026-01-01T0100:00Z", .nan),
    ])
    func dates(text: String, seconds: Double) {
        let parsed = PolicyDate.parse(text)
        if seconds.isNaN {
            #expect(parsed == nil)
        } else {
            #expect(parsed == seconds)
        }
    }

    @Test(arguments: ["2025-02-29", "2026-13-01", "2026-00-10", "2026-01-32", "2026-01-01T12:60:00Z", "2026-1-1", "12:00", "1e9", ""])
    func rejectsBadDates(text: String) {
        #expect(PolicyDate.parse(text) == nil)
    }

    @Test(arguments: [0, 86_399, 1_767_225_600, 1_709_208_000, 951_782_400, -1])
    func formatsDates(seconds: Int) {
        let text = PolicyDate.iso8601(epochSeconds: seconds)
        #expect(PolicyDate.parse(text) == Double(seconds))
    }

    @Test func jsonPathRendering() {
        let path = JSONPath().appending(key: "Statement").appending(index: 1).appending(key: "Condition")
            .appending(key: "IpAddress").appending(key: "cella:SourceIp").appending(index: 0)
        #expect(path.description == "Statement[1].Condition.IpAddress.cella:SourceIp[0]")
        #expect(JSONPath().description == "")
    }

    @Test func operatorNames() throws {
        let parsed = try #require(ConditionOperator("ForAllValues:StringNotLikeIfExists"))
        #expect(parsed.base == .stringNotLike && parsed.ifExists && parsed.setQualifier == .forAllValues)
        #expect(parsed.description == "ForAllValues:StringNotLikeIfExists")
        for base in ConditionOperator.Base.allCases {
            #expect(ConditionOperator(base.rawValue)?.base == base)
        }
        #expect(ConditionOperator("IfExists") == nil)
        #expect(ConditionOperator("ForAnyValue:") == nil)
    }
}
