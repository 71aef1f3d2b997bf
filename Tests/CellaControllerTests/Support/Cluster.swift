import AsyncHTTPClient
import CellaTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Controllers and agents as separate `cella` processes. Each agent runs in a network namespace
/// made for the test, joined to the host by a veth on a bridge that exists only for the test; the
/// controller listens on the bridge's address. Everything is torn down by `stop()`: processes,
/// namespaces, links, cgroup roots, directories.
final class Cluster: @unchecked Sendable {
    static let isRoot = geteuid() == 0
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    let tag: String
    let subnet: String
    let bridge: String
    let port: Int
    let directory: String
    let token = "operator-" + UUID().uuidString
    /// The nodes' secret, distinct from the operator's: what agents and controllers exchange.
    let nodeToken = "node-" + UUID().uuidString
    let agentCount: Int
    /// The controllers' store: SQLite in the cluster's directory unless a URL is given.
    let store: String?
    private(set) var controllers: [Process?]
    private(set) var agents: [Process?]
    /// Controller 0's URL; controller i listens on `port + i`.
    var baseURL: String { url(controller: 0) }
    func url(controller i: Int) -> String { "http://\(subnet).1:\(port + i)" }

    static var cella: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/cella"
    }

    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    static func runtimesDirectory() throws -> String {
        let dir = ProcessInfo.processInfo.environment["CELLA_RUNTIMES_DIR"] ?? "/var/lib/cella/runtimes"
        guard FileManager.default.fileExists(atPath: "\(dir)/python3.11/runtime.json") else {
            throw Failure("runtime python3.11 is not built in \(dir): run `bash rootfs/build.sh python3.11 provided` (scripts/test.sh does)")
        }
        return dir
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    init(agents: Int, controllers: Int = 1, store: String? = nil) {
        let pid = Int(getpid())
        tag = "e2e\(pid % 100_000)"
        subnet = "10.231.\(pid % 250)"
        bridge = "cb\(pid % 100_000)"
        port = 30000 + pid % 20000
        directory = NSTemporaryDirectory() + "cella-cluster-\(pid)-\(UUID().uuidString.prefix(8))"
        agentCount = agents
        self.agents = Array(repeating: nil, count: agents)
        self.controllers = Array(repeating: nil, count: controllers)
        self.store = store
    }

    func namespace(_ i: Int) -> String { "\(tag)-n\(i)" }
    func agentAddress(_ i: Int) -> String { "\(subnet).\(10 + i)" }
    func cgroupRoot(_ i: Int) -> String { "cella-\(tag)-\(i)" }

    /// Makes the network, starts the controller and the agents, waits until every node is live.
    static func start(agents: Int, controllers: Int = 1, store: String? = nil) async throws -> Cluster {
        let cluster = Cluster(agents: agents, controllers: controllers, store: store)
        do {
            try cluster.makeNetwork()
            for i in 0..<controllers {
                try cluster.startController(i)
                try await cluster.waitHealthy(i)
            }
            for i in 0..<agents { try cluster.startAgent(i) }
            try await cluster.waitLive(agents)
        } catch {
            await cluster.stop()
            throw error
        }
        return cluster
    }

    func makeNetwork() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try sh("ip", "link", "add", bridge, "type", "bridge")
        try sh("ip", "addr", "add", "\(subnet).1/24", "dev", bridge)
        try sh("ip", "link", "set", bridge, "up")
        for i in 0..<agentCount {
            let ns = namespace(i), host = "\(tag)h\(i)", peer = "\(tag)p\(i)"
            try sh("ip", "netns", "add", ns)
            try sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
            try sh("ip", "link", "set", peer, "netns", ns)
            try sh("ip", "link", "set", host, "master", bridge, "up")
            try sh("ip", "-n", ns, "addr", "add", "\(agentAddress(i))/24", "dev", peer)
            try sh("ip", "-n", ns, "link", "set", peer, "up")
            try sh("ip", "-n", ns, "link", "set", "lo", "up")
        }
    }

    func startController(_ i: Int = 0) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.cella)
        p.arguments = ["controller", "--host", "\(subnet).1", "--port", String(port + i), "--store", store ?? "sqlite:\(directory)/cella.db",
                       "--async-retry-base", "200", "--async-lease", "3000", "--log-level", "warning"]
        p.environment = ["CELLA_OPERATOR_TOKEN": token, "CELLA_NODE_TOKEN": nodeToken, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        controllers[i] = p
    }

    func startAgent(_ i: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        // nsenter joins only the network namespace and execs: the agent keeps the host's mounts
        // (its cgroups) and its pid is the process's.
        p.arguments = ["--net=/run/netns/\(namespace(i))", "--", Self.cella, "agent",
                       "--host", agentAddress(i), "--port", "9100",
                       "--controller", url(controller: i % controllers.count), "--node-id", "node-\(i)", "--advertise", "http://\(agentAddress(i)):9100",
                       "--data-dir", "\(directory)/agent-\(i)", "--cgroup-root", cgroupRoot(i), "--state-dir", "/run/\(cgroupRoot(i))",
                       "--runtimes-dir", try Self.runtimesDirectory(), "--memory-budget", "1024", "--log-level", "error"]
        p.environment = ["CELLA_CONTROLLER_TOKEN": nodeToken, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        try p.run()
        agents[i] = p
    }

    func kill(agent i: Int) {
        guard let p = agents[i] else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        agents[i] = nil
    }

    func killController(_ i: Int = 0) {
        guard let p = controllers[i] else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        controllers[i] = nil
    }

    func waitHealthy(_ i: Int = 0) async throws {
        for _ in 0..<200 {
            if let reply = try? await request(.GET, "/v1/health", controller: i), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure("the controller did not become healthy at \(url(controller: i))")
    }

    func nodes(controller i: Int = 0) async throws -> [[String: Any]] {
        let reply = try await request(.GET, "/v1/nodes", controller: i)
        return (try? JSONSerialization.jsonObject(with: Data(reply.body.utf8))) as? [[String: Any]] ?? []
    }

    /// Waits until every running controller sees `count` live nodes.
    func waitLive(_ count: Int) async throws {
        for i in controllers.indices where controllers[i] != nil {
            var live = 0
            for _ in 0..<200 {
                live = try await nodes(controller: i).filter({ $0["status"] as? String == "live" }).count
                if live >= count { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            if live < count { throw Failure("\(count) nodes did not become live at controller \(i): \(try await nodes(controller: i))") }
        }
    }

    /// Stops everything and removes what the cluster made; safe to call twice.
    /// - Returns: sandbox cgroups that agents stopped gracefully left behind (should be none).
    @discardableResult
    func stop() async -> [String] {
        var left: [String] = []
        for i in 0..<agentCount {
            guard let p = agents[i] else { continue }
            p.terminate()
            p.waitUntilExit()
            agents[i] = nil
            left += Self.cgroups(under: cgroupRoot(i))
        }
        for i in controllers.indices {
            guard let p = controllers[i] else { continue }
            p.terminate()
            p.waitUntilExit()
            controllers[i] = nil
        }
        for i in 0..<agentCount {
            _ = try? sh("ip", "netns", "del", namespace(i))
            Self.removeCgroupRoot(cgroupRoot(i))
            StateDirectory.remove("/run/\(cgroupRoot(i))")
        }
        _ = try? sh("ip", "link", "del", bridge)
        try? FileManager.default.removeItem(atPath: directory)
        return left
    }

    /// Kills what is left in a cgroup root of a SIGKILLed agent and removes it, in every hierarchy.
    static func removeCgroupRoot(_ root: String) {
        for hierarchy in ["memory", "pids", "cpu,cpuacct", "cpu", "cpuacct", "freezer", "unified", ""] {
            let dir = "/sys/fs/cgroup/\(hierarchy.isEmpty ? "" : hierarchy + "/")\(root)"
            guard FileManager.default.fileExists(atPath: dir) else { continue }
            let children = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for child in children where (try? FileManager.default.attributesOfItem(atPath: "\(dir)/\(child)")[.type] as? FileAttributeType) == .typeDirectory {
                for pid in ((try? String(contentsOfFile: "\(dir)/\(child)/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n") {
                    if let pid = Int32(pid) { Foundation.kill(pid, SIGKILL) }
                }
                for _ in 0..<50 where rmdir("\(dir)/\(child)") != 0 { usleep(20_000) }
            }
            rmdir(dir)
        }
    }

    /// Cgroup directories left under a root, in any hierarchy (what a leak check counts).
    static func cgroups(under root: String) -> [String] {
        ["memory", "pids", "cpu,cpuacct", "freezer", "unified"].flatMap { h -> [String] in
            let dir = "/sys/fs/cgroup/\(h)/\(root)"
            var isDirectory: ObjCBool = false
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { "\(dir)/\($0)" }
                .filter { FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue }
        }
    }

    @discardableResult
    func sh(_ argv: String...) throws -> String {
        let r = Command.run(["/usr/bin/env"] + argv)
        guard r.status == 0 else { throw Failure("\(argv.joined(separator: " ")): \(r.stdout)\(r.stderr)") }
        return r.stdout + r.stderr
    }

    // MARK: HTTP

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        func header(_ name: String) -> String? { headers.first(name: name) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
                 timeout: TimeAmount = .seconds(30), controller i: Int = 0) async throws -> Reply {
        var request = HTTPClientRequest(url: url(controller: i) + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await Self.client.execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: buffer))
    }

    /// A GET straight to agent `i`'s API with `token` (none when nil).
    func agentStatus(_ i: Int, _ path: String, token: String?) async throws -> Int {
        var request = HTTPClientRequest(url: "http://\(agentAddress(i)):9100" + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await Self.client.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    func json(_ method: HTTPMethod, _ path: String, _ object: Any, headers: [(String, String)] = []) async throws -> Reply {
        try await request(method, path, body: Array(try JSONSerialization.data(withJSONObject: object)),
                          headers: headers + [("Content-Type", "application/json")])
    }

    /// Uploads a function directory as a zip and creates the function.
    func deploy(_ name: String, directory: String, handler: String = "app.handler", memoryMB: Int = 128) async throws -> Reply {
        let zip = try Self.zip(directory: directory)
        let upload = try await request(.POST, "/v1/bundles", body: zip)
        guard upload.status == 201, let digest = upload.json["digest"] as? String else { return upload }
        return try await json(.POST, "/v1/functions", [
            "config": ["name": name, "runtime": "python3.11", "handler": handler, "memoryMB": memoryMB, "timeoutSeconds": 10],
            "codeDigest": digest,
        ])
    }

    /// What a Python script prints on standard output.
    static func python(_ script: String) throws -> String {
        let r = Command.run(["/usr/bin/python3", "-c", script])
        guard r.status == 0 else { throw Failure("python3: \(r)") }
        return r.stdout
    }

    static func zip(directory: String) throws -> [UInt8] {
        let out = NSTemporaryDirectory() + "cella-bundle-\(UUID().uuidString).zip"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        let r = Command.run(["/usr/bin/python3", "-m", "zipfile", "-c", out] + entries, directory: directory)
        guard r.status == 0 else { throw Failure("zipping \(directory): \(r)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func invoke(_ name: String, _ event: String = "{}", headers: [(String, String)] = [], controller i: Int = 0) async throws -> Reply {
        try await request(.POST, "/v1/functions/\(name)/invoke", body: Array(event.utf8), headers: headers, controller: i)
    }
}

/// Runs `body` with a fresh cluster and always tears it down.
func withCluster(agents: Int = 3, controllers: Int = 1, store: String? = nil, _ body: (Cluster) async throws -> Void) async throws {
    let cluster = try await Cluster.start(agents: agents, controllers: controllers, store: store)
    let failure: (any Error)?
    do { try await body(cluster); failure = nil } catch { failure = error }
    let left = await cluster.stop()
    #expect(left.isEmpty, "sandbox cgroups left behind by gracefully stopped agents: \(left)")
    #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(cluster.namespace(0))"), "a network namespace was left")
    if let failure { throw failure }
}
