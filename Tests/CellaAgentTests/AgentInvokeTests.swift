import CellaAgent
import CellaModel
import Foundation
import Testing

/// Functions on real runtimes, deployed to a running agent and invoked over its HTTP API.
extension AgentTests {
@Suite struct AgentInvokeTests {
    static func probeBundle() throws -> [UInt8] {
        try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("agent-probe"))
    }

    @Test func pythonResultRoundTripsAndTheSecondCallReusesTheInstance() async throws {
        try await withAgent { agent in
            let deployed = try await agent.deploy("probe", runtime: "python3.11", handler: "app.handler", bundle: try Self.probeBundle()) {
                $0.memoryMB = 256
                $0.timeoutSeconds = 7
            }
            #expect(deployed.status == 200, "\(deployed.body)")
            let first = try await agent.invoke("probe", #"{"hello":"world"}"#)
            #expect(first.status == 200, "\(first.body)")
            #expect(first.header("X-Cella-Outcome") == "success")
            #expect(first.header("X-Cella-Start") == "cold")
            #expect(first.header("X-Cella-Init-Duration-Ms") != nil)
            let body = first.json
            #expect((body["event"] as? [String: Any])?["hello"] as? String == "world")
            #expect(body["function_name"] as? String == "probe")
            #expect(body["memory_limit_in_mb"] as? Int == 256)
            #expect(body["request_id"] as? String == first.header("X-Cella-Request-Id"))
            let remaining = body["remaining_ms"] as? Int ?? 0
            #expect(remaining > 5000 && remaining <= 7000, "remaining time \(remaining) ms of a 7 s timeout")
            #expect(body["uid"] as? Int == 1000)

            let second = try await agent.invoke("probe", #"{"n":2}"#)
            #expect(second.header("X-Cella-Start") == "warm")
            #expect(second.header("X-Cella-Init-Duration-Ms") == nil)
            #expect(second.json["instance"] as? String == body["instance"] as? String, "the warm call ran in another process")
            #expect(second.json["request_id"] as? String != body["request_id"] as? String)
        }
    }

    @Test func functionErrorsComeBackAsResultsWithTheirType() async throws {
        try await withAgent { agent in
            try await agent.deploy("probe", runtime: "python3.11", handler: "app.handler", bundle: try Self.probeBundle())
            let reply = try await agent.invoke("probe", #"{"raise":"boom"}"#)
            #expect(reply.status == 200)
            #expect(reply.header("X-Cella-Outcome") == "error")
            #expect(reply.header("X-Cella-Function-Error") == "ValueError")
            #expect(reply.json["errorType"] as? String == "ValueError")
            #expect(reply.json["errorMessage"] as? String == "boom")
            // The runtime survives a function error: the next call is warm.
            #expect(try await agent.invoke("probe").header("X-Cella-Start") == "warm")
        }
    }

    @Test func logsAreCapturedPerRequestWithLambdasPlatformLines() async throws {
        try await withAgent { agent in
            try await agent.deploy("probe", runtime: "python3.11", handler: "app.handler", bundle: try Self.probeBundle())
            let reply = try await agent.invoke(
                "probe", #"{"print":["line one","line two"]}"#, headers: [("X-Cella-Log-Type", "Tail")])
            let id = try #require(reply.header("X-Cella-Request-Id"))
            let tail = String(decoding: Data(base64Encoded: reply.header("X-Cella-Log-Result") ?? "") ?? Data(), as: UTF8.self)
            let lines = tail.split(separator: "\n").map(String.init)
            #expect(lines.first == "START RequestId: \(id) Version: 1")
            #expect(lines.contains("line one") && lines.contains("line two"))
            #expect(lines.contains("END RequestId: \(id)"))
            #expect(lines.last?.hasPrefix("REPORT RequestId: \(id)\tDuration: ") == true, "\(lines)")
            #expect(lines.last?.contains("Init Duration: ") == true)

            let other = try await agent.invoke("probe", #"{"print":["someone else"]}"#)
            let logs = try await agent.request(.GET, "/v1/functions/t1/probe/1/logs?requestId=\(id)")
            let texts = ((try JSONSerialization.jsonObject(with: Data(logs.body.utf8))) as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            #expect(texts.contains("line one") && texts.contains("line two"))
            #expect(!texts.contains("someone else"), "another request's line in \(id)'s log")
            #expect(other.status == 200)

            let records = try await agent.request(.GET, "/v1/records")
            let entries = (try JSONSerialization.jsonObject(with: Data(records.body.utf8))) as? [[String: Any]] ?? []
            let record = try #require(entries.compactMap { $0["record"] as? [String: Any] }.first { $0["requestId"] as? String == id })
            #expect(record["outcome"] as? String == "success")
            #expect(record["billedDurationMs"] as? Int ?? 0 >= 1)
            #expect(record["initDurationMs"] != nil)
            #expect(record["maxMemoryUsedBytes"] as? Int ?? 0 > 1 << 20)
        }
    }

    @Test func awslambdaricRunsAnUnmodifiedHandler() async throws {
        let dir = try AgentFixtures.awslambdaricDirectory()
        try await withAgent { agent in
            let deployed = try await agent.deploy("ric", runtime: "python3.11", handler: "app.handler",
                                                  bundle: try AgentFixtures.zip(directory: dir))
            #expect(deployed.status == 200, "\(deployed.body)")
            let reply = try await agent.invoke("ric", #"{"from":"awslambdaric"}"#)
            #expect(reply.status == 200)
            #expect(reply.header("X-Cella-Outcome") == "success", "\(reply.body)")
            #expect(reply.body.contains("awslambdaric"), "\(reply.body)")
            #expect(try await agent.invoke("ric").header("X-Cella-Start") == "warm")
        }
    }

    @Test func aShellBootstrapRunsUnderProvided() async throws {
        try await withAgent { agent in
            let deployed = try await agent.deploy("shell", runtime: "provided",
                                                  bundle: try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("provided")))
            #expect(deployed.status == 200, "\(deployed.body)")
            let reply = try await agent.invoke("shell", #"{"echo":"from sh"}"#)
            #expect(reply.header("X-Cella-Outcome") == "success", "\(reply.body)")
            #expect(reply.body.contains("from sh"), "\(reply.body)")
        }
    }

    /// A runtime that reports an error without `Lambda-Runtime-Function-Error-Type`: the type
    /// is read from the error object (after fields of other kinds).
    @Test func anErrorWithoutItsTypeHeaderIsTypedFromItsBody() async throws {
        try await withAgent { agent in
            let deployed = try await agent.deploy("untyped", runtime: "provided", handler: "fail-untyped",
                                                  bundle: try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("provided")))
            #expect(deployed.status == 200, "\(deployed.body)")
            let reply = try await agent.invoke("untyped", "{}")
            #expect(reply.header("X-Cella-Outcome") == "error", "\(reply.body)")
            #expect(reply.header("X-Cella-Function-Error") == "BodyError", "\(reply.headers)")
            #expect(reply.json["errorMessage"] as? String == "no header", "\(reply.body)")
        }
    }

    @Test func anImportErrorIsAnInitErrorWithTheRuntimesType() async throws {
        try await withAgent { agent in
            try await agent.deploy("broken", runtime: "python3.11", handler: "app.handler",
                                   bundle: try AgentFixtures.zip(directory: AgentFixtures.functionDirectory("agent-broken")))
            let reply = try await agent.invoke("broken")
            #expect(reply.status == 200)
            #expect(reply.header("X-Cella-Outcome") == "init_error")
            #expect(reply.json["errorType"] as? String == "Runtime.ImportModuleError", "\(reply.body)")

            try await agent.deploy("nohandler", runtime: "python3.11", handler: "app.missing", bundle: try Self.probeBundle())
            let missing = try await agent.invoke("nohandler")
            #expect(missing.header("X-Cella-Outcome") == "init_error")
            #expect(missing.json["errorType"] as? String == "Runtime.HandlerNotFound", "\(missing.body)")
        }
    }
}
}
