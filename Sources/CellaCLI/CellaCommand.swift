import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The `cella` command: every client and daemon subcommand hangs off it.
public struct CellaCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cella",
        abstract: "Cella: a self-hosted, multi-tenant function platform.",
        version: "0.1.0",
        subcommands: [
            UpCommand.self, LoginCommand.self, ContextCommand.self, FnCommand.self, InvokeCommand.self,
            InvocationCommand.self, LogsCommand.self, TopCommand.self, NodesCommand.self, TenantCommand.self,
            PrincipalCommand.self, KeyCommand.self,
            SandboxCommand.self, AgentCommand.self, ControllerCommand.self, PolicyCommand.self,
        ]
    )

    public init() {}

    /// Parses and runs a command line, as `main()` does, but with the exit statuses docs/cli.md
    /// documents: a usage error (a bad flag, a value out of range) exits 2, as shells and most
    /// Unix tools do, rather than argument-parser's 64.
    public static func run(arguments: [String]? = nil) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(withError: nil)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ClientError.Kind.usage.rawValue)
            }
            exit(withError: error)
        }
    }

    /// Makes SwiftNIO's event loops Swift concurrency's global executor. Call first thing in
    /// `main`, before any task runs; blocking work must then stay on dedicated threads (it does:
    /// sandbox launches use a thread pool, waits use the reaper's epoll thread).
    public static func useEventLoopsAsConcurrencyExecutor() {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
