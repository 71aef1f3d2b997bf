/// The values of one condition key in a request, with the parsed forms of keys whose type is
/// known (`cella:SourceIp` as addresses, `cella:CurrentTime` and `cella:EpochTime` as dates),
/// computed once when the request is built rather than once per condition.
package final class ContextValues: Sendable {
    package let texts: [String]
    /// For address keys: each text parsed as an address (nil where it is none).
    package let addresses: [IPAddress?]?
    /// For date keys: each text parsed as a date (nil where it is none).
    package let dates: [Double?]?

    package init(_ texts: [String], kind: ConditionKey.ValueKind?) {
        self.texts = texts
        addresses = kind == .address ? texts.map { IPAddress($0[...], unmapIPv4: true) } : nil
        dates = kind == .date ? texts.map { PolicyDate.parse($0) } : nil
    }

    /// A date value whose parsed form is already known.
    package init(date text: String, seconds: Double) {
        texts = [text]
        addresses = nil
        dates = [seconds]
    }

    /// The address at `index`, from the parsed form when there is one.
    @inline(__always)
    package func address(at index: Int) -> IPAddress? {
        addresses.map { $0[index] } ?? IPAddress(texts[index][...], unmapIPv4: true)
    }

    /// The date at `index`, from the parsed form when there is one.
    @inline(__always)
    package func date(at index: Int) -> Double? {
        dates.map { $0[index] } ?? PolicyDate.parse(texts[index])
    }
}
