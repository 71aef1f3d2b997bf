import CellaModel
@testable import CellaController
import Testing

@Suite struct NodeRegistryTests {
    static func beat(inFlight: Int = 0, warm: [String] = [], draining: Bool = false) -> NodeHeartbeat {
        NodeHeartbeat(address: "http://10.0.0.1:9100", memoryBudgetBytes: 4 << 30, memoryReservedBytes: 0,
                      inFlight: inFlight, warm: warm, templates: [], bundles: [], draining: draining)
    }

    @Test func aSilentNodeDiesAfterThreeSecondsAndIsForgotten() {
        let r = NodeRegistry()
        _ = r.heartbeat(id: "n1", Self.beat(), nowMs: 10_000)
        _ = r.heartbeat(id: "n2", Self.beat(), nowMs: 10_000)
        _ = r.setDeployed(node: "n1", key: "t/f:1", replacing: nil)
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 12_000).nodes.count == 2)
        _ = r.heartbeat(id: "n2", Self.beat(), nowMs: 12_500)
        #expect(r.reap(nowMs: 13_000).isEmpty)
        #expect(r.reap(nowMs: 13_001) == ["n1"])
        #expect(r.reap(nowMs: 13_002).isEmpty, "a death is reported once")
        #expect(!r.isDeployed(node: "n1", key: "t/f:1"))
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 13_001).nodes == ["n2"])
        // It comes back with its next heartbeat.
        _ = r.heartbeat(id: "n1", Self.beat(), nowMs: 14_000)
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 14_000).nodes.count == 2)
    }

    @Test func answersKeepANodeAliveWhoseHeartbeatsAreLate() {
        let r = NodeRegistry()
        _ = r.heartbeat(id: "n1", Self.beat(), nowMs: 10_000)
        r.begin(node: "n1", key: "t/f:1", bytes: 1)
        r.end(node: "n1", key: "t/f:1", bytes: 1, idleAfter: true, nowMs: 12_500)
        #expect(r.reap(nowMs: 15_000).isEmpty, "an answer 2.5 s after the beat is a sign of life")
        #expect(r.list(nowMs: 15_000).first?.live == true)
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 15_000).nodes == ["n1"])
        // A failed call (no answer) is not.
        r.begin(node: "n1", key: "t/f:1", bytes: 1)
        r.end(node: "n1", key: "t/f:1", bytes: 1, idleAfter: false, answered: false, nowMs: 15_400)
        #expect(r.reap(nowMs: 15_501) == ["n1"])
        #expect(r.list(nowMs: 15_501).first?.live == false)
    }

    @Test func aFreshBeatFromTheStoreRevivesADeadNode() {
        let other = NodeRegistry()
        let here = NodeRegistry()
        here.merge([other.heartbeat(id: "n1", Self.beat(), nowMs: 10_000)], nowMs: 10_000)
        #expect(here.reap(nowMs: 14_000) == ["n1"])
        // A stale record changes nothing; a fresh one (heard by the other controller) revives it.
        here.merge([other.heartbeat(id: "n1", Self.beat(), nowMs: 10_500)], nowMs: 14_100)
        #expect(here.list(nowMs: 14_100).first?.live == false)
        here.merge([other.heartbeat(id: "n1", Self.beat(), nowMs: 14_200)], nowMs: 14_300)
        #expect(here.list(nowMs: 14_300).first?.live == true)
        #expect(here.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 14_300).nodes == ["n1"])
    }

    @Test func agentPathSegmentsArePercentEncoded() {
        #expect(AgentClient.escape("acme-1_x.y~Z9") == "acme-1_x.y~Z9")
        #expect(AgentClient.escape("$LATEST") == "%24LATEST")
        #expect(AgentClient.escape("a b/\u{00fc}") == "a%20b%2F%C3%BC")
        #expect(AgentClient.path("t", "f n", "latest-r1") == "/v1/functions/t/f%20n/latest-r1")
    }

    @Test func operatorDrainSurvivesHeartbeatsAndAgentDrainCounts() {
        let r = NodeRegistry()
        _ = r.heartbeat(id: "n1", Self.beat(), nowMs: 1000)
        _ = r.heartbeat(id: "n2", Self.beat(), nowMs: 1000)
        r.setDraining("n1", true)
        let record = r.heartbeat(id: "n1", Self.beat(), nowMs: 1500)
        #expect(record.draining)
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 1500).nodes == ["n2"])
        _ = r.heartbeat(id: "n2", Self.beat(draining: true), nowMs: 1600)
        let (nodes, anyLive) = r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 1600)
        #expect(nodes.isEmpty && !anyLive)
    }

    @Test func idleInstancesSeenHereAttractTheNextInvocation() {
        let r = NodeRegistry()
        for id in ["a", "b", "c", "d"] { _ = r.heartbeat(id: id, Self.beat(), nowMs: 1000) }
        let first = r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 1000).nodes[0]
        let other = ["a", "b", "c", "d"].first { $0 != first }!
        r.begin(node: other, key: "t/f:1", bytes: 1)
        r.end(node: other, key: "t/f:1", bytes: 1, idleAfter: true, nowMs: 1100)
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 1100).nodes[0] == other)
        // Taken by the next invocation: no longer idle.
        r.begin(node: other, key: "t/f:1", bytes: 1)
        #expect(r.candidates(key: "t/f:1", memoryBytes: 1, nowMs: 1100).nodes[0] == first)
    }

    @Test func aDeployOfANewLatestRevisionRetiresTheOldOnes() {
        let r = NodeRegistry()
        _ = r.heartbeat(id: "n", Self.beat(), nowMs: 1000)
        #expect(r.setDeployed(node: "n", key: "t/f:latest-r1", replacing: "t/f:latest-r").isEmpty)
        _ = r.setDeployed(node: "n", key: "t/f:1", replacing: nil)
        #expect(r.setDeployed(node: "n", key: "t/f:latest-r2", replacing: "t/f:latest-r") == ["t/f:latest-r1"])
        #expect(r.isDeployed(node: "n", key: "t/f:1"))
    }
}

@Suite struct LambdaNameTests {
    @Test(arguments: [
        ("fn", "fn", nil), ("fn:3", "fn", "3"), ("fn:prod", "fn", "prod"),
        ("arn:aws:lambda:us-east-1:acme:function:fn", "fn", nil),
        ("arn:aws:lambda:us-east-1:acme:function:fn:7", "fn", "7"),
        ("acme:function:fn:live", "fn", "live"),
    ] as [(String, String, String?)])
    func parses(raw: String, name: String, qualifier: String?) throws {
        let (n, q) = try LambdaAPI.parseName(raw, tenant: "acme")
        #expect(n == name && q == qualifier)
    }

    @Test func anotherTenantsArnIsNotFound() {
        #expect { try LambdaAPI.parseName("arn:aws:lambda:us-east-1:other:function:fn", tenant: "acme") } throws: {
            ($0 as? ControllerError)?.code == .notFound
        }
    }

    @Test(arguments: ["", "fn:", "a:b:c:d:e", "arn:aws:s3:::bucket", "f n"])
    func rejectsMalformed(raw: String) {
        #expect { try LambdaAPI.parseName(raw, tenant: "acme") } throws: { ($0 as? ControllerError)?.code == .invalidRequest }
    }
}
