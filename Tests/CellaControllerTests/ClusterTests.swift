import CellaTestSupport
import Foundation
import Logging
import NIOHTTP1
import Testing

/// End to end: a controller and three agents as separate processes, each agent in its own network
/// namespace, driven over HTTP as users drive them.
@Suite(.serialized, .enabled(if: Cluster.isRoot, "needs root: namespaces, veths and sandboxes"), .timeLimit(.minutes(5)))
struct ClusterTests {
    static let probe = Cluster.repository + "/Tests/Fixtures/functions/agent-probe"

    /// Polls the async invocations `ids` (event `{"n": N}` → id) until every one has succeeded
    /// with its own event, for up to 60 s; none may be dead-lettered.
    static func expectAllSucceed(_ ids: [Int: String], _ cluster: Cluster, controller: Int = 0) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var pending = Set(ids.keys)
        while !pending.isEmpty, ContinuousClock.now < deadline {
            for n in pending.sorted() {
                let json = try await cluster.request(.GET, "/v1/invocations/\(ids[n]!)", controller: controller).json
                if json["status"] as? String == "succeeded" {
                    let event = (json["result"] as? [String: Any])?["event"] as? [String: Any]
                    #expect(event?["n"] as? Int == n, "invocation \(n) returned \(json)")
                    pending.remove(n)
                } else {
                    #expect(json["status"] as? String != "dead", "invocation \(n) dead-lettered: \(json)")
                }
            }
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(pending.isEmpty, "never executed: \(pending.sorted())")
    }

    /// The metering records of `counter`, polled (agents ship them about once a second) until
    /// there are at least `count` or 10 s have passed.
    static func meteredRecords(atLeast count: Int, _ cluster: Cluster, controller: Int = 0) async throws -> Int {
        var records = 0
        for _ in 0..<50 {
            let reply = try await cluster.request(.GET, "/v1/functions/counter/records?limit=1000", controller: controller)
            records = ((try? JSONSerialization.jsonObject(with: Data(reply.body.utf8))) as? [Any])?.count ?? 0
            if records >= count { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return records
    }

    @Test func invocationsSpreadKeepLocalityAndSurviveANodeKilled() async throws {
        try await withCluster { cluster in
            var homes: [String: String] = [:]
            for f in 0..<6 {
                let deploy = try await cluster.deploy("f\(f)", directory: Self.probe)
                #expect(deploy.status == 201, "\(deploy.body)")
            }
            for f in 0..<6 {
                var seen: Set<String> = []
                for n in 0..<3 {
                    let reply = try await cluster.invoke("f\(f)", #"{"n": \#(n)}"#)
                    #expect(reply.status == 200, "\(reply.body)")
                    #expect(reply.header("X-Cella-Outcome") == "success")
                    #expect(reply.header("X-Cella-Executed-Version") == "$LATEST")
                    if n > 0 { #expect(reply.header("X-Cella-Start") == "warm", "invocation \(n) of f\(f) was not warm") }
                    seen.insert(reply.header("X-Cella-Node") ?? "?")
                }
                #expect(seen.count == 1, "f\(f) ran on \(seen): its instances should stay together")
                homes["f\(f)"] = seen.first
            }
            #expect(Set(homes.values).count >= 2, "six functions all on one node: \(homes)")
            // The controller reached the agents with the node token; the agents take nothing else,
            // not even the operator's token (AuthorizationTests: the node token opens no operator route).
            #expect(try await cluster.agentStatus(0, "/v1/stats", token: cluster.nodeToken) == 200)
            #expect(try await cluster.agentStatus(0, "/v1/stats", token: cluster.token) == 401)
            #expect(try await cluster.agentStatus(0, "/v1/stats", token: nil) == 401)
            #expect(try await cluster.agentStatus(0, "/v1/health", token: nil) == 200)

            // Kill f0's node. Its next invocation goes elsewhere at once (the connection is
            // refused before the agent accepts anything), and the node is dead within 3 s.
            let victim = try #require(homes["f0"])
            let index = try #require(Int(victim.dropFirst("node-".count)))
            let killed = ContinuousClock.now
            cluster.kill(agent: index)
            let moved = try await cluster.invoke("f0", #"{"after": "kill"}"#)
            #expect(moved.status == 200, "\(moved.body)")
            #expect(moved.header("X-Cella-Node") != victim)
            var deadAfter: Duration?
            while ContinuousClock.now - killed < .seconds(6) {
                let status = try await cluster.nodes().first { $0["id"] as? String == victim }?["status"] as? String
                if status == "dead" { deadAfter = ContinuousClock.now - killed; break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let after = try #require(deadAfter, "\(victim) was never marked dead")
            #expect(after <= .milliseconds(3200), "\(victim) marked dead only after \(after)")
            for f in 0..<6 {
                let reply = try await cluster.invoke("f\(f)")
                #expect(reply.status == 200 && reply.header("X-Cella-Node") != victim, "f\(f): \(reply.status) on \(reply.header("X-Cella-Node") ?? "?")")
            }
            // Back with the same id: its restart removes what the killed run left, and it is live again.
            try cluster.startAgent(index)
            try await cluster.waitLive(3)
        }
    }

    @Test func asyncInvocationsSurviveAControllerKilledAndRestarted() async throws {
        try await withCluster(agents: 2) { cluster in
            #expect(try await cluster.deploy("counter", directory: Self.probe).status == 201)
            var ids: [Int: String] = [:]
            func submit(_ n: Int) async throws {
                let reply = try await cluster.invoke("counter", #"{"n": \#(n)}"#, headers: [("X-Cella-Invocation-Type", "Event")])
                #expect(reply.status == 202, "\(reply.body)")
                ids[n] = try #require(reply.json["invocationId"] as? String)
            }
            for n in 0..<20 { try await submit(n) }
            cluster.killController()
            try cluster.startController()
            try await cluster.waitHealthy()
            for n in 20..<30 { try await submit(n) }

            // Every one runs to success, none lost; each result is its own event.
            try await Self.expectAllSucceed(ids, cluster)
            // Executions metered: at least one per invocation (at-least-once allows repeats only
            // for the ones the killed controller held).
            let records = try await Self.meteredRecords(atLeast: 30, cluster)
            #expect(records >= 30 && records <= 50, "\(records) executions metered for 30 invocations")
        }
    }

    /// Several controllers on one PostgreSQL database (cluster mode), each agent heartbeating to
    /// one of them: each controller sees and places on the other's nodes, a function made
    /// through one runs through the other, an idempotency key dedupes across them, and async
    /// invocations submitted to both, with one SIGKILLed midway, all run.
    @Test func twoControllersShareOnePostgreSQLDatabase() async throws {
        let logger = Logger(label: "cella.cluster-test")
        let target = try await PostgresServer.createDatabase(logger: logger)
        let url = "postgres://postgres@127.0.0.1:\(target.port)/\(target.database)?sslmode=disable"
        let outcome: Result<Void, any Error>
        do {
            try await withCluster(agents: 2, controllers: 2, store: url) { cluster in
                // Both controllers see both nodes live (withCluster waited for that), though each
                // heard the heartbeats of one.
                for c in 0..<2 {
                    let ids = try await cluster.nodes(controller: c).compactMap { $0["id"] as? String }.sorted()
                    #expect(ids == ["node-0", "node-1"], "controller \(c): \(ids)")
                }
                #expect(try await cluster.deploy("counter", directory: Self.probe).status == 201)
                for n in 0..<4 {
                    let reply = try await cluster.invoke("counter", #"{"n": \#(n)}"#, controller: 1)
                    #expect(reply.status == 200, "\(reply.body)")
                    #expect(reply.header("X-Cella-Node")?.hasPrefix("node-") == true)
                }

                // One idempotency key, two controllers: one invocation.
                let key = [("X-Cella-Invocation-Type", "Event"), ("X-Cella-Idempotency-Key", "once")]
                let first = try await cluster.invoke("counter", #"{"n": -1}"#, headers: key, controller: 0)
                let second = try await cluster.invoke("counter", #"{"n": -1}"#, headers: key, controller: 1)
                #expect(first.status == 202 && second.status == 202)
                #expect(first.json["invocationId"] as? String == second.json["invocationId"] as? String)
                #expect(second.json["duplicate"] as? String == "true", "\(second.body)")

                var ids: [Int: String] = [:]
                func submit(_ n: Int, to c: Int) async throws {
                    let reply = try await cluster.invoke("counter", #"{"n": \#(n)}"#, headers: [("X-Cella-Invocation-Type", "Event")], controller: c)
                    #expect(reply.status == 202, "\(reply.body)")
                    ids[n] = try #require(reply.json["invocationId"] as? String)
                }
                for n in 0..<20 { try await submit(n, to: n % 2) }
                cluster.killController(0)
                for n in 20..<30 { try await submit(n, to: 1) }

                try await Self.expectAllSucceed(ids, cluster, controller: 1)
                // Metered: the 4 sync, the deduped one, the 30 (repeats only for those the killed
                // controller held when it died). node-0 ships its records to controller 0: those
                // it had not shipped when that controller died wait on the node (its cursor moves
                // only on acceptance) and arrive once the controller is back.
                try cluster.startController(0)
                try await cluster.waitHealthy(0)
                // node-0 beats to controller 0 again; controller 1, which declared it dead, takes
                // it back from the store.
                try await cluster.waitLive(2)
                let records = try await Self.meteredRecords(atLeast: 35, cluster, controller: 1)
                #expect(records >= 35 && records <= 50, "\(records) executions metered for 35 invocations")
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        try? await PostgresServer.dropDatabase(target, logger: logger)
        try outcome.get()
    }

    @Test func asyncFailuresAreRetriedThenDeadLettered() async throws {
        try await withCluster(agents: 1) { cluster in
            #expect(try await cluster.deploy("failing", directory: Self.probe).status == 201)
            let reply = try await cluster.invoke("failing", #"{"raise": "boom"}"#, headers: [("X-Cella-Invocation-Type", "Event")])
            let id = try #require(reply.json["invocationId"] as? String)
            // The same idempotency key twice queues one invocation.
            let keyed = [("X-Cella-Invocation-Type", "Event"), ("X-Cella-Idempotency-Key", "k1")]
            let first = try await cluster.invoke("failing", #"{"n": 1}"#, headers: keyed)
            let second = try await cluster.invoke("failing", #"{"n": 1}"#, headers: keyed)
            #expect(first.json["invocationId"] as? String == second.json["invocationId"] as? String)
            #expect(second.json["duplicate"] as? String == "true")
            var json: [String: Any] = [:]
            for _ in 0..<100 {
                json = try await cluster.request(.GET, "/v1/invocations/\(id)").json
                if json["status"] as? String == "dead" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(json["status"] as? String == "dead", "\(json)")
            #expect(json["attempts"] as? Int == 3, "2 retries by default: \(json)")
            #expect((json["error"] as? String)?.hasPrefix("ValueError") == true, "the last error names the function's error type: \(json)")
            #expect((json["result"] as? [String: Any])?["errorMessage"] as? String == "boom")
            let dead = try await cluster.request(.GET, "/v1/functions/failing/dead-letters")
            #expect(dead.body.contains(id))
        }
    }

    @Test func boto3InvokesThroughTheLambdaCompatiblePath() async throws {
        try await withCluster(agents: 1) { cluster in
            #expect(try await cluster.deploy("hello", directory: Self.probe).status == 201)
            // An access key of a principal allowed only to invoke, used by boto3's own SigV4 signer.
            #expect(try await cluster.json(.POST, "/v1/principals", ["name": "sdk", "kind": "service-account"]).status == 201)
            let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"crn:cella:default:function:*"}]}"#
            #expect(try await cluster.request(.PUT, "/v1/policies/invoke-only", body: Array(policy.utf8)).status == 200)
            #expect(try await cluster.request(.PUT, "/v1/policies/invoke-only/attachments/sdk").status == 204)
            let key = try await cluster.json(.POST, "/v1/principals/sdk/keys", ["kind": "access-key"]).json
            let keyId = try #require(key["accessKeyId"] as? String), secret = try #require(key["secretAccessKey"] as? String)
            let script = """
                import boto3, json, sys
                from botocore.config import Config
                from botocore.exceptions import ClientError
                def client(secret):
                    return boto3.client("lambda", endpoint_url=sys.argv[1], region_name="local",
                                        aws_access_key_id=sys.argv[2], aws_secret_access_key=secret,
                                        config=Config(retries={"max_attempts": 1}))
                c = client(sys.argv[3])
                out = {}
                r = c.invoke(FunctionName="hello", Payload=json.dumps({"print": ["from boto3"], "x": 1}), LogType="Tail")
                out["ok"] = {"status": r["StatusCode"], "version": r["ExecutedVersion"],
                             "payload": json.loads(r["Payload"].read()), "error": r.get("FunctionError"),
                             "log": __import__("base64").b64decode(r["LogResult"]).decode()}
                r = c.invoke(FunctionName="hello", Payload=json.dumps({"raise": "nope"}))
                out["failed"] = {"status": r["StatusCode"], "error": r.get("FunctionError"), "payload": json.loads(r["Payload"].read())}
                r = c.invoke(FunctionName="hello", InvocationType="Event", Payload=b"{}")
                out["event"] = r["StatusCode"]
                r = c.invoke(FunctionName="hello", InvocationType="DryRun")
                out["dry"] = r["StatusCode"]
                try:
                    c.invoke(FunctionName="missing", Payload=b"{}")
                except ClientError as e:
                    out["missing"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
                try:
                    c.invoke(FunctionName="hello", Payload=b"not json")
                except ClientError as e:
                    out["badjson"] = e.response["Error"]["Code"]
                try:
                    client("wrong-secret").invoke(FunctionName="hello", Payload=b"{}")
                except ClientError as e:
                    out["badsig"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
                print(json.dumps(out))
                """
            let run = Command.run(["/usr/bin/env", "python3", "-c", script, cluster.baseURL, keyId, secret])
            #expect(run.status == 0, "boto3 script failed: \(run.stderr.suffix(2000))")
            let data = Data(run.stdout.utf8)
            let out = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(run.stdout)")
            let ok = try #require(out["ok"] as? [String: Any])
            #expect(ok["status"] as? Int == 200)
            #expect(ok["version"] as? String == "$LATEST")
            #expect(ok["error"] is NSNull || ok["error"] == nil)
            #expect(((ok["payload"] as? [String: Any])?["event"] as? [String: Any])?["x"] as? Int == 1)
            #expect((ok["log"] as? String)?.contains("from boto3") == true, "\(ok)")
            #expect((ok["log"] as? String)?.contains("REPORT RequestId:") == true)
            let failed = try #require(out["failed"] as? [String: Any])
            #expect(failed["status"] as? Int == 200, "a function error is still 200")
            #expect(failed["error"] as? String == "Unhandled")
            #expect((failed["payload"] as? [String: Any])?["errorMessage"] as? String == "nope")
            #expect(out["event"] as? Int == 202)
            #expect(out["dry"] as? Int == 204)
            #expect((out["missing"] as? [Any])?.first as? String == "ResourceNotFoundException")
            #expect((out["missing"] as? [Any])?.last as? Int == 404)
            #expect(out["badjson"] as? String == "InvalidRequestContentException")
            #expect((out["badsig"] as? [Any])?.first as? String == "InvalidSignatureException", "\(out)")
            #expect((out["badsig"] as? [Any])?.last as? Int == 403)
        }
    }
}
