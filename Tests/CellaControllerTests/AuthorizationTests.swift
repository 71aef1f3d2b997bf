import Foundation
import CellaController
import NIOHTTP1
import Testing

/// Every route authorizes through the policy engine: for each one, a principal without the
/// permission is denied (403, naming the action), a principal with exactly that permission is
/// allowed, and a principal of another tenant — even one allowed everything there — gets 404.
@Suite struct AuthorizationTests {
    struct Route: Sendable {
        var method: HTTPMethod
        var path: String
        var body: String?
        var action: String
        /// Whether another tenant's view is a 404 (false for routes that act only on the caller's own
        /// tenant, such as listing or creating, where another tenant sees its own empty world).
        var crossTenant404 = true
        var headers: [(String, String)] = []
        /// What an allowed call answers when not 2xx (prepare without a node: 503 NoNodes).
        var allowedStatus: Int? = nil
    }

    static func key(_ c: RunningController, tenant: String, principal: String, policy: String?) async throws -> String {
        let h = [("X-Cella-Tenant", tenant)]
        #expect(try await c.json(.POST, "/v1/principals", ["name": principal], headers: h).status == 201)
        if let policy {
            #expect(try await c.request(.PUT, "/v1/policies/\(principal)-policy", body: Array(policy.utf8), headers: h).status == 200)
            #expect(try await c.request(.PUT, "/v1/policies/\(principal)-policy/attachments/\(principal)", headers: h).status == 204)
        }
        let made = try await c.json(.POST, "/v1/principals/\(principal)/keys", [:], headers: h)
        #expect(made.status == 201, "\(made.body)")
        return try #require(made.json["key"] as? String)
    }

    static func allow(_ action: String, _ resource: String = "crn:cella:acme:*") -> String {
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"\#(action)","Resource":"\#(resource)"}]}"#
    }

    /// The node token opens the node routes and nothing else — not even what a principal that
    /// happens to be named `node` may do — and the operator token no longer stands in for it.
    @Test func theNodeTokenOpensTheNodeRoutesOnly() async throws {
        let nodeToken = "test-node-token-0123456789"
        try await withController(configure: { $0.nodeToken = nodeToken }) { c in
            let node = [("Authorization", "Bearer \(nodeToken)")]
            let beat = #"{"address":"http://127.0.0.1:1","memoryBudgetBytes":1073741824,"memoryReservedBytes":0,"inFlight":0,"warm":[],"templates":[],"bundles":[],"draining":false}"#
            let ok = try await c.request(.POST, "/v1/nodes/n1/heartbeat", body: Array(beat.utf8), headers: node, auth: false)
            #expect(ok.status == 200, "\(ok.body)")
            let telemetry = try await c.request(.POST, "/v1/nodes/n1/telemetry", body: Array(#"{"records":[],"logs":[]}"#.utf8), headers: node, auth: false)
            #expect(telemetry.status == 204, "\(telemetry.body)")
            // A principal named like the node caller, allowed everything in the default tenant.
            _ = try await Self.key(c, tenant: "default", principal: "node",
                                   policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            #expect(try await ControllerAPITests.create(c, "fn").status == 201)
            for (method, path, body) in [(HTTPMethod.GET, "/v1/nodes", nil), (.GET, "/v1/tenants", nil), (.GET, "/v1/functions", nil),
                                         (.GET, "/v1/functions/fn", nil), (.POST, "/v1/functions/fn/invoke", "{}"),
                                         (.POST, "/2015-03-31/functions/fn/invocations", "{}"), (.GET, "/v1/principals", nil),
                                         (.POST, "/v1/bundles", "PK"), (.GET, "/v1/top", nil)] as [(HTTPMethod, String, String?)] {
                let reply = try await c.request(method, path, body: body.map { Array($0.utf8) }, headers: node, auth: false)
                #expect(reply.status == 403, "\(method) \(path) with the node token: \(reply.status) \(reply.body)")
            }
            // The operator may still do everything, heartbeats included.
            #expect(try await c.request(.POST, "/v1/nodes/n1/heartbeat", body: Array(beat.utf8)).status == 200)
        }
    }

    @Test func everyRouteIsAuthorized() async throws {
        try await withController { c in
            #expect(try await c.json(.POST, "/v1/tenants", ["id": "acme"]).status == 201)
            #expect(try await c.json(.POST, "/v1/tenants", ["id": "other"]).status == 201)
            let acme = [("X-Cella-Tenant", "acme")]
            let digest = try #require(try await c.request(.POST, "/v1/bundles", body: ControllerAPITests.zip).json["digest"] as? String)
            #expect(try await c.json(.POST, "/v1/functions", ["config": ["name": "fn", "runtime": "python3.11", "handler": "app.handler"],
                                                              "codeDigest": digest], headers: acme).status == 201)
            #expect(try await c.json(.POST, "/v1/functions/fn/versions", [:], headers: acme).status == 201)
            #expect(try await c.json(.PUT, "/v1/functions/fn/aliases/keep", ["version": "1"], headers: acme).status == 200)
            let queued = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array("{}".utf8),
                                             headers: acme + [("X-Cella-Invocation-Type", "Event")])
            let invocation = try #require(queued.json["invocationId"] as? String)
            #expect(try await c.json(.POST, "/v1/principals", ["name": "target"], headers: acme).status == 201)
            #expect(try await c.request(.PUT, "/v1/policies/shared", body: Array(Self.allow("cella:GetFunction").utf8), headers: acme).status == 200)

            let nobody = try await Self.key(c, tenant: "acme", principal: "nobody", policy: nil)
            let spy = try await Self.key(c, tenant: "other", principal: "spy",
                                         policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            let doc = Self.allow("cella:GetFunction")
            let routes: [Route] = [
                Route(method: .GET, path: "/v1/functions", action: "ListFunctions", crossTenant404: false),
                Route(method: .GET, path: "/v1/functions/fn", action: "GetFunction"),
                Route(method: .PUT, path: "/v1/functions/fn/config", body: #"{"memoryMB":256}"#, action: "UpdateFunctionConfiguration"),
                Route(method: .PUT, path: "/v1/functions/fn/code", body: #"{"codeDigest":"\#(digest)"}"#, action: "UpdateFunctionCode"),
                Route(method: .POST, path: "/v1/functions/fn/versions", body: "{}", action: "PublishVersion"),
                Route(method: .GET, path: "/v1/functions/fn/versions", action: "ListVersions"),
                Route(method: .PUT, path: "/v1/functions/fn/aliases/a1", body: #"{"version":"1"}"#, action: "CreateAlias"),
                Route(method: .PUT, path: "/v1/functions/fn/aliases/keep", body: #"{"version":"2"}"#, action: "UpdateAlias"),
                Route(method: .GET, path: "/v1/functions/fn/aliases", action: "ListAliases"),
                Route(method: .POST, path: "/v1/functions/fn/invoke", body: "{}", action: "InvokeFunction",
                      headers: [("X-Cella-Invocation-Type", "DryRun")]),
                Route(method: .POST, path: "/2015-03-31/functions/fn/invocations", body: "{}", action: "InvokeFunction",
                      headers: [("X-Amz-Invocation-Type", "DryRun")]),
                Route(method: .POST, path: "/v1/functions/fn/prepare", action: "UpdateFunctionCode", allowedStatus: 503),
                Route(method: .GET, path: "/v1/top", action: "GetLogs", crossTenant404: false),
                Route(method: .GET, path: "/v1/functions/fn/logs", action: "GetLogs"),
                Route(method: .GET, path: "/v1/functions/fn/records", action: "GetLogs"),
                Route(method: .GET, path: "/v1/functions/fn/dead-letters", action: "GetInvocation"),
                Route(method: .GET, path: "/v1/invocations/\(invocation)", action: "GetInvocation"),
                Route(method: .POST, path: "/v1/bundles?function=fn", body: "PK\u{03}\u{04}zip", action: "UpdateFunctionCode", crossTenant404: false),
                Route(method: .POST, path: "/v1/functions", body: #"{"config":{"name":"fn2","runtime":"python3.11"},"codeDigest":"\#(digest)"}"#,
                      action: "CreateFunction", crossTenant404: false),
                Route(method: .POST, path: "/v1/principals", body: #"{"name":"newbie"}"#, action: "ManagePrincipals", crossTenant404: false),
                Route(method: .GET, path: "/v1/principals", action: "ManagePrincipals", crossTenant404: false),
                Route(method: .POST, path: "/v1/principals/target/keys", body: "{}", action: "ManageKeys"),
                Route(method: .GET, path: "/v1/keys", action: "ManageKeys", crossTenant404: false),
                Route(method: .PUT, path: "/v1/policies/made", body: doc, action: "ManagePolicies", crossTenant404: false),
                Route(method: .GET, path: "/v1/policies/shared", action: "ManagePolicies"),
                Route(method: .GET, path: "/v1/policies", action: "ManagePolicies", crossTenant404: false),
                Route(method: .PUT, path: "/v1/policies/shared/attachments/target", action: "ManagePolicies"),
                Route(method: .POST, path: "/v1/policies/simulate",
                      body: #"{"principal":"target","action":"cella:GetFunction","resource":"crn:cella:acme:function:fn"}"#, action: "SimulatePolicy"),
                Route(method: .DELETE, path: "/v1/policies/shared/attachments/target", action: "ManagePolicies"),
                Route(method: .DELETE, path: "/v1/functions/fn/aliases/keep", action: "DeleteAlias"),
                Route(method: .DELETE, path: "/v1/principals/newbie", action: "ManagePrincipals"),
                Route(method: .DELETE, path: "/v1/functions/fn", action: "DeleteFunction"),
            ]
            for (i, route) in routes.enumerated() {
                func call(_ key: String) async throws -> Cluster.Reply {
                    try await c.request(route.method, route.path, body: route.body.map { Array($0.utf8) },
                                        headers: [("Authorization", "Bearer \(key)")] + route.headers, auth: false)
                }
                let label = "\(route.method) \(route.path)"
                let denied = try await call(nobody)
                #expect(denied.status == 403, "\(label) without permission: \(denied.status) \(denied.body)")
                if route.path.hasPrefix("/2015") {
                    #expect(denied.header("X-Amzn-ErrorType") == "AccessDeniedException", "\(label)")
                } else {
                    #expect(denied.header("X-Cella-Error") == "AccessDenied", "\(label)")
                    #expect((denied.json["message"] as? String)?.contains("cella:\(route.action)") == true, "\(label): \(denied.body)")
                }
                if route.crossTenant404 {
                    let foreign = try await call(spy)
                    #expect(foreign.status == 404, "\(label) from another tenant: \(foreign.status) \(foreign.body)")
                }
                let allowed = try await Self.key(c, tenant: "acme", principal: "r\(i)", policy: Self.allow("cella:\(route.action)"))
                let ok = try await call(allowed)
                #expect((200..<300).contains(ok.status) || (route.path.hasPrefix("/v1/bundles") && ok.status == 400)
                        || ok.status == route.allowedStatus,
                        "\(label) with cella:\(route.action): \(ok.status) \(ok.body)")
                #expect(ok.status != 403 && ok.status != 401, "\(label) with cella:\(route.action): \(ok.status) \(ok.body)")
            }
        }
    }

    @Test func operatorOnlyRoutesRefuseTenantPrincipalsAndKeysCanBeRevoked() async throws {
        try await withController { c in
            let admin = try await Self.key(c, tenant: "default", principal: "boss", policy: nil)
            // A tenant admin, even, is not the operator.
            #expect(try await c.json(.POST, "/v1/principals", ["name": "root2", "admin": true]).status == 201)
            let root = try #require(try await c.json(.POST, "/v1/principals/root2/keys", [:]).json["key"] as? String)
            for (method, path) in [(HTTPMethod.GET, "/v1/nodes"), (.GET, "/v1/tenants"), (.POST, "/v1/nodes/n1/drain")] {
                for key in [admin, root] {
                    let r = try await c.request(method, path, headers: [("Authorization", "Bearer \(key)")], auth: false)
                    #expect(r.status == 403, "\(path): \(r.status)")
                }
            }
            // The tenant admin may do anything in its tenant...
            #expect(try await c.request(.GET, "/v1/functions", headers: [("Authorization", "Bearer \(root)")], auth: false).status == 200)
            // ...but not choose another tenant with X-Cella-Tenant.
            #expect(try await c.json(.POST, "/v1/tenants", ["id": "acme"]).status == 201)
            let smuggled = try await c.request(.GET, "/v1/principals", headers: [("Authorization", "Bearer \(root)"), ("X-Cella-Tenant", "acme")], auth: false)
            #expect(smuggled.status == 200 && smuggled.body.contains("root2"), "the header must not move a principal's tenant: \(smuggled.body)")
            // Revoked: refused at once; the secret never appears in listings.
            let keys = try await c.request(.GET, "/v1/keys?principal=boss")
            let id = try #require(((try JSONSerialization.jsonObject(with: Data(keys.body.utf8))) as? [[String: Any]])?.first?["id"] as? String)
            #expect(!keys.body.contains(admin) && !keys.body.contains(String(admin.suffix(20))))
            #expect(try await c.request(.DELETE, "/v1/keys/\(id)").status == 204)
            #expect(try await c.request(.GET, "/v1/functions", headers: [("Authorization", "Bearer \(admin)")], auth: false).status == 401)
        }
    }

    @Test func policyDocumentsAreValidatedWithTheirPath() async throws {
        try await withController { c in
            let bad = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cella:GetFunction","Resource":"*","Condition":{"IpAddress":{"cella:SourceIp":"10.0.0.300/8"}}}]}"#
            let r = try await c.request(.PUT, "/v1/policies/bad", body: Array(bad.utf8))
            #expect(r.status == 400, "\(r.body)")
            #expect((r.json["message"] as? String)?.contains("Statement[0].Condition") == true, "\(r.body)")
            let dup = #"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}"#
            #expect(try await c.request(.PUT, "/v1/policies/dup", body: Array(dup.utf8)).status == 400)
            #expect(try await c.request(.GET, "/v1/policies/bad").status == 404, "a refused document was kept")
        }
    }

    @Test func invokeConditionsSeeTheFunctionsTagsAndTheInvocationType() async throws {
        try await withController { c in
            let digest = try #require(try await c.request(.POST, "/v1/bundles", body: ControllerAPITests.zip).json["digest"] as? String)
            for (name, team) in [("mine", "a"), ("theirs", "b")] {
                #expect(try await c.json(.POST, "/v1/functions", ["config": ["name": name, "runtime": "python3.11"],
                                                                  "codeDigest": digest, "tags": ["team": team]]).status == 201)
            }
            let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cella:InvokeFunction","Resource":"*","#
                + #""Condition":{"StringEquals":{"cella:FunctionTag/team":"a","cella:InvocationType":"DryRun"}}}]}"#
            let key = try await Self.key(c, tenant: "default", principal: "team-a", policy: policy)
            func dryRun(_ name: String, type: String = "DryRun") async throws -> Int {
                try await c.request(.POST, "/v1/functions/\(name)/invoke", body: Array("{}".utf8),
                                    headers: [("Authorization", "Bearer \(key)"), ("X-Cella-Invocation-Type", type)], auth: false).status
            }
            #expect(try await dryRun("mine") == 204)
            #expect(try await dryRun("theirs") == 403)
            #expect(try await dryRun("mine", type: "Event") == 403)
            // A tag changed through the API is seen by the next invocation on this controller.
            #expect(try await c.json(.PUT, "/v1/functions/theirs/config", ["tags": ["team": "a"]]).status == 200)
            #expect(try await dryRun("theirs") == 204)
        }
    }

    /// Keys, principals and attached policies are cached per controller (`--identity-cache`);
    /// every change made through this controller still applies to the very next request.
    @Test func identityChangesThroughThisControllerApplyAtOnce() async throws {
        try await withController(configure: { $0.identityCacheMs = 60_000 }) { c in
            let digest = try #require(try await c.request(.POST, "/v1/bundles", body: ControllerAPITests.zip).json["digest"] as? String)
            #expect(try await c.json(.POST, "/v1/functions", ["config": ["name": "fn", "runtime": "python3.11"],
                                                              "codeDigest": digest]).status == 201)
            let key = try await Self.key(c, tenant: "default", principal: "p", policy: Self.allow("cella:InvokeFunction", "*"))
            func dryRun() async throws -> Int {
                try await c.request(.POST, "/v1/functions/fn/invoke", body: Array("{}".utf8),
                                    headers: [("Authorization", "Bearer \(key)"), ("X-Cella-Invocation-Type", "DryRun")], auth: false).status
            }
            #expect(try await dryRun() == 204)
            #expect(try await c.request(.DELETE, "/v1/policies/p-policy/attachments/p").status == 204)
            #expect(try await dryRun() == 403, "detached")
            #expect(try await c.request(.PUT, "/v1/policies/p-policy/attachments/p").status == 204)
            #expect(try await dryRun() == 204, "attached again")
            let deny = #"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"cella:InvokeFunction","Resource":"*"}]}"#
            #expect(try await c.request(.PUT, "/v1/policies/p-policy", body: Array(deny.utf8)).status == 200)
            #expect(try await dryRun() == 403, "the attached document now denies")
            #expect(try await c.request(.PUT, "/v1/policies/p-policy", body: Array(Self.allow("cella:InvokeFunction", "*").utf8)).status == 200)
            #expect(try await dryRun() == 204)
            #expect(try await c.request(.DELETE, "/v1/policies/p-policy").status == 204)
            #expect(try await dryRun() == 403, "the policy is gone")
            #expect(try await c.request(.DELETE, "/v1/principals/p").status == 204)
            #expect(try await dryRun() == 401, "the principal and its keys are gone")

            #expect(try await c.json(.POST, "/v1/tenants", ["id": "acme"]).status == 201)
            let admin = try await Self.key(c, tenant: "acme", principal: "a", policy: Self.allow("cella:ListFunctions", "*"))
            let asAdmin = [("Authorization", "Bearer \(admin)")]
            #expect(try await c.request(.GET, "/v1/functions", headers: asAdmin, auth: false).status == 200)
            #expect(try await c.request(.DELETE, "/v1/tenants/acme").status == 204)
            #expect(try await c.request(.GET, "/v1/functions", headers: asAdmin, auth: false).status == 401, "the tenant is gone")
        }
    }

    /// A change another controller makes reaches the store only: this one sees it when its cached
    /// copy expires.
    @Test func anotherControllersRevocationAppliesWithinTheCacheTime() async throws {
        for ttl: Int64 in [60_000, 300] {
            try await withController(configure: { $0.identityCacheMs = ttl }) { c in
                let key = try await Self.key(c, tenant: "default", principal: "p", policy: Self.allow("cella:ListFunctions", "*"))
                func list() async throws -> Int {
                    try await c.request(.GET, "/v1/functions", headers: [("Authorization", "Bearer \(key)")], auth: false).status
                }
                #expect(try await list() == 200)
                let id = try #require(try await c.controller.store.credentials(tenant: "default", principal: "p").first?.id)
                #expect(try await c.controller.store.revokeCredential(tenant: "default", id: id, nowMs: NodeRegistry.nowMs()))
                if ttl > 1000 {
                    // Still within the cached copy's time: the key is taken from it, not the store.
                    #expect(try await list() == 200)
                } else {
                    // The margin is for a loaded machine: with 700 ms, a run of the whole suite
                    // (all of it at once on two cores) still saw the key accepted a second after
                    // its revocation. 10 s stays far inside the first case's 60 s cache time.
                    let deadline = ContinuousClock.now + .milliseconds(Int(ttl) + 10_000)
                    var status = try await list()
                    while status == 200 && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                        status = try await list()
                    }
                    #expect(status == 401, "refused within \(ttl) ms and the margin")
                }
            }
        }
    }
}
