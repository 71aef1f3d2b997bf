import ArgumentParser
import NIOCore
import NIOPosix

/// The `cella` command: every client and daemon subcommand hangs off it.
public struct CellaCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cella",
        abstract: "Cella: a self-hosted, multi-tenant function platform.",
        version: "0.1.0",
        subcommands: [UpCommand.self, SandboxCommand.self, AgentCommand.self, ControllerCommand.self, PolicyCommand.self]
    )

    public init() {}

    /// Makes SwiftNIO's event loops Swift concurrency's global executor. Call first thing in
    /// `main`, before any task runs; blocking work must then stay on dedicated threads (it does:
    /// sandbox launches use a thread pool, waits use the reaper's epoll thread).
    public static func useEventLoopsAsConcurrencyExecutor() {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
