import ArgumentParser

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run and inspect sandboxes directly (a debugging tool for operators).",
        subcommands: [SandboxRun.self, SandboxCleanup.self]
    )
}
