import CellaModel

/// The lines Lambda's platform writes around each invocation (START, END, REPORT) and the tail of
/// one invocation's log that `X-Amz-Log-Type: Tail` returns.
struct InvocationLog {
    let requestId: String
    let version: String
    var lines: [String] = []
    var record: InvocationRecord?

    var startLine: String { "START RequestId: \(requestId) Version: \(version)" }

    /// START, END and REPORT.
    func platformLines() -> [String] {
        guard let record else { return [startLine] }
        var report = "REPORT RequestId: \(requestId)\tDuration: \(Self.format(record.durationMs)) ms\t"
            + "Billed Duration: \(record.billedDurationMs) ms\tMemory Size: \(record.memoryMB) MB\t"
            + "Max Memory Used: \((record.maxMemoryUsedBytes + (1 << 20) - 1) >> 20) MB"
        if let initMs = record.initDurationMs { report += "\tInit Duration: \(Self.format(initMs)) ms" }
        if record.outcome != .success && record.outcome != .error { report += "\tStatus: \(record.outcome.rawValue)" }
        return [startLine, "END RequestId: \(requestId)", report]
    }

    /// START, the function's lines, END and REPORT, cut to the last `limit` bytes at a line start
    /// where possible.
    func text(limit: Int) -> String {
        let platform = platformLines()
        var all: [String] = []
        if let start = platform.first { all.append(start) }
        all += lines
        all += platform.dropFirst()
        var text = all.joined(separator: "\n") + "\n"
        if text.utf8.count > limit {
            let bytes = Array(text.utf8.suffix(limit))
            let cut = bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            text = String(decoding: bytes[(cut < bytes.count ? cut : 0)...], as: UTF8.self)
        }
        return text
    }

    static func format(_ ms: Double) -> String {
        let hundredths = Int((ms * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}
