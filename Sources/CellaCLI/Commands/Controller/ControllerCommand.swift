import ArgumentParser
import AsyncHTTPClient
import CellaController
import CellaStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `cella controller`: the control plane daemon. Stateless; run one, or several against one
/// PostgreSQL behind a load balancer.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run a controller: the invoke endpoint (Cella's and Lambda-compatible), placement, the async queue.",
        discussion: """
            Agents register by heartbeat (cella agent --controller URL). Everything durable is in \
            the store: a SQLite file for one machine, PostgreSQL for a cluster. The API is in \
            docs/controller-api.md. SIGTERM or Ctrl-C stops taking requests and lets async \
            invocations in progress finish.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 9000

    @Option(help: ArgumentHelp("The store: sqlite:/path/to/cella.db or postgres://user:pass@host:5432/db.", valueName: "url"))
    var store = "sqlite:/var/lib/cella/controller/cella.db"

    @Option(help: ArgumentHelp("File holding the operator token (default: $CELLA_OPERATOR_TOKEN).", valueName: "file"))
    var operatorTokenFile: String?

    @Option(help: ArgumentHelp("File holding the node token (default: $CELLA_NODE_TOKEN): agents send it with heartbeats, the controller sends it to agents; it opens nothing else. Without one, the operator token serves as it.", valueName: "file"))
    var nodeTokenFile: String?

    @Option(help: ArgumentHelp("Concurrent executions allowed per tenant on this controller (0: no limit).", valueName: "n"))
    var tenantConcurrency = 1000

    @Option(help: ArgumentHelp("Invocations per second allowed per tenant on this controller (0: no limit).", valueName: "n"))
    var tenantRate: Double = 0

    @Option(help: ArgumentHelp("Largest sync event, bytes.", valueName: "bytes"))
    var maxSyncPayload = 6 * 1024 * 1024

    @Option(help: ArgumentHelp("Largest async event, bytes.", valueName: "bytes"))
    var maxAsyncPayload = 1024 * 1024

    @Option(help: ArgumentHelp("Wait before an async invocation's first retry, ms; each retry waits twice as long.", valueName: "ms"))
    var asyncRetryBase: Int64 = 1000

    @Option(help: ArgumentHelp("How long a claimed async invocation stays this controller's without renewal, ms.", valueName: "ms"))
    var asyncLease: Int64 = 10_000

    @Option(help: ArgumentHelp("How long a caller's key, principal and attached policies read from the store are reused, ms: a revocation or policy change made through another controller takes effect here within this time (at once through this one). 0: read them for every request.", valueName: "ms"))
    var identityCache: Int64 = 1000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Flag(help: "Log JSON lines (for production) instead of text.")
    var jsonLogs = false

    func run() async throws {
        DaemonLogging.bootstrap(level: logLevel, json: jsonLogs)
        let logger = Logger(label: "cella.controller")
        let token = try TokenSource.read(file: operatorTokenFile, environment: "CELLA_OPERATOR_TOKEN")
        guard let token, token.utf8.count >= 16 else {
            throw ValidationError("an operator token of at least 16 characters is needed: --operator-token-file FILE or $CELLA_OPERATOR_TOKEN")
        }
        let nodeToken = try TokenSource.read(file: nodeTokenFile, environment: "CELLA_NODE_TOKEN")
        if let nodeToken {
            guard nodeToken.utf8.count >= 16 else { throw ValidationError("the node token must be at least 16 characters") }
            guard nodeToken != token else { throw ValidationError("the node token must differ from the operator token (nodes must not hold the operator's credential)") }
        } else {
            logger.warning("no node token: agents authenticate with the operator token, so every node holds the operator's credential; give --node-token-file")
        }
        var config = Controller.Configuration(operatorToken: token)
        config.nodeToken = nodeToken
        config.quotas = .init(concurrency: tenantConcurrency > 0 ? tenantConcurrency : nil, perSecond: tenantRate > 0 ? tenantRate : nil)
        config.maxSyncPayloadBytes = maxSyncPayload
        config.maxAsyncPayloadBytes = maxAsyncPayload
        config.async.retryBaseMs = asyncRetryBase
        config.async.leaseMs = asyncLease
        guard identityCache >= 0 else { throw ValidationError("--identity-cache must be 0 or more milliseconds") }
        config.identityCacheMs = identityCache

        let opened = try await StoreFactory.open(url: store, logger: logger)
        let http = AgentClient.makeHTTPClient()
        let controller = Controller(store: opened, configuration: config, http: http, logger: logger)
        try await controller.prepare()
        let app = ControllerAPI.application(
            controller,
            configuration: .init(address: .hostname(host, port: port), serverName: "cella-controller"),
            onServerRunning: { channel in
                logger.notice("controller listening", metadata: ["cella.address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app)] + controller.services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do { try await group.run() } catch {
            controller.agents.close()
            try? await http.shutdown()
            await opened.close()
            throw error
        }
        controller.agents.close()
        try? await http.shutdown()
        await opened.close()
    }
}
