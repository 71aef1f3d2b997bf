import ServiceLifecycle

/// The agent's own long-running work as a Service: reaps idle instances every second, and on a
/// graceful shutdown drains (new invocations get `Draining`), lets in-flight ones finish and stops
/// every instance. Put it before the HTTP server in the ServiceGroup: services stop in reverse
/// order, so the server stops taking requests first.
public struct AgentService: Service {
    let agent: Agent

    public init(agent: Agent) {
        self.agent = agent
    }

    public func run() async throws {
        await agent.start()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: .seconds(1))
                await agent.reapIdle()
            }
        } onGracefulShutdown: {
            agent.drain()
        }
        await agent.shutdown()
    }
}
