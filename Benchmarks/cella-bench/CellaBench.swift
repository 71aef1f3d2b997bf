import ArgumentParser

/// Cella's benchmarks. Each prints medians and p99s, and runs the peers (runc, bwrap, a direct
/// spawn) side by side in the same run, because these machines are shared and noisy.
@main
struct CellaBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cella-bench",
        abstract: "Cella benchmarks (see docs/benchmarks.md).",
        subcommands: [SandboxBench.self]
    )
}
