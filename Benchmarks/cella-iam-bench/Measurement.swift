/// Times an operation many times and reports the median and p99 per operation.
///
/// Each call is timed on its own with `ContinuousClock` (about 20–40 ns of overhead per
/// reading pair on Linux, included in the figures), after a warm-up that fills caches.
struct Measurement {
    let name: String
    let goalMicroseconds: Double
    private(set) var nanoseconds: [Double] = []

    init(name: String, goalMicroseconds: Double) {
        self.name = name
        self.goalMicroseconds = goalMicroseconds
    }

    mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        nanoseconds.append(Double(seconds) * 1e9 + Double(attoseconds) / 1e9)
    }

    func percentile(_ fraction: Double) -> Double {
        let sorted = nanoseconds.sorted()
        guard !sorted.isEmpty else { return .nan }
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))
        return sorted[index]
    }

    var report: String {
        let median = percentile(0.5) / 1000
        let p99 = percentile(0.99) / 1000
        return "\(name): n=\(nanoseconds.count) median \(format(median)) µs, p99 \(format(p99)) µs; "
            + "goal median ≤ \(format(goalMicroseconds)) µs, ratio \(format(median / goalMicroseconds))"
    }

    private func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }
}
