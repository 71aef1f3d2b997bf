import CellaAgent
import CellaBundles
import Foundation
import Testing

/// An agent given a node token answers nobody without it, and a standalone agent without one
/// stays open.
extension AgentTests {
@Suite struct AgentTokenTests {
    static let token = "node-token-0123456789abcdef"

    @Test func everyCallButHealthNeedsTheNodeToken() async throws {
        try await withAgent(configure: { $0.apiToken = Self.token }) { agent in
            #expect(try await agent.request(.GET, "/v1/health").status == 200, "probes need no token")
            let bearer = [("Authorization", "Bearer \(Self.token)")]
            for (headers, what) in [([], "no credentials"), ([("Authorization", "Bearer node-token-0123456789abcdeX")], "a wrong token"),
                                    ([("Authorization", "Bearer \(Self.token)x")], "the token with a byte more"),
                                    ([("Authorization", Self.token)], "the token without its scheme")] {
                let stats = try await agent.request(.GET, "/v1/stats", headers: headers)
                #expect(stats.status == 401 && stats.header("X-Cella-Error") == "Unauthorized", "\(what): \(stats.status) \(stats.body)")
            }
            // Nothing a refused call sends is acted on: the bundle is not stored, nothing deploys or runs.
            let bundle = try AgentTests.AgentInvokeTests.probeBundle()
            let digest = BundleDigest(of: bundle).description
            #expect(try await agent.request(.PUT, "/v1/bundles/\(digest)", body: bundle).status == 401)
            #expect(try await agent.request(.HEAD, "/v1/bundles/\(digest)", headers: bearer).status == 404)
            #expect(try await agent.request(.POST, "/v1/drain").status == 401)
            #expect(!agent.agent.isDraining)
            #expect(try await agent.invoke("fn").status == 401)

            #expect(try await agent.request(.GET, "/v1/stats", headers: bearer).status == 200)
            #expect(try await agent.request(.PUT, "/v1/bundles/\(digest)", body: bundle, headers: bearer).status == 201)
        }
    }

    @Test func withoutATokenTheAPIIsOpen() async throws {
        try await withAgent { agent in
            let stats = try await agent.request(.GET, "/v1/stats")
            #expect(stats.status == 200, "\(stats.body)")
        }
    }
}
}
