import Foundation

/// Latency samples in nanoseconds.
struct Samples {
    var name: String
    var values: [UInt64] = []

    func percentile(_ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let index = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
        return Double(sorted[max(index, 0)]) / 1e6
    }

    var median: Double { percentile(50) }
    var p99: Double { percentile(99) }
}

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Prints one table row per series, with the ratio of its median to the median of each series
/// `bases` names (by index), under the given column titles.
func report(_ series: [Samples], bases: [(index: Int, title: String)] = [(0, "median ratio")]) {
    let titles = bases.map { String(format: " %12@", $0.title as NSString) }.joined()
    print(String(format: "%-36@ %6@ %10@ %10@", "series" as NSString, "runs" as NSString,
                 "median ms" as NSString, "p99 ms" as NSString) + titles)
    for s in series {
        let ratios = bases.map { String(format: " %11.2fx", s.median / series[$0.index].median) }.joined()
        print(String(format: "%-36@ %6d %10.3f %10.3f", s.name as NSString, s.values.count, s.median, s.p99) + ratios)
    }
}
