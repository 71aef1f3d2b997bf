import CellaAgent
import CellaBundles
import CellaModel
import CellaTestSupport
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `cella agent` daemon as a process: bad bundles refused at upload, and a SIGKILLed agent
/// whose restart leaves nothing of the previous run behind.
extension AgentTests {
@Suite struct AgentProcessTests {
    @Test(arguments: [
        ("traversal", "z.writestr('../evil.py', 'x = 1')", "path_traversal"),
        ("absolute path", "z.writestr('/etc/evil.py', 'x = 1')", "absolute_path"),
        ("symlink escape", """
            info = zipfile.ZipInfo('escape')
            info.external_attr = (0o120777 << 16)
            z.writestr(info, '../../../../etc/passwd')
            """, "link_escape"),
        ("zip bomb", "z.writestr('bomb.bin', b'\\0' * (300 << 20), compress_type=zipfile.ZIP_DEFLATED)", "too_large"),
    ])
    func badBundlesAreRejectedAtUploadWithAClearMessage(name: String, entry: String, code: String) async throws {
        let archive = try AgentFixtures.craftedZip("z = zipfile.ZipFile(sys.argv[1], 'w')\n\(entry)\nz.close()")
        try await withAgent { agent in
            let digest = BundleDigest(of: archive).description
            let reply = try await agent.request(.PUT, "/v1/bundles/\(digest)", body: archive)
            #expect(reply.status == 400, "\(name): \(reply.status) \(reply.body)")
            #expect(reply.header("X-Cella-Error") == "InvalidBundle")
            let message = reply.json["message"] as? String ?? ""
            #expect(message.hasPrefix(code + ": "), "\(name): \(message)")
            #expect(try await agent.request(.HEAD, "/v1/bundles/\(digest)").status == 404, "a rejected bundle was kept")
        }
    }

    @Test func aKilledAgentsRestartLeavesNoStraySandboxes() async throws {
        let runtimes = try AgentFixtures.runtimesDirectory()
        let cella = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/cella"
        try #require(FileManager.default.isExecutableFile(atPath: cella), "build the cella executable first (swift build)")
        let root = "cella-agent-kill-\(getpid())"
        let port = 20000 + Int(getpid() % 20000)
        let data = NSTemporaryDirectory() + root
        defer {
            try? FileManager.default.removeItem(atPath: data)
            // Its state directory (StateDirectory also detaches what a failed run left mounted).
            StateDirectory.remove("/run/\(root)")
            AgentFixtures.removeCgroupRoot(root)
        }
        func startAgent() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: cella)
            process.arguments = ["agent", "--port", String(port), "--cgroup-root", root, "--state-dir", "/run/\(root)",
                                 "--data-dir", data, "--runtimes-dir", runtimes, "--log-level", "warning"]
            try process.run()
            return process
        }
        func waitHealthy() async throws {
            for _ in 0..<100 {
                if let (_, response) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/v1/health")!),
                   (response as? HTTPURLResponse)?.statusCode == 200 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("the agent did not become healthy")
        }
        func sandboxProcesses() -> Int {
            AgentFixtures.sandboxCgroups(root: root).reduce(0) { count, dir in
                count + ((try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8))?.split(separator: "\n").count ?? 0)
            }
        }
        let bundle = try AgentTests.AgentInvokeTests.probeBundle()
        let digest = BundleDigest(of: bundle).description
        let deploy = try JSONEncoder().encode(AgentDeployRequest(
            config: FunctionConfig(name: "probe", runtime: "python3.11", handler: "app.handler"), bundleDigest: digest))
        func post(_ method: String, _ path: String, _ body: Data) async throws -> Int {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            let (_, response) = try await URLSession.shared.upload(for: request, from: body)
            return (response as? HTTPURLResponse)?.statusCode ?? 0
        }

        let first = try startAgent()
        try await waitHealthy()
        #expect(try await post("PUT", "/v1/bundles/\(digest)", Data(bundle)) == 201)
        #expect(try await post("PUT", "/v1/functions/t1/probe/1", deploy) == 200)
        async let busy = post("POST", "/v1/functions/t1/probe/1/invoke", Data(#"{"sleep":30}"#.utf8))
        #expect(try await post("POST", "/v1/functions/t1/probe/1/invoke", Data("{}".utf8)) == 200)
        try await Task.sleep(for: .milliseconds(300))
        #expect(sandboxProcesses() >= 2, "expected a busy and an idle instance")

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        _ = try? await busy
        // The sandboxes die with the agent (PR_SET_PDEATHSIG); their cgroups wait for the restart.
        var alive = sandboxProcesses()
        for _ in 0..<50 where alive > 0 {
            try await Task.sleep(for: .milliseconds(100))
            alive = sandboxProcesses()
        }
        #expect(alive == 0, "sandbox processes outlived the agent")
        // The killed agent could not unmount its shared root: the restart must.
        let rootsLeft = StateDirectory.sharedRootMounts("/run/\(root)")
        #expect(!rootsLeft.isEmpty && rootsLeft.allSatisfy { $0.contains("/\(first.processIdentifier)-") }, "\(rootsLeft)")
        let left = Set(AgentFixtures.sandboxCgroups(root: root))
        #expect(!left.isEmpty, "expected cgroups left for the restart to remove")

        let second = try startAgent()
        try await waitHealthy()
        // The new agent makes its own empty cgroups ahead of need (named by its boot); none of
        // the old ones may remain.
        let after = Set(AgentFixtures.sandboxCgroups(root: root))
        #expect(left.isDisjoint(with: after), "the restarted agent left the old cgroups: \(left.intersection(after).sorted())")
        #expect(Set(StateDirectory.sharedRootMounts("/run/\(root)")).isDisjoint(with: rootsLeft),
                "the restarted agent left the killed one's shared roots mounted")
        #expect(try await post("PUT", "/v1/functions/t1/probe/1", deploy) == 200, "the bundle did not survive the restart")
        #expect(try await post("POST", "/v1/functions/t1/probe/1/invoke", Data("{}".utf8)) == 200)
        // Instance gauges are published on the agent's once-a-second tick.
        try await Task.sleep(for: .milliseconds(1500))
        let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains(#"cella_agent_invocations_total{outcome="success",start="cold"} 1"#), "\(text.prefix(2000))")
        #expect(text.contains(#"cella_agent_cold_starts_total{kind="cold"} 1"#))
        #expect(text.contains(#"cella_agent_instances{state="idle"} 1"#))
        #expect(text.contains("cella_agent_spawn_duration_seconds_count 1"))
        second.terminate()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0, "SIGTERM should shut the agent down cleanly")
        #expect(AgentFixtures.sandboxCgroups(root: root).isEmpty, "a gracefully stopped agent left sandboxes")
        #expect(StateDirectory.sharedRootMounts("/run/\(root)").isEmpty, "a gracefully stopped agent left its shared roots")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: "/run/\(root)/roots")) == [])
    }
}
}
