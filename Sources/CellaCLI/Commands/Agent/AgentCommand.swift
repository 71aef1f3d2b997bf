import ArgumentParser
import CellaAgent
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `cella agent`: the node agent daemon. Runs as root, one per node.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the node agent: function instances in sandboxes, served over the Lambda Runtime API.",
        discussion: """
            The agent's HTTP API (docs/agent-api.md) is for the controller. On start it removes the \
            sandboxes and cgroups a previous run left behind. SIGTERM or Ctrl-C drains: new \
            invocations are refused, those in flight finish, then every instance stops.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 9100

    @Option(help: ArgumentHelp("Where bundles are kept.", valueName: "dir"))
    var dataDir = "/var/lib/cella/agent"

    @Option(help: ArgumentHelp("Built runtimes (rootfs/build.sh writes them).", valueName: "dir"))
    var runtimesDir = ProcessInfo.processInfo.environment["CELLA_RUNTIMES_DIR"] ?? "/var/lib/cella/runtimes"

    @Option(help: ArgumentHelp("Memory budget for all instances together, in MiB.", valueName: "MiB"))
    var memoryBudget: Int = 4096

    @Option(help: ArgumentHelp("Disk budget for bundles (archives and unpacked trees), in MiB; least recently used unused ones go first.", valueName: "MiB"))
    var bundleBudget = 10240

    @Option(help: ArgumentHelp("Memory budget for templates (initialized runtimes that new instances are cloned from), in MiB.", valueName: "MiB"))
    var templateBudget = 1024

    @Flag(help: "Start every instance cold: no templates, even for runtimes that support them.")
    var noTemplates = false

    @Option(help: ArgumentHelp("Sandboxes made ahead for versions that start cold (no template), held before their runtime's exec; at most this many on the node, one per version. 0: none.", valueName: "n"))
    var preparedSandboxes = 4

    @Option(help: ArgumentHelp("Stop instances idle for this many seconds.", valueName: "s"))
    var idleTimeout: Int = 300

    @Option(help: ArgumentHelp("How long an invocation waits for a busy function's instance before it is throttled, in ms.", valueName: "ms"))
    var queueTimeout: Int = 1000

    @Option(help: ArgumentHelp("The cgroup directory sandboxes are created under.", valueName: "name"))
    var cgroupRoot = "cella"

    @Option(help: ArgumentHelp("Host state directory for sandboxes.", valueName: "dir"))
    var stateDir = "/run/cella"

    @Option(help: "Region shown to functions as AWS_REGION.")
    var region = "local"

    @Option(help: ArgumentHelp("Controller to register with and heartbeat to, e.g. http://10.0.0.1:9000.", valueName: "url"))
    var controller: String?

    @Option(help: ArgumentHelp("This node's id at the controller, 1-64 of A-Z a-z 0-9 _ - (default: the host name's first label).", valueName: "id"))
    var nodeId: String?

    @Option(help: ArgumentHelp("The agent API's address as controllers reach it (default: http://HOST:PORT).", valueName: "url"))
    var advertise: String?

    @Option(help: ArgumentHelp("File holding the node token (default: $CELLA_CONTROLLER_TOKEN): sent with heartbeats, and required on every call to this agent's API but GET /v1/health. Without one the API is open to whoever reaches it.", valueName: "file"))
    var controllerTokenFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Flag(help: "Log JSON lines (for production) instead of text.")
    var jsonLogs = false

    func validate() throws {
        if preparedSandboxes < 0 {
            throw ValidationError("--prepared-sandboxes \(preparedSandboxes): must be 0 (none) or more")
        }
        if let nodeId, nodeId.isEmpty || nodeId.utf8.count > 64 || !nodeId.utf8.allSatisfy({
            (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2d || $0 == 0x5f
        }) {
            throw ValidationError("--node-id \"\(nodeId)\": 1-64 characters of A-Z, a-z, 0-9, '-' and '_' (a host name's dots are not allowed)")
        }
    }

    func run() async throws {
        DaemonLogging.bootstrap(level: logLevel, json: jsonLogs)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "cella.agent")

        var config = AgentConfiguration()
        config.host = host
        config.port = port
        config.dataDirectory = dataDir
        config.runtimesDirectory = runtimesDir
        config.memoryBudgetBytes = UInt64(memoryBudget) << 20
        config.idleTimeout = .seconds(idleTimeout)
        config.templates = !noTemplates
        config.templateMemoryBudgetBytes = UInt64(templateBudget) << 20
        config.preparedSandboxes = preparedSandboxes
        config.bundleDiskBudgetBytes = UInt64(max(1, bundleBudget)) << 20
        config.queueTimeout = .milliseconds(queueTimeout)
        config.region = region
        config.sandbox = .init(cgroupRoot: cgroupRoot, stateDirectory: stateDir)
        let token = try TokenSource.read(file: controllerTokenFile, environment: "CELLA_CONTROLLER_TOKEN")
        if let token, token.utf8.count < 16 {
            throw ValidationError("the node token must be at least 16 characters (--controller-token-file or $CELLA_CONTROLLER_TOKEN)")
        }
        config.apiToken = token
        if token == nil {
            logger.warning("no node token: the agent API is open to whoever reaches \(host):\(port); give --controller-token-file")
        }

        let agent: Agent
        do { agent = try Agent(configuration: config, logger: logger) } catch {
            throw ValidationError(error.description)
        }
        let app = AgentAPI.application(
            agent: agent, metrics: registry,
            configuration: .init(address: .hostname(host, port: port), serverName: "cella-agent"),
            onServerRunning: { channel in
                logger.notice("agent listening", metadata: ["cella.address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: AgentService(agent: agent)), .init(service: app)]
        if let controller {
            let beats = HeartbeatService(
                agent: agent,
                configuration: .init(
                    controller: controller.hasSuffix("/") ? String(controller.dropLast()) : controller,
                    nodeId: nodeId ?? Self.defaultNodeId(ProcessInfo.processInfo.hostName),
                    advertise: advertise ?? "http://\(host):\(port)", token: token),
                logger: logger)
            // First in the group, so it stops last: its final beat reports the drain.
            services.insert(.init(service: beats), at: 0)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// The host name as a node id (1-64 of A-Z a-z 0-9 _ -): its first label, other characters
    /// as '-'; `node` when nothing is left.
    static func defaultNodeId(_ hostName: String) -> String {
        let label = hostName.split(separator: ".").first.map(String.init) ?? ""
        var cleaned = String.UnicodeScalarView()
        for scalar in label.unicodeScalars.prefix(64) {
            let ok = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "-" || scalar == "_")
            cleaned.append(ok ? scalar : "-")
        }
        return cleaned.isEmpty ? "node" : String(cleaned)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
