import CellaAgent
import CellaModel
import Foundation
import NIOCore
import Testing

/// What happens when functions misbehave: timeouts, OOM kills, crashes. Each ends the instance,
/// reports the cause, and leaves the function working.
extension AgentTests {
@Suite struct AgentFailureTests {
    @Test func aTimeoutKillsTheInstanceAndTheNextCallGetsAFreshOne() async throws {
        try await withAgent { agent in
            try await agent.deploy("slow", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle()) { $0.timeoutSeconds = 1 }
            let first = try await agent.invoke("slow", #"{"sleep":0}"#)
            let reply = try await agent.invoke("slow", #"{"sleep":5}"#)
            #expect(reply.status == 200)
            #expect(reply.header("X-Cella-Outcome") == "timeout")
            let message = reply.json["errorMessage"] as? String ?? ""
            #expect(message.hasSuffix("Task timed out after 1.00 seconds"), "\(message)")
            let duration = Double(reply.header("X-Cella-Duration-Ms") ?? "") ?? 0
            #expect(duration >= 1000 && duration < 3000, "a 1 s timeout took \(duration) ms")

            let next = try await agent.invoke("slow", #"{"sleep":0}"#)
            #expect(next.header("X-Cella-Outcome") == "success")
            #expect(next.header("X-Cella-Start") == "cold")
            #expect(next.json["instance"] as? String != first.json["instance"] as? String)
        }
    }

    /// A caller whose task is cancelled while its instance starts (a daemon shutting down cancels
    /// its tasks) gets the invocation run to its end, not a crash: the init timer ends early on
    /// cancellation, and the instance's own start decides.
    @Test func aCallerCancelledDuringAColdStartDoesNotEndTheAgent() async throws {
        try await withAgent { agent in
            let bundle = try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("template-probe"))
            let deployed = try await agent.deploy("slowinit", runtime: "python3.11", handler: "app.noop", bundle: bundle) {
                $0.environment["INIT_SLEEP"] = "1"
            }
            #expect(deployed.status == 200, "\(deployed.body)")
            let call = Task {
                try await agent.agent.invoke(tenant: "t1", name: "slowinit", version: "1", payload: ByteBuffer(string: "{}"))
            }
            try await Task.sleep(for: .milliseconds(300))
            call.cancel()
            let result = try await call.value
            #expect(result.record.outcome == .success && result.record.start == .cold, "\(result.record)")
            #expect((result.record.initDurationMs ?? 0) >= 1000, "init slept 1 s: \(result.record)")
        }
    }

    @Test func aMemoryHogIsReportedAsOutOfMemory() async throws {
        try await withAgent { agent in
            try await agent.deploy("hog", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle()) { $0.memoryMB = 128 }
            let reply = try await agent.invoke("hog", #"{"print":["about to allocate"],"allocate_mb":400}"#)
            #expect(reply.status == 200)
            #expect(reply.header("X-Cella-Outcome") == "oom", "\(reply.body)")
            #expect(reply.json["errorType"] as? String == "Runtime.OutOfMemory")
            #expect((reply.json["logTail"] as? [String])?.contains("about to allocate") == true, "\(reply.body)")
            #expect(try await agent.invoke("hog").header("X-Cella-Outcome") == "success")
        }
    }

    @Test func aCrashingRuntimeIsReportedWithItsLastLines() async throws {
        try await withAgent { agent in
            try await agent.deploy("crash", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentTests.AgentInvokeTests.probeBundle())
            let reply = try await agent.invoke("crash", #"{"print":["last words"],"exit":7}"#)
            #expect(reply.header("X-Cella-Outcome") == "crash")
            #expect(reply.json["errorType"] as? String == "Runtime.ExitError")
            #expect((reply.json["errorMessage"] as? String)?.hasSuffix("Runtime exited with error: exit status 7") == true, "\(reply.body)")
            #expect((reply.json["logTail"] as? [String])?.contains("last words") == true)
            let next = try await agent.invoke("crash")
            #expect(next.header("X-Cella-Outcome") == "success")
            #expect(next.header("X-Cella-Start") == "cold")
        }
    }
}
}
