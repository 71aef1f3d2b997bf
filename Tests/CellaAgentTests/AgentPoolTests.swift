import CellaAgent
import CellaModel
import Foundation
import Testing

/// The instance pool's limits: reserved concurrency, the node's memory budget, idle reaping.
extension AgentTests {
@Suite struct AgentPoolTests {
    @Test func reservedConcurrencyCapsInstancesUnderParallelCalls() async throws {
        try await withAgent { agent in
            try await agent.deploy("capped", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle()) { $0.reservedConcurrency = 2 }
            let replies = try await withThrowingTaskGroup(of: RunningAgent.Reply.self) { group in
                for _ in 0..<6 { group.addTask { try await agent.invoke("capped", #"{"sleep":0.4}"#) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.header("X-Cella-Outcome") == "success" }, "\(replies.map(\.body))")
            let instances = Set(replies.compactMap { $0.json["instance"] as? String })
            #expect(instances.count == 2, "6 parallel calls with reserved concurrency 2 ran on \(instances.count) instances")
            let stats = try await agent.request(.GET, "/v1/stats").json
            let functions = stats["functions"] as? [[String: Any]] ?? []
            #expect(functions.first?["idle"] as? Int == 2)
        }
    }

    @Test func callsBeyondReservedConcurrencyAreThrottledAfterTheQueueTimeout() async throws {
        try await withAgent(configure: { $0.queueTimeout = .milliseconds(200) }) { agent in
            try await agent.deploy("one", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle()) { $0.reservedConcurrency = 1 }
            async let slow = agent.invoke("one", #"{"sleep":1.5}"#)
            try await Task.sleep(for: .milliseconds(700))
            let throttled = try await agent.invoke("one")
            #expect(throttled.status == 429)
            #expect(throttled.header("X-Cella-Error") == "TooManyRequests")
            #expect(try await slow.header("X-Cella-Outcome") == "success")

            try await agent.deploy("off", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle()) { $0.reservedConcurrency = 0 }
            #expect(try await agent.invoke("off").status == 429)
        }
    }

    @Test func aSpentMemoryBudgetEvictsIdleInstancesThenAnswersNodeFull() async throws {
        try await withAgent(configure: { $0.memoryBudgetBytes = 512 << 20 }) { agent in
            let bundle = try AgentTests.AgentInvokeTests.probeBundle()
            try await agent.deploy("a", runtime: "python3.11", handler: "app.handler", bundle: bundle) { $0.memoryMB = 256 }
            try await agent.deploy("b", runtime: "python3.11", handler: "app.handler", bundle: bundle) { $0.memoryMB = 256 }
            try await agent.deploy("c", runtime: "python3.11", handler: "app.handler", bundle: bundle) { $0.memoryMB = 256 }
            // a and b fill the budget while idle; c evicts the least recently used (a).
            #expect(try await agent.invoke("a").header("X-Cella-Outcome") == "success")
            #expect(try await agent.invoke("b").header("X-Cella-Outcome") == "success")
            #expect(try await agent.invoke("c").header("X-Cella-Outcome") == "success")
            #expect(try await agent.invoke("b").header("X-Cella-Start") == "warm")
            #expect(try await agent.invoke("a").header("X-Cella-Start") == "cold", "a was not the one evicted")

            // With b and c busy, nothing is idle to evict: a third function cannot start here.
            async let busyB = agent.invoke("b", #"{"sleep":1.5}"#)
            async let busyC = agent.invoke("c", #"{"sleep":1.5}"#)
            try await Task.sleep(for: .milliseconds(600))
            let full = try await agent.invoke("a")
            #expect(full.status == 503)
            #expect(full.header("X-Cella-Error") == "NodeFull", "\(full.body)")
            _ = try await (busyB, busyC)
        }
    }

    @Test func drainingRefusesNewInvocationsAndLetsInFlightOnesFinish() async throws {
        try await withAgent { agent in
            try await agent.deploy("d", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle())
            async let inFlight = agent.invoke("d", #"{"sleep":1}"#)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await agent.request(.POST, "/v1/drain").status == 200)
            #expect(try await agent.request(.GET, "/v1/health").json["status"] as? String == "draining")
            let refused = try await agent.invoke("d")
            #expect(refused.status == 503)
            #expect(refused.header("X-Cella-Error") == "Draining")
            #expect(try await inFlight.header("X-Cella-Outcome") == "success", "the in-flight invocation was cut")
            #expect(try await agent.request(.DELETE, "/v1/drain").status == 200)
            #expect(try await agent.invoke("d").header("X-Cella-Outcome") == "success")
        }
    }

    @Test func prewarmStartsInstancesSoTheFirstCallsAreWarm() async throws {
        try await withAgent { agent in
            try await agent.deploy("pre", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle()) { $0.reservedConcurrency = 2 }
            let reply = try await agent.request(.POST, "/v1/functions/t1/pre/1/prewarm?count=3")
            #expect(reply.status == 200)
            #expect(reply.json["instances"] as? Int == 2, "prewarm went past the reserved concurrency: \(reply.body)")
            async let first = agent.invoke("pre", #"{"sleep":0.3}"#)
            async let second = agent.invoke("pre", #"{"sleep":0.3}"#)
            let starts = try await [first.header("X-Cella-Start"), second.header("X-Cella-Start")]
            #expect(starts == ["warm", "warm"])
        }
    }

    @Test func idleInstancesAreReaped() async throws {
        try await withAgent(configure: { $0.idleTimeout = .milliseconds(500) }) { agent in
            try await agent.deploy("idle", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle())
            #expect(try await agent.invoke("idle").header("X-Cella-Outcome") == "success")
            #expect(!AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).isEmpty)
            // The agent's service reaps once a second.
            try await Task.sleep(for: .milliseconds(2500))
            let stats = try await agent.request(.GET, "/v1/stats").json
            #expect((stats["functions"] as? [[String: Any]])?.first?["idle"] as? Int == 0)
            #expect(stats["memoryReservedBytes"] as? Int == 0)
            #expect(AgentFixtures.sandboxCgroups(root: agent.cgroupRoot).isEmpty, "a reaped instance left its cgroup")
            #expect(try await agent.invoke("idle").header("X-Cella-Start") == "cold")
        }
    }
}
}
