/// `swift run -c release cella-iam-bench [iterations]`: medians and p99 of (a) one IAM decision
/// over 20 policies x 10 statements — alone, and with building its request context — and (b)
/// SigV4 verification of a 1 KB request, with the ratio of each median to the goal
/// (below 1 meets it). A benchmark, not a test: it asserts
/// only that the decisions are right.
@main
struct CellaIAMBench {
    static func main() async throws {
        let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 200_000
        print(try PolicyBenchmark.run(iterations: iterations).report)
        print(try PolicyBenchmark.runWithContext(iterations: iterations).report)
        print(try await SigV4Benchmark.run(iterations: iterations / 2).report)
    }
}
