import ArgumentParser

/// The `cella` command: every client and daemon subcommand hangs off it.
public struct CellaCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cella",
        abstract: "Cella: a self-hosted, multi-tenant function platform.",
        version: "0.1.0",
        subcommands: [SandboxCommand.self]
    )

    public init() {}
}
