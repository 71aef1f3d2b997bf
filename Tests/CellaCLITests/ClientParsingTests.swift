import ArgumentParser
import Foundation
import Testing

@testable import CellaCLI

/// Every client command parses from a command line as `cella` would, and bad input is refused
/// before any request is made.
@Suite struct ClientParsingTests {
    private func parse<T: ParsableCommand>(_ args: [String], as type: T.Type) throws -> T {
        let command = try CellaCommand.parseAsRoot(args)
        return try #require(command as? T, "\(args) parsed as \(Swift.type(of: command))")
    }

    @Test func identityAndTopCommands() throws {
        let p = try parse(["principal", "create", "ci", "--service", "--tag", "team=data", "--tenant", "acme"], as: PrincipalCreate.self)
        #expect(p.name == "ci" && p.service && !p.admin && p.client.tenant == "acme")
        #expect(try p.parsedTags() == ["team": .string("data")])
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["principal", "create", "bad name"]) }
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["principal", "create", "ci", "--tag", "novalue"]) }
        let k = try parse(["key", "create", "ci", "--access-key", "--expires", "90d", "-o", "json"], as: KeyCreate.self)
        #expect(k.principal == "ci" && k.accessKey && k.expires == "90d" && k.output == "json")
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["key", "create", "ci", "--expires", "soon"]) }
        #expect(try parse(["key", "ls", "--principal", "ci"], as: KeyList.self).principal == "ci")
        #expect(try parse(["key", "revoke", "abc"], as: KeyRevoke.self).id == "abc")
        let put = try parse(["policy", "put", "p1", "doc.json"], as: PolicyPut.self)
        #expect(put.name == "p1" && put.file == "doc.json")
        let attach = try parse(["policy", "attach", "p1", "ci"], as: PolicyAttach.self)
        #expect(attach.policy == "p1" && attach.principal == "ci")
        #expect(try parse(["policy", "get", "p1", "-o", "json"], as: PolicyGet.self).output == "json")
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["policy", "get", "p1", "-o", "table"]) }
        let sim = try parse(["policy", "simulate", "--action", "a", "--resource", "r", "--principal", "ci",
                             "--condition", "k=v", "--context", "prod"], as: PolicySimulateCommand.self)
        #expect(sim.contextValues == ["k=v"] && sim.client.context == "prod")
        let top = try parse(["top", "--window", "60", "--once", "-o", "yaml"], as: TopCommand.self)
        #expect(top.window == 60 && top.once && top.output.output == .yaml)
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["top", "--window", "0"]) }
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["top", "--interval", "0.01"]) }
        #expect(try parse(["fn", "deploy", "d", "--name", "x", "--no-wait"], as: FnDeploy.self).noWait)
    }

    /// Every command of the tree, as the built binary: `--help` must print its usage and exit 0
    /// (argument-parser refuses a tree with clashing names, such as two `--context` options).
    @Test func everyCommandAnswersHelp() throws {
        let harness = try CLIHarness()
        defer { harness.cleanUp() }
        func paths(_ command: any ParsableCommand.Type, _ prefix: [String]) -> [[String]] {
            let subs = command.configuration.subcommands
            return [prefix] + subs.flatMap { paths($0, prefix + [$0._commandName]) }
        }
        let all = paths(CellaCommand.self, [])
        #expect(all.count > 40, "\(all.count) commands")
        for path in all {
            let r = harness.cella(path + ["--help"])
            #expect(r.status == 0 && r.stdout.contains("USAGE:"), "cella \(path.joined(separator: " ")) --help: \(r)")
        }
    }

    @Test func upRefusesADataDirectorySandboxesCannotReach() throws {
        let base = NSTemporaryDirectory() + "cella-up-dir-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/private/data", withIntermediateDirectories: true)
        #expect(chmod(base, 0o755) == 0 && chmod(base + "/private", 0o700) == 0)
        #expect(UpCommand.unsearchableParent(of: base + "/private/data") == base + "/private")
        #expect(chmod(base + "/private", 0o711) == 0)
        #expect(UpCommand.unsearchableParent(of: base + "/private/data") == nil)
        #expect(UpCommand.defaultDataDirectory() == "/var/lib/cella/up")
    }

    @Test func agentNodeIdIsChecked() throws {
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["agent", "--node-id", "ip-10-0-0-1.ec2.internal"]) }
        #expect(throws: (any Error).self) { try CellaCommand.parseAsRoot(["agent", "--node-id", ""]) }
        _ = try CellaCommand.parseAsRoot(["agent", "--node-id", "node_7-b"])
    }

    @Test func agentNodeIdFromTheHostName() {
        #expect(AgentCommand.defaultNodeId("ip-10-0-1-5.eu-west-1.compute.internal") == "ip-10-0-1-5")
        #expect(AgentCommand.defaultNodeId("worker_7") == "worker_7")
        #expect(AgentCommand.defaultNodeId("h\u{00e9}te") == "h-te")
        #expect(AgentCommand.defaultNodeId("") == "node")
        #expect(AgentCommand.defaultNodeId(String(repeating: "a", count: 80)).count == 64)
    }

    @Test func login() throws {
        let c = try parse(["login", "--endpoint", "http://h:9000", "--key", "k", "--tenant", "acme", "--name", "prod"], as: LoginCommand.self)
        #expect(c.endpoint == "http://h:9000" && c.key == "k" && c.tenant == "acme" && c.name == "prod")
        let d = try parse(["login", "--endpoint", "http://h:9000"], as: LoginCommand.self)
        #expect(d.key == nil && d.name == "default")
    }

    @Test func contexts() throws {
        #expect(try parse(["context", "ls", "-o", "json"], as: ContextList.self).output.output == .json)
        #expect(try parse(["context", "use", "prod"], as: ContextUse.self).name == "prod")
    }

    @Test func deploy() throws {
        let c = try parse([
            "fn", "deploy", "./src", "--name", "hello", "--runtime", "python3.11", "--handler", "app.main",
            "--memory", "256", "--timeout", "10", "--env", "A=1", "--env", "B=x=y", "--concurrency", "5", "--publish",
            "--endpoint", "http://e:1", "--key", "k", "--tenant", "t", "--context", "c",
        ], as: FnDeploy.self)
        #expect(c.source == "./src" && c.name == "hello" && c.runtime == "python3.11" && c.handler == "app.main")
        #expect(c.memory == 256 && c.timeout == 10 && c.concurrency == 5 && c.publish)
        #expect(try c.parsedEnvironment() == ["A": "1", "B": "x=y"])
        #expect(c.client.endpoint == "http://e:1" && c.client.key == "k" && c.client.tenant == "t" && c.client.context == "c")
        let plain = try parse(["fn", "deploy", "app.zip", "--name", "x"], as: FnDeploy.self)
        #expect(plain.runtime == nil && !plain.publish)
        #expect(try plain.parsedEnvironment() == nil)
    }

    @Test func functionCommands() throws {
        #expect(try parse(["fn", "ls", "-o", "yaml"], as: FnList.self).output.output == .yaml)
        #expect(try parse(["fn", "get", "hello"], as: FnGet.self).name == "hello")
        #expect(try parse(["fn", "rm", "hello"], as: FnRemove.self).name == "hello")
        #expect(try parse(["fn", "versions", "hello", "--output", "json"], as: FnVersions.self).output.output == .json)
        let set = try parse(["fn", "alias", "set", "hello", "prod", "2"], as: FnAliasSet.self)
        #expect(set.name == "hello" && set.alias == "prod" && set.version == "2")
        #expect(try parse(["fn", "alias", "ls", "hello"], as: FnAliasList.self).name == "hello")
    }

    @Test func invoke() throws {
        let c = try parse(["invoke", "hello", "--data", "@event.json", "--qualifier", "prod", "--log"], as: InvokeCommand.self)
        #expect(c.name == "hello" && c.data == "@event.json" && c.qualifier == "prod" && c.log && !c.isAsync)
        #expect(try parse(["invoke", "hello", "--async"], as: InvokeCommand.self).isAsync)
        #expect(try parse(["invocation", "get", "abc"], as: InvocationGet.self).id == "abc")
    }

    @Test func invokeEventSources() throws {
        let literal = try parse(["invoke", "f", "--data", #"{"a":1}"#], as: InvokeCommand.self)
        #expect(try literal.event(stdinIsTTY: true) == Array(#"{"a":1}"#.utf8))
        let none = try parse(["invoke", "f"], as: InvokeCommand.self)
        #expect(try none.event(stdinIsTTY: true) == Array("{}".utf8))
        let missing = try parse(["invoke", "f", "--data", "@/nonexistent/event.json"], as: InvokeCommand.self)
        #expect(throws: ClientError.self) { try missing.event(stdinIsTTY: true) }
    }

    @Test func logs() throws {
        let c = try parse(["logs", "hello", "-f", "--since", "10m", "--request-id", "r1"], as: LogsCommand.self)
        #expect(c.follow && c.since == "10m" && c.requestId == "r1")
        #expect(LogsCommand.duration("10m") == 600_000)
        #expect(LogsCommand.duration("30s") == 30_000)
        #expect(LogsCommand.duration("2h") == 7_200_000)
        #expect(LogsCommand.duration("1d") == 86_400_000)
        #expect(LogsCommand.duration("250ms") == 250)
        #expect(LogsCommand.duration("ten") == nil)
        #expect(LogsCommand.duration("5") == nil)
    }

    @Test func nodesAndTenants() throws {
        #expect(try parse(["nodes", "ls", "-o", "json"], as: NodesList.self).output.output == .json)
        #expect(try parse(["nodes", "drain", "n1"], as: NodesDrain.self).id == "n1")
        #expect(try parse(["nodes", "undrain", "n1"], as: NodesUndrain.self).id == "n1")
        #expect(try parse(["tenant", "create", "acme"], as: TenantCreate.self).id == "acme")
        #expect(try parse(["tenant", "ls"], as: TenantList.self).output.output == .table)
        #expect(try parse(["tenant", "rm", "acme"], as: TenantRemove.self).id == "acme")
    }

    @Test("bad command lines are usage errors that name the problem", arguments: [
        (["fn", "deploy", "d", "--name", "x", "--env", "NOEQUALS"], "K=V"),
        (["fn", "deploy", "d", "--name", "x", "--memory", "64"], "--memory"),
        (["fn", "deploy", "d", "--name", "x", "--timeout", "0"], "--timeout"),
        (["fn", "deploy", "d", "--name", "x", "--concurrency", "10001"], "--concurrency"),
        (["fn", "deploy", "d"], "--name"),
        (["fn", "ls", "-o", "xml"], "xml"),
        (["invoke", "f", "--async", "--log"], "--log"),
        (["logs", "f", "--since", "yesterday"], "--since"),
        (["tenant", "create", "Bad_Id"], "tenant id"),
        (["login", "--endpoint", "http://h", "--name", "a b"], "--name"),
        (["login"], "--endpoint"),
    ])
    func rejects(_ args: [String], _ mentions: String) {
        do {
            let command = try CellaCommand.parseAsRoot(args)
            Issue.record("accepted \(args) as \(type(of: command))")
        } catch {
            #expect(CellaCommand.exitCode(for: error) == .validationFailure, "\(args)")
            #expect(CellaCommand.fullMessage(for: error).contains(mentions), "\(CellaCommand.fullMessage(for: error))")
        }
    }

    @Test func completionScriptNamesTheClientCommands() throws {
        let script = CellaCommand.completionScript(for: .bash)
        for word in ["login", "deploy", "invoke", "logs", "nodes", "tenant"] {
            #expect(script.contains(word), "\(word) missing from the bash completion")
        }
    }
}
