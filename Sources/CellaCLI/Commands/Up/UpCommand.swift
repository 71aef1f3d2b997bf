import ArgumentParser
import AsyncHTTPClient
import CellaAgent
import CellaController
import CellaStore
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOHTTP1
import Prometheus
import ServiceLifecycle

/// `cella up`: the whole platform on this machine — a controller with its SQLite store and a node
/// agent, in one process. The first start builds the runtimes and makes the operator's key; later
/// starts on the same data directory resume with the same state.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run Cella on this machine: a controller (SQLite) and a node agent, until Ctrl-C.",
        discussion: """
            Needs root (the agent makes sandboxes). Prints the endpoint and the admin key, each on \
            a line of its own (`endpoint: URL`, `admin key: KEY`), for scripts to read. Ctrl-C or \
            SIGTERM drains: invocations in flight finish, every instance stops.
            """
    )

    @Option(help: ArgumentHelp("Where Cella keeps its state (store, bundles, key).", valueName: "dir"))
    var dataDir = UpCommand.defaultDataDirectory()

    @Option(help: "Address the controller listens on.")
    var host = "127.0.0.1"

    @Option(help: "Port of the controller's API (the endpoint).")
    var port = 9000

    @Option(help: "Port of the agent's API (loopback only).")
    var agentPort = 9100

    @Option(help: ArgumentHelp("Memory budget for all instances together, in MiB.", valueName: "MiB"))
    var memoryBudget: Int = 4096

    @Option(help: ArgumentHelp("Built runtimes; missing ones are built on first start.", valueName: "dir"))
    var runtimesDir = ProcessInfo.processInfo.environment["CELLA_RUNTIMES_DIR"] ?? "/var/lib/cella/runtimes"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .warning

    @Option(help: ArgumentHelp("The cgroup directory sandboxes are created under.", valueName: "name"))
    var cgroupRoot = "cella"

    @Option(help: ArgumentHelp("Host state directory for sandboxes.", valueName: "dir"))
    var stateDir = "/run/cella"

    /// `/var/lib/cella/up`: `cella up` runs as root, and root's home (0700 on Debian) is not a
    /// place sandboxes, running as unprivileged users, can reach unpacked bundles through.
    static func defaultDataDirectory() -> String { "/var/lib/cella/up" }

    /// The first directory on the way to `path` that others cannot search, if any: sandboxes run
    /// as unprivileged host users and reach the unpacked bundles under the data directory by path.
    static func unsearchableParent(of path: String) -> String? {
        var current = URL(fileURLWithPath: path).standardizedFileURL.path
        while current != "/" && !current.isEmpty {
            var st = stat()
            if stat(current, &st) == 0, st.st_mode & S_IXOTH == 0 { return current }
            current = (current as NSString).deletingLastPathComponent
        }
        return nil
    }

    func run() async throws {
        guard geteuid() == 0 else { throw ValidationError("cella up needs root: the agent runs functions in sandboxes (namespaces, cgroups)") }
        DaemonLogging.bootstrap(level: logLevel, json: false)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "cella.up")

        // 0711: others may pass through (the sandbox's unprivileged user reaches the unpacked bundles below)
        // but not list it; the operator key inside stays 0600.
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        if let blocked = Self.unsearchableParent(of: dataDir) {
            throw ValidationError("""
                --data-dir \(dataDir): sandboxes run as unprivileged users and must reach the bundles under it, \
                but \(blocked) is not searchable by others; choose a directory outside it (the default is \(Self.defaultDataDirectory()))
                """)
        }
        let token = try Self.operatorKey(in: dataDir)
        let nodeToken = try Self.nodeKey(in: dataDir)
        try RuntimeBootstrap.ensure(["python3.11", "provided"], in: runtimesDir)

        var agentConfig = AgentConfiguration()
        agentConfig.host = "127.0.0.1"
        agentConfig.port = agentPort
        agentConfig.dataDirectory = dataDir + "/agent"
        agentConfig.runtimesDirectory = runtimesDir
        agentConfig.memoryBudgetBytes = UInt64(memoryBudget) << 20
        agentConfig.sandbox = .init(cgroupRoot: cgroupRoot, stateDirectory: stateDir)
        agentConfig.apiToken = nodeToken
        let agent: Agent
        do { agent = try Agent(configuration: agentConfig, logger: logger) } catch { throw ValidationError(error.description) }
        let agentAddress = "http://127.0.0.1:\(agentPort)"

        let store = try await StoreFactory.open(url: "sqlite:\(dataDir)/cella.db", logger: logger)
        let http = AgentClient.makeHTTPClient()
        var controllerConfig = Controller.Configuration(operatorToken: token)
        controllerConfig.nodeToken = nodeToken
        // The agent is in this process: invocations reach it by a call, not over loopback HTTP.
        let controller = Controller(
            store: store, configuration: controllerConfig, http: http,
            localAgent: LocalAgentBridge.make(agent, address: agentAddress), logger: logger)
        try await controller.prepare()

        let endpoint = "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)"
        let agentApp = AgentAPI.application(
            agent: agent, metrics: registry,
            configuration: .init(address: .hostname("127.0.0.1", port: agentPort), serverName: "cella-agent"),
            logger: logger)
        let controllerApp = ControllerAPI.application(
            controller,
            configuration: .init(address: .hostname(host, port: port), serverName: "cella-controller"),
            onServerRunning: { _ in
                let text = """
                    endpoint: \(endpoint)
                    admin key: \(token)
                    data: \(dataDir)
                    next: cella login --endpoint \(endpoint) --key \(token)
                    Ctrl-C stops Cella (invocations in flight finish first).

                    """
                FileHandle.standardOutput.write(Data(text.utf8))
            },
            logger: logger)
        let beats = HeartbeatService(
            agent: agent,
            configuration: .init(controller: endpoint, nodeId: "local", advertise: agentAddress, token: nodeToken),
            client: http, logger: logger)
        // Stopped last to first: the controller stops taking requests, then the agent drains,
        // then the heartbeat tells of the drain.
        let services: [any Service] = [beats, AgentService(agent: agent), agentApp] + controller.services + [controllerApp]
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            controller.agents.close()
            try? await http.shutdown()
            await store.close()
            throw error
        }
        controller.agents.close()
        try? await http.shutdown()
        await store.close()
    }

    /// The operator's key, made on the first start and kept (mode 0600) in the data directory.
    static func operatorKey(in dataDir: String) throws -> String {
        try secret(dataDir + "/operator-key", prefix: "cella_op_")
    }

    /// The node token the controller and the agent share (not the admin key: it opens the node
    /// routes only), made on the first start and kept (mode 0600) in the data directory.
    static func nodeKey(in dataDir: String) throws -> String {
        try secret(dataDir + "/node-key", prefix: "cella_node_")
    }

    private static func secret(_ path: String, prefix: String) throws -> String {
        if let existing = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           !existing.isEmpty {
            return existing
        }
        var bytes = [UInt8](repeating: 0, count: 24)
        guard getentropy(&bytes, bytes.count) == 0 else { throw ValidationError("getentropy failed") }
        let key = prefix + bytes.map { String(format: "%02x", $0) }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = Array((key + "\n").utf8)
        guard write(fd, line, line.count) == line.count else { throw ValidationError("cannot write \(path)") }
        return key
    }
}

/// Hands a controller's invocations to an agent in the same process (`cella up`): the agent's
/// invoke route without HTTP, its answer in the shape the controller reads from the wire.
enum LocalAgentBridge {
    static func make(_ agent: Agent, address: String) -> AgentClient.LocalAgent {
        AgentClient.LocalAgent(address: address) { tenant, name, version, payload, headers in
            // In a task of its own, as over HTTP: cancelling the controller's task (a shutdown)
            // must not reach an invocation the agent has taken, nor an instance's start.
            let answer = await Task {
                await AgentAPI.invoke(agent: agent, tenant: tenant, name: name, version: version, payload: payload) {
                    headers.first(name: $0.rawName)
                }
            }.value
            var fields = HTTPHeaders()
            fields.reserveCapacity(answer.headers.count)
            for field in answer.headers { fields.add(name: field.name.rawName, value: field.value) }
            return AgentClient.Answer(status: answer.status, headers: fields, body: answer.body)
        }
    }
}

/// Builds missing runtimes with the repository's rootfs/build.sh, its progress on stderr.
enum RuntimeBootstrap {
    static func ensure(_ names: [String], in directory: String) throws {
        let missing = names.filter { !FileManager.default.fileExists(atPath: "\(directory)/\($0)/runtime.json") }
        guard !missing.isEmpty else { return }
        guard let script = buildScript() else {
            throw ValidationError("runtimes \(missing.joined(separator: ", ")) are not built in \(directory), and rootfs/build.sh was not found: set CELLA_ROOTFS_DIR to the repository's rootfs directory")
        }
        FileHandle.standardError.write(Data("building runtimes \(missing.joined(separator: ", ")) into \(directory) (first start only; debootstrap takes a minute or two)...\n".utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script] + missing
        var env = ProcessInfo.processInfo.environment
        env["CELLA_RUNTIMES_DIR"] = directory
        p.environment = env
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ValidationError("building the runtimes failed (rootfs/build.sh exited \(p.terminationStatus)); its output is above")
        }
    }

    /// `$CELLA_ROOTFS_DIR/build.sh`, else `rootfs/build.sh` in a directory above the executable
    /// (a checkout's `.build/<config>/cella`).
    static func buildScript() -> String? {
        if let dir = ProcessInfo.processInfo.environment["CELLA_ROOTFS_DIR"] { return dir + "/build.sh" }
        var url = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = url.path + "/rootfs/build.sh"
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return nil
    }
}
