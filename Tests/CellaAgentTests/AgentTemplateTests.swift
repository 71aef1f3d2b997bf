import CellaAgent
import CellaModel
import Foundation
import Testing

/// Templates (docs/runtime-snapshots.md): new instances forked from an initialized runtime, each
/// in its own cgroup, namespaces, /tmp and identity. Runs against a python3.11 runtime built from
/// this repository (its runtime.json names the template protocol).
extension AgentTests {
@Suite struct AgentTemplateTests {
    static func bundle() throws -> [UInt8] {
        try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("template-probe"))
    }

    static func withTemplates(
        configure: @escaping (inout AgentConfiguration) -> Void = { _ in }, _ body: (RunningAgent) async throws -> Void
    ) async throws {
        try await withAgent(configure: { config in
            config.templates = true
            configure(&config)
        }, body)
    }

    /// Runs `count` invocations at once (each sleeping, so each needs an instance of its own).
    static func parallel(_ agent: RunningAgent, _ name: String, count: Int, event: String) async throws -> [RunningAgent.Reply] {
        try await withThrowingTaskGroup(of: RunningAgent.Reply.self) { group in
            for _ in 0..<count { group.addTask { try await agent.invoke(name, event) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    static func templates(_ agent: RunningAgent) async throws -> [String] {
        let stats = try await agent.request(.GET, "/v1/stats").json
        return (stats["templates"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
    }

    @Test func clonesStartFromTheTemplateWithTheirOwnRandomnessIdentityAndPrivileges() async throws {
        try await Self.withTemplates { agent in
            #expect(try await agent.deploy("probe", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle()).status == 200)
            let first = try await agent.invoke("probe")
            #expect(first.header("X-Cella-Outcome") == "success", "\(first.body)")
            #expect(first.header("X-Cella-Start") == "cold", "the first instance builds the template")
            #expect(try await Self.templates(agent) == ["t1/probe:1"])

            // The idle clone takes one; the other three are new clones of the same template.
            let replies = try await Self.parallel(agent, "probe", count: 4, event: #"{"sleep": 0.5}"#)
            #expect(replies.allSatisfy { $0.header("X-Cella-Outcome") == "success" }, "\(replies.map(\.body))")
            #expect(replies.filter { $0.header("X-Cella-Start") == "clone" }.count == 3,
                    "\(replies.map { $0.header("X-Cella-Start") ?? "-" })")
            let bodies = replies.map(\.json) + [first.json]
            // One init for all: the template's state is every clone's state ...
            #expect(Set(bodies.compactMap { $0["init"] as? String }).count == 1)
            // ... but randomness, request ids and log streams are their own.
            #expect(Set(bodies.compactMap { $0["random"] as? Double }).count == 5, "\(bodies.map { $0["random"] ?? "-" })")
            #expect(Set(bodies.compactMap { $0["urandom"] as? String }).count == 5)
            #expect(Set(bodies.compactMap { $0["request_id"] as? String }).count == 5)
            #expect(Set(bodies.compactMap { $0["log_stream"] as? String }).count >= 4)
            for body in bodies {
                #expect(body["restored"] as? Int == 1, "the after-clone hook ran once: \(body)")
                #expect(body["init_type"] as? String == "snap-start")
                #expect(body["pid"] as? Int == 1, "each clone is pid 1 of its own pid namespace")
                #expect(body["uid"] as? Int == 1000 && body["gid"] as? Int == 1000)
                #expect(body["cap_eff"] as? String == "0000000000000000")
                #expect(body["cap_bnd"] as? String == "0000000000000000")
                #expect(body["no_new_privs"] as? String == "1")
                #expect(body["seccomp"] as? String == "2")
                #expect(body["seccomp_filters"] as? String == "2", "the template's filter and the default profile on top")
                #expect((body["unshare"] as? String)?.hasPrefix("PermissionError") == true, "\(body["unshare"] ?? "-")")
                #expect((body["fds"] as? [Int])?.count == 7 && (body["fd_kinds"] as? [String]) == ["closed", "pipe", "pipe", "socket"],
                    "stdio, the Runtime API socket, the runtime's own signal wake-up pipe, the listing's own: \(body["fds"] ?? "-") \(body["fd_kinds"] ?? "-")")
            }
        }
    }

    @Test func aCloneSeesNeitherTheTemplatesNorAnotherClonesFiles() async throws {
        try await Self.withTemplates { agent in
            try await agent.deploy("files", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle())
            #expect(try await agent.invoke("files").header("X-Cella-Outcome") == "success")
            // Two clones at once: the first writes a file into /tmp and /dev/shm and stays busy.
            async let writer = agent.invoke("files", #"{"write": "secret", "sleep": 1.0}"#)
            try await Task.sleep(for: .milliseconds(400))
            let reader = try await Self.parallel(agent, "files", count: 1, event: #"{"sleep": 0.1}"#)[0]
            let wrote = try await writer
            #expect(wrote.json["tmp"] as? [String] == ["secret"], "the probe sees its own file: \(wrote.body)")
            #expect(wrote.json["shm"] as? [String] == ["secret"])
            #expect(wrote.json["pid"] as? Int == 1 && reader.json["pid"] as? Int == 1)
            #expect(reader.json["tmp"] as? [String] == [], "\(reader.body)")
            #expect(reader.json["shm"] as? [String] == [], "\(reader.body)")
            #expect(reader.json["procs"] as? Int == 1, "only itself in /proc: \(reader.body)")
            #expect((reader.json["template_mem"] as? String)?.hasPrefix("ok") == false, "\(reader.body)")
            #expect((reader.json["template_root"] as? String)?.hasPrefix("ok") == false, "\(reader.body)")
            #expect((reader.json["other_roots"] as? [String])?.isEmpty == true, "\(reader.body)")
            #expect((reader.json["dev_write"] as? String)?.hasPrefix("ok") == false, "\(reader.body)")
            // Both clones again at once: the writer's still has its file, so the check above
            // looks for something that exists.
            let again = try await Self.parallel(agent, "files", count: 2, event: #"{"sleep": 0.3}"#)
            #expect(again.allSatisfy { $0.header("X-Cella-Start") == "warm" })
            #expect(Set(again.map { ($0.json["tmp"] as? [String] ?? ["?"]).joined() }) == ["secret", ""], "\(again.map(\.body))")
        }
    }

    @Test func eachCloneHasItsOwnMemoryLimit() async throws {
        try await Self.withTemplates { agent in
            try await agent.deploy("mem", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle()) {
                $0.memoryMB = 128
            }
            #expect(try await agent.invoke("mem").header("X-Cella-Outcome") == "success")
            // Two clones allocate 80 MiB each at once: 160 MiB together, within each one's 128.
            let pair = try await Self.parallel(agent, "mem", count: 2, event: #"{"allocate_mb": 80, "sleep": 0.3}"#)
            #expect(pair.allSatisfy { $0.header("X-Cella-Outcome") == "success" }, "\(pair.map(\.body))")
            // One clone goes past its limit while another works: only the first is killed.
            async let hog = agent.invoke("mem", #"{"allocate_mb": 300}"#)
            let fine = try await Self.parallel(agent, "mem", count: 1, event: #"{"allocate_mb": 40, "sleep": 0.5}"#)[0]
            let killed = try await hog
            #expect(killed.header("X-Cella-Outcome") == "oom", "\(killed.body)")
            #expect(fine.header("X-Cella-Outcome") == "success", "\(fine.body)")
            // The template is untouched: the next new instance is still a clone.
            let after = try await Self.parallel(agent, "mem", count: 3, event: #"{"sleep": 0.3}"#)
            #expect(after.allSatisfy { $0.header("X-Cella-Outcome") == "success" })
            #expect(after.contains { $0.header("X-Cella-Start") == "clone" })
        }
    }

    @Test func templatesBeyondTheBudgetAreEvictedLeastRecentlyUsedFirst() async throws {
        // The size of one template, measured, decides a budget that holds two but not three.
        var oneTemplate: UInt64 = 0
        try await Self.withTemplates { agent in
            try await agent.deploy("size", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle())
            #expect(try await agent.invoke("size").header("X-Cella-Outcome") == "success")
            let stats = try await agent.request(.GET, "/v1/stats").json
            oneTemplate = UInt64((stats["templates"] as? [[String: Any]])?.first?["bytes"] as? Int ?? 0)
        }
        #expect(oneTemplate > 1 << 20, "a template holds at least a MiB: \(oneTemplate)")
        try await Self.withTemplates(configure: { $0.templateMemoryBudgetBytes = oneTemplate * 5 / 2 }) { agent in
            let bundle = try Self.bundle()
            for name in ["a", "b", "c"] {
                try await agent.deploy(name, runtime: "python3.11", handler: "app.handler", bundle: bundle)
            }
            #expect(try await agent.invoke("a").header("X-Cella-Outcome") == "success")
            #expect(try await agent.invoke("b").header("X-Cella-Outcome") == "success")
            #expect(try await Self.templates(agent) == ["t1/a:1", "t1/b:1"])
            #expect(try await agent.invoke("c").header("X-Cella-Outcome") == "success")
            #expect(try await Self.templates(agent) == ["t1/b:1", "t1/c:1"], "a, the least recently used, goes")
            // a still works: started cold (its template is built again, evicting b now).
            let a = try await agent.invoke("a")
            #expect(a.header("X-Cella-Outcome") == "success", "\(a.body)")
            #expect(a.header("X-Cella-Start") == "cold")
            #expect(try await Self.templates(agent) == ["t1/a:1", "t1/c:1"])
        }
    }

    @Test func aKilledTemplateIsRebuiltOnTheNextNeed() async throws {
        try await Self.withTemplates { agent in
            try await agent.deploy("phoenix", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle())
            let before = try await agent.invoke("phoenix")
            #expect(before.header("X-Cella-Outcome") == "success")
            // The template's sandbox is the cgroup whose name ends in -t<n>; kill everything in it.
            let cgroups = AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).filter {
                $0.split(separator: "/").last?.contains("-t") == true
            }
            #expect(!cgroups.isEmpty, "the template's cgroup")
            for dir in cgroups {
                let pids = (try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? ""
                for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            }
            // Its clones die with it (they live in its pid namespace); the agent notices both.
            var gone = false
            for _ in 0..<100 where !gone {
                try await Task.sleep(for: .milliseconds(50))
                gone = try await Self.templates(agent).isEmpty
            }
            #expect(gone, "the dead template is dropped")
            let rebuilt = try await agent.invoke("phoenix")
            #expect(rebuilt.header("X-Cella-Outcome") == "success", "\(rebuilt.body)")
            #expect(rebuilt.header("X-Cella-Start") == "cold")
            #expect(rebuilt.json["init"] as? String != before.json["init"] as? String, "a new init ran")
            let more = try await Self.parallel(agent, "phoenix", count: 2, event: #"{"sleep": 0.3}"#)
            #expect(more.contains { $0.header("X-Cella-Start") == "clone" }, "\(more.map { $0.header("X-Cella-Start") ?? "-" })")
        }
    }

    /// Whether the version's template holds a clone made ahead of need, polled for up to 5 s.
    static func cloneReady(_ agent: RunningAgent, _ function: String, want: Bool = true) async throws -> Bool {
        for _ in 0..<100 {
            let stats = try await agent.request(.GET, "/v1/stats").json
            let entry = (stats["templates"] as? [[String: Any]] ?? []).first { $0["function"] as? String == function }
            if (entry?["cloneReady"] as? Bool ?? false) == want { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The cgroups under the agent's root (memory hierarchy) that hold a process, but the template's.
    static func cloneCgroupsWithProcesses(_ agent: RunningAgent) -> [String] {
        AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).filter { dir in
            dir.contains("/memory/") && dir.split(separator: "/").last?.contains("-t") == false
                && !((try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? "").isEmpty
        }
    }

    @Test func theNextCloneIsMadeAheadAndOneThatDiedIsReplacedByAFork() async throws {
        try await Self.withTemplates { agent in
            try await agent.deploy("ahead", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle())
            // Each instance exits 20 ms after answering, so every invocation needs a new one.
            let first = try await agent.invoke("ahead", #"{"die": true}"#)
            #expect(first.header("X-Cella-Start") == "cold", "\(first.body)")
            #expect(try await Self.cloneReady(agent, "t1/ahead:1"), "a clone is made ahead once the first has served")
            // It waits in a cgroup of its own, with the version's memory limit, running nothing.
            var waiting: [String] = []
            for _ in 0..<100 {
                waiting = Self.cloneCgroupsWithProcesses(agent)
                if waiting.count == 1 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(waiting.count == 1, "\(waiting)")
            if let dir = waiting.first {
                let limit = try String(contentsOfFile: dir + "/memory.limit_in_bytes", encoding: .utf8)
                #expect(UInt64(limit.trimmingCharacters(in: .whitespacesAndNewlines)) == 128 << 20)
            }
            let second = try await agent.invoke("ahead", #"{"die": true}"#)
            #expect(second.header("X-Cella-Outcome") == "success", "\(second.body)")
            #expect(second.header("X-Cella-Start") == "clone")
            // It took its identity from its go line, ran the after-clone hook once, and its
            // rehearsal of the invoke path (before the go line) left nothing behind.
            let body = second.json
            #expect(body["init_type"] as? String == "snap-start")
            #expect(body["restored"] as? Int == 1)
            #expect(body["asked_before_go"] as? Bool == false, "a clone with a hook asks after it ran")
            #expect(body["request_id"] as? String == second.header("X-Cella-Request-Id"))
            #expect(body["log_stream"] as? String != first.json["log_stream"] as? String)
            #expect((body["log_stream"] as? String)?.contains("/[1]") == true, "\(body["log_stream"] ?? "-")")
            #expect(body["trace_id"] is NSNull, "\(body["trace_id"] ?? "-")")
            #expect((body["fds"] as? [Int])?.count == 7 && (body["fd_kinds"] as? [String]) == ["closed", "pipe", "pipe", "socket"],
                    "stdio, the Runtime API socket, the runtime's own signal wake-up pipe, the listing's own: \(body["fds"] ?? "-") \(body["fd_kinds"] ?? "-")")
            #expect((body["tmp"] as? [String]) == [])

            // A clone made ahead that died is not used: the invocation forks one and succeeds,
            // and the template stays.
            #expect(try await Self.cloneReady(agent, "t1/ahead:1"))
            var killed = 0
            for _ in 0..<100 where killed == 0 {
                let dirs = Self.cloneCgroupsWithProcesses(agent)
                if dirs.count == 1 {
                    let pids = try String(contentsOfFile: dirs[0] + "/cgroup.procs", encoding: .utf8)
                    for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) where kill(pid, SIGKILL) == 0 { killed += 1 }
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(killed == 1, "the clone made ahead was found and killed")
            let third = try await agent.invoke("ahead", #"{"die": true}"#)
            #expect(third.header("X-Cella-Outcome") == "success", "\(third.body)")
            #expect(third.header("X-Cella-Start") == "clone")
            #expect(try await Self.templates(agent) == ["t1/ahead:1"])

            // Removing the version stops the clone made ahead with its template: nothing is left.
            #expect(try await Self.cloneReady(agent, "t1/ahead:1"))
            #expect(try await agent.request(.DELETE, "/v1/functions/t1/ahead/1").status == 204)
            var left = Self.cloneCgroupsWithProcesses(agent)
            for _ in 0..<100 where !left.isEmpty {
                try await Task.sleep(for: .milliseconds(50))
                left = Self.cloneCgroupsWithProcesses(agent)
            }
            #expect(left.isEmpty, "\(left)")
        }
    }

    /// A clone of a function with no after-clone hook asks for its first event before its go
    /// line; the agent holds that `/next` until the line is out, and the event follows it.
    @Test func aCloneWithoutHooksThatAskedBeforeItsGoLineGetsItsIdentityFirst() async throws {
        try await Self.withTemplates { agent in
            try await agent.deploy("plain", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle()) {
                $0.environment = ["NO_AFTER_CLONE": "1"]
            }
            let first = try await agent.invoke("plain", #"{"die": true}"#)
            #expect(first.header("X-Cella-Start") == "cold", "\(first.body)")
            #expect(try await Self.cloneReady(agent, "t1/plain:1"))
            // The clone made ahead rehearses, then sends its GET (a few ms): give it time, so that
            // the agent holds that request before the go line (either order must work).
            try await Task.sleep(for: .milliseconds(300))
            let ahead = try await agent.invoke("plain", #"{"die": true}"#)
            #expect(ahead.json["asked_before_go"] as? Bool == true, "\(ahead.body)")
            // It exits 20 ms after answering: gone before the next ones, which must not take it.
            var idle = -1
            for _ in 0..<100 {
                let stats = try await agent.request(.GET, "/v1/stats").json
                let pool = (stats["functions"] as? [[String: Any]])?.first { $0["function"] as? String == "t1/plain:1" }
                idle = pool?["idle"] as? Int ?? -1
                if idle == 0 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(idle == 0, "the clone that served and exited is gone from the pool")
            // Three at once: the next clone made ahead (or a fork) and forks for the others.
            let forked = try await Self.parallel(agent, "plain", count: 3, event: #"{"sleep": 0.3}"#)
            let replies = [ahead] + forked
            #expect(replies.allSatisfy { $0.header("X-Cella-Outcome") == "success" }, "\(replies.map(\.body))")
            #expect(replies.filter { $0.header("X-Cella-Start") == "clone" }.count >= 3,
                    "\(replies.map { $0.header("X-Cella-Start") ?? "-" })")
            let clones = replies.filter { $0.header("X-Cella-Start") == "clone" }
            for reply in clones {
                let body = reply.json
                #expect(body["restored"] as? Int == 0, "no hook registered: \(reply.body)")
                #expect(body["asked_before_go"] as? Bool == true, "\(reply.body)")
                #expect(body["init_type"] as? String == "snap-start")
                #expect(body["request_id"] as? String == reply.header("X-Cella-Request-Id"))
                #expect((body["log_stream"] as? String)?.contains("/[1]") == true, "\(body["log_stream"] ?? "-")")
            }
            let bodies = clones.map(\.json) + [first.json]
            #expect(Set(bodies.compactMap { $0["log_stream"] as? String }).count == bodies.count, "each its own stream")
            #expect(Set(bodies.compactMap { $0["random"] as? Double }).count == bodies.count, "its own randomness")
            #expect(Set(bodies.compactMap { $0["init"] as? String }).count == 1)
        }
    }

    @Test func aCloneThatFailsFallsBackToAColdStart() async throws {
        try await Self.withTemplates { agent in
            try await agent.deploy("fragile", runtime: "python3.11", handler: "app.handler", bundle: try Self.bundle()) {
                $0.environment = ["FAIL_AFTER_CLONE": "1"]
            }
            let reply = try await agent.invoke("fragile")
            #expect(reply.header("X-Cella-Outcome") == "success", "\(reply.body)")
            #expect(reply.header("X-Cella-Start") == "cold")
            #expect(reply.json["init_type"] as? String == "on-demand", "served by a cold instance: \(reply.body)")
            // The probes the clone tests expect to fail succeed where /proc/1 is reachable (a cold
            // instance's pid 1 is itself): they can tell the difference.
            #expect((reply.json["template_mem"] as? String)?.hasPrefix("ok") == true, "\(reply.body)")
            #expect((reply.json["template_root"] as? String)?.hasPrefix("ok") == true, "\(reply.body)")
            #expect(try await Self.templates(agent).isEmpty, "the failing template was dropped")
        }
    }

    @Test func aReplacedOrRemovedVersionDropsItsTemplate() async throws {
        try await Self.withTemplates { agent in
            let bundle = try Self.bundle()
            try await agent.deploy("v", runtime: "python3.11", handler: "app.handler", bundle: bundle)
            let first = try await agent.invoke("v")
            #expect(first.header("X-Cella-Outcome") == "success", "\(first.body)")
            #expect(try await Self.templates(agent) == ["t1/v:1"])
            // Deploying the version again replaces it: its template goes (after its busy clone
            // has finished its invocation), a new one comes with the next new instance.
            async let busy = agent.invoke("v", #"{"sleep": 0.8}"#)
            try await Task.sleep(for: .milliseconds(300))
            try await agent.deploy("v", runtime: "python3.11", handler: "app.handler", bundle: bundle)
            #expect(try await Self.templates(agent).isEmpty)
            let finished = try await busy
            #expect(finished.header("X-Cella-Outcome") == "success", "a busy clone finishes: \(finished.body)")
            let second = try await agent.invoke("v")
            #expect(second.header("X-Cella-Start") == "cold", "\(second.body)")
            #expect(second.json["init"] as? String != first.json["init"] as? String)
            #expect(try await Self.templates(agent) == ["t1/v:1"])
            #expect(try await agent.request(.DELETE, "/v1/functions/t1/v/1").status == 204)
            #expect(try await Self.templates(agent).isEmpty)
        }
    }

    @Test func coldStartsTakeAPreparedNetworkAndCgroupAndTheyAreReplaced() async throws {
        for target in [0, 2] {
            try await withAgent(configure: { $0.preparedNetworks = target; $0.preparedCgroups = target }) { agent in
                func stats() async throws -> [Int] {
                    let json = try await agent.request(.GET, "/v1/stats").json
                    return ["preparedNetworks", "preparedNetworksUsed", "preparedCgroups", "preparedCgroupsUsed"].map { json[$0] as? Int ?? -1 }
                }
                var now = try await stats()
                for _ in 0..<100 where now[0] != target || now[2] != target {
                    try await Task.sleep(for: .milliseconds(20))
                    now = try await stats()
                }
                #expect(now[0] == target && now[2] == target, "\(now)")
                // Made ahead, the cgroups are there before any sandbox, empty and without limits.
                // The memory controller's directories: v1's memory hierarchy, else the v2 tree.
                let v1 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes")
                let memoryPrefix = v1 ? "/sys/fs/cgroup/memory/" : "/sys/fs/cgroup/\(agent.cgroupRoot)/"
                let limitFile = v1 ? "/memory.limit_in_bytes" : "/memory.max"
                let prepared = AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).filter { $0.hasPrefix(memoryPrefix) }
                #expect(prepared.count == target, "\(prepared)")
                try await agent.deploy("p", runtime: "provided", bundle: try AgentFixtures.zip(
                    directory: AgentFixtures.functionDirectory("provided"))) { $0.memoryMB = 256 }
                let reply = try await agent.invoke("p", #"{"x":1}"#)
                #expect(reply.header("X-Cella-Outcome") == "success", "\(reply.body)")
                #expect(reply.header("X-Cella-Start") == "cold")
                // The instance's cgroup has the version's limit, written when it was taken.
                let busy = AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).filter {
                    $0.hasPrefix(memoryPrefix) && !((try? String(contentsOfFile: $0 + "/cgroup.procs", encoding: .utf8)) ?? "").isEmpty
                }
                #expect(busy.count == 1, "\(busy)")
                if let dir = busy.first {
                    let limit = (try? String(contentsOfFile: dir + limitFile, encoding: .utf8))?
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    #expect(limit == String(256 << 20), "\(dir): \(limit ?? "?")")
                    #expect(target == 0 || prepared.contains(dir), "target \(target): the instance did not run in a prepared cgroup: \(dir)")
                }
                now = try await stats()
                for _ in 0..<100 where now[0] != target || now[2] != target {
                    try await Task.sleep(for: .milliseconds(20))
                    now = try await stats()
                }
                #expect(now[1] == min(target, 1) && now[3] == min(target, 1), "target \(target): \(now)")
                #expect(now[0] == target && now[2] == target, "refilled: \(now)")
            }
        }
    }

    @Test func aVersionThatStartsColdGetsItsNextSandboxMadeAheadAndHeldBeforeExec() async throws {
        // Templates are off in these agents, so the Python probe starts cold like a runtime
        // without the protocol would.
        try await withAgent(configure: { $0.preparedSandboxes = 2 }) { agent in
            func prepared() async throws -> [Int] {
                let json = try await agent.request(.GET, "/v1/stats").json
                return ["preparedSandboxes", "preparedSandboxesUsed"].map { json[$0] as? Int ?? -1 }
            }
            func settle(_ expected: [Int]) async throws {
                var now = try await prepared()
                for _ in 0..<250 where now != expected {
                    try await Task.sleep(for: .milliseconds(20))
                    now = try await prepared()
                }
                #expect(now == expected, "prepared sandboxes (ready, used)")
            }
            /// Sandbox processes that have not exec'd their runtime: still this test process's image.
            /// From every hierarchy the sandboxes' cgroups are in (v1's several, or v2's one).
            func unexecuted() -> [String] {
                let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "?"
                let pids = Set(AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).flatMap { dir in
                    ((try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                })
                return pids.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/exe")) == own }.sorted()
            }
            let bundle = try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("agent-probe"))
            try await agent.deploy("h", runtime: "python3.11", handler: "app.handler", bundle: bundle)
            try await settle([0, 0])
            let first = try await agent.invoke("h")
            #expect(first.header("X-Cella-Start") == "cold", "\(first.body)")
            // Once that instance is released, the next one's sandbox is made and held.
            try await settle([1, 0])
            let held = unexecuted()
            #expect(held.count == 1, "one held sandbox process: \(held)")
            if let pid = held.first {
                let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                #expect(status.contains("Seccomp:\t2") && status.contains("NoNewPrivs:\t1"), "confined before its exec: \(status)")
            }
            // With the first instance busy, the next invocation needs a new one: it takes the held one.
            async let busy = agent.invoke("h", #"{"sleep": 1}"#)
            var serving = 0
            for _ in 0..<250 where serving != 1 {
                try await Task.sleep(for: .milliseconds(10))
                let functions = try await agent.request(.GET, "/v1/stats").json["functions"] as? [[String: Any]] ?? []
                serving = functions.first { $0["function"] as? String == "t1/h:1" }?["busy"] as? Int ?? 0
            }
            #expect(serving == 1, "the first instance is busy")
            let second = try await agent.invoke("h")
            #expect(second.header("X-Cella-Outcome") == "success", "\(second.body)")
            #expect(second.header("X-Cella-Start") == "cold")
            #expect(second.json["instance"] as? String != first.json["instance"] as? String)
            #expect(second.json["uid"] as? Int == 1000)
            let slept = try await busy
            #expect(slept.json["instance"] as? String == first.json["instance"] as? String, "\(slept.body)")
            // And the next is made when that one is released.
            try await settle([1, 1])
            #expect(unexecuted().count == 1)
            // A new deployment of the version drops it; a removed version keeps none.
            try await agent.deploy("h", runtime: "python3.11", handler: "app.handler", bundle: bundle)
            try await settle([0, 1])
            #expect(unexecuted().isEmpty)
            #expect(try await agent.invoke("h").header("X-Cella-Start") == "cold")
            try await settle([1, 1])
            #expect(try await agent.request(.DELETE, "/v1/functions/t1/h/1").status == 204)
            try await settle([0, 1])
            #expect(unexecuted().isEmpty)
        }
    }

    @Test func heldSandboxesAreCappedOldestFirstAndGoAfterAnIdleTimeout() async throws {
        try await withAgent(configure: { $0.preparedSandboxes = 1; $0.idleTimeout = .seconds(2) }) { agent in
            func held() async throws -> [String] {
                (try await agent.request(.GET, "/v1/stats").json["preparedSandboxFunctions"] as? [String]) ?? ["?"]
            }
            func settle(_ expected: [String], seconds: Int = 5) async throws {
                var now = try await held()
                for _ in 0..<(seconds * 50) where now != expected {
                    try await Task.sleep(for: .milliseconds(20))
                    now = try await held()
                }
                #expect(now == expected, "held sandboxes")
            }
            let bundle = try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("agent-probe"))
            for name in ["a", "b"] {
                try await agent.deploy(name, runtime: "python3.11", handler: "app.handler", bundle: bundle)
            }
            #expect(try await agent.invoke("a").header("X-Cella-Start") == "cold")
            try await settle(["t1/a:1"])
            // Room for one: b's takes the place of a's, the one held longer.
            #expect(try await agent.invoke("b").header("X-Cella-Start") == "cold")
            try await settle(["t1/b:1"])
            // Unused for the idle timeout (2 s here, reaped on the once-a-second tick), it goes.
            try await settle([], seconds: 10)
        }
    }

    @Test func runtimesWithoutTheProtocolStartColdAsBefore() async throws {
        let dir = try AgentFixtures.awslambdaricDirectory()
        try await Self.withTemplates(configure: { $0.preparedSandboxes = 1 }) { agent in
            try await agent.deploy("ric", runtime: "python3.11", handler: "app.handler", bundle: try AgentFixtures.zip(directory: dir))
            let reply = try await agent.invoke("ric", #"{"from":"awslambdaric"}"#)
            #expect(reply.header("X-Cella-Outcome") == "success", "\(reply.body)")
            #expect(reply.header("X-Cella-Start") == "cold")
            #expect(try await agent.invoke("ric").header("X-Cella-Start") == "warm")
            #expect(try await Self.templates(agent).isEmpty)
            // It gets a prepared sandbox instead: a second instance (a prewarm) is started in the
            // held sandbox, and runs awslambdaric there.
            func prepared() async throws -> [Int] {
                let json = try await agent.request(.GET, "/v1/stats").json
                return ["preparedSandboxes", "preparedSandboxesUsed"].map { json[$0] as? Int ?? -1 }
            }
            var now = try await prepared()
            for _ in 0..<250 where now != [1, 0] {
                try await Task.sleep(for: .milliseconds(20))
                now = try await prepared()
            }
            #expect(now == [1, 0], "a held sandbox after the first cold start")
            let prewarm = try await agent.request(.POST, "/v1/functions/t1/ric/1/prewarm?count=2")
            #expect(prewarm.status == 200, "\(prewarm.body)")
            let replies = try await [agent.invoke("ric", #"{"n":1}"#), agent.invoke("ric", #"{"n":2}"#)]
            #expect(replies.allSatisfy { $0.header("X-Cella-Outcome") == "success" && $0.json["runtime"] as? String == "awslambdaric" })
            #expect(try await prepared()[1] == 1, "the second instance started in the held sandbox")
        }
    }
}
}
