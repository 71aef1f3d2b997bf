import CellaAuth
import CellaIAM
import CellaModel
import CellaStore
import Crypto
import Foundation
import Hummingbird
import NIOCore

/// Principals, their credentials, and policies, inside the caller's tenant. Each route is
/// authorized like any other (`cella:ManagePrincipals`, `cella:ManageKeys`,
/// `cella:ManagePolicies`, `cella:SimulatePolicy`); secrets are shown once, when made.
enum IdentityAPI {
    static func principal(_ c: Caller, _ name: String) -> String { "crn:cella:\(c.tenant):principal:\(name)" }
    static func policy(_ c: Caller, _ name: String) -> String { "crn:cella:\(c.tenant):policy:\(name)" }
    static func key(_ c: Caller, _ id: String) -> String { "crn:cella:\(c.tenant):key:\(id)" }

    struct PrincipalBody: Decodable {
        var name: String
        var kind: PrincipalRecord.Kind?
        var tags: [String: String]?
        var admin: Bool?
    }

    struct KeyBody: Decodable {
        /// `api-key` (default) or `access-key`.
        var kind: CredentialRecord.Kind?
        var expiresInSeconds: Int64?
    }

    /// A credential as listed: never its secret.
    struct KeyView: Encodable {
        var id: String
        var kind: String
        var principal: String
        var createdAtMs: Int64
        var expiresAtMs: Int64?
        var revokedAtMs: Int64?
        init(_ r: CredentialRecord) {
            id = r.id
            kind = r.kind.rawValue
            principal = r.principal
            createdAtMs = r.createdAtMs
            expiresAtMs = r.expiresAtMs
            revokedAtMs = r.revokedAtMs
        }
    }

    static func add(to router: Router<ControllerContext>, _ controller: Controller) {
        let auth = controller.authenticator
        let store = controller.store

        router.post("/v1/principals") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let body = try await Responses.decode(PrincipalBody.self, from: &request)
                do throws(ModelError) { try FunctionConfig.validateName(body.name) } catch { throw ControllerError.invalid(error) }
                try await auth.authorize(caller, .managePrincipals, principal(caller, body.name))
                if body.admin == true, !caller.isOperator, !caller.isTenantAdmin {
                    throw ControllerError(.accessDenied, "only a tenant admin or the operator may make an admin")
                }
                let record = PrincipalRecord(tenant: caller.tenant, name: body.name, kind: body.kind ?? .user,
                                             tags: body.tags ?? [:], isAdmin: body.admin ?? false, createdAtMs: NodeRegistry.nowMs())
                try await store.createPrincipal(record)
                return try Responses.json(.created, record)
            }
        }
        router.get("/v1/principals") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .managePrincipals, principal(caller, "*"))
                return try Responses.json(.ok, try await store.principals(tenant: caller.tenant))
            }
        }
        router.delete("/v1/principals/:name") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                try await auth.authorize(caller, .managePrincipals, principal(caller, name))
                // Even when the store call throws: it may have committed first.
                defer { auth.identities.principalChanged(tenant: caller.tenant, name: name) }
                guard try await store.deletePrincipal(tenant: caller.tenant, name: name) else {
                    throw ControllerError(.notFound, "no principal \(name)")
                }
                return Response(status: .noContent)
            }
        }

        // MARK: Keys
        router.post("/v1/principals/:name/keys") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                try await auth.authorize(caller, .manageKeys, principal(caller, name))
                let body = (try? await Responses.decode(KeyBody.self, from: &request)) ?? KeyBody()
                if let seconds = body.expiresInSeconds, seconds <= 0 {
                    throw ControllerError(.invalidRequest, "expiresInSeconds: must be positive")
                }
                let now = NodeRegistry.nowMs()
                let expires = body.expiresInSeconds.map { now + $0 * 1000 }
                switch body.kind ?? .apiKey {
                case .apiKey:
                    let key = APIKey.generate()
                    let hex = Bytes.hexString(key.stored.digest)
                    try await store.createCredential(CredentialRecord(
                        id: key.keyId, kind: .apiKey, tenant: caller.tenant, principal: name, secret: hex,
                        createdAtMs: now, expiresAtMs: expires))
                    return try Responses.json(.created, ["id": key.keyId, "kind": "api-key", "principal": name,
                                                         "key": key.revealedToken])
                case .accessKey:
                    // 16 and 48 characters of base32 (80 and 240 random bits), like AWS's shapes.
                    let id = "AKCL" + Base32.encode(APIKey.randomBytes(bitCount: 80)).uppercased()
                    let secret = Base32.encode(APIKey.randomBytes(bitCount: 240))
                    try await store.createCredential(CredentialRecord(
                        id: id, kind: .accessKey, tenant: caller.tenant, principal: name, secret: secret,
                        createdAtMs: now, expiresAtMs: expires))
                    return try Responses.json(.created, ["id": id, "kind": "access-key", "principal": name,
                                                         "accessKeyId": id, "secretAccessKey": secret])
                }
            }
        }
        router.get("/v1/keys") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let principalName = request.uri.queryParameters["principal"].map(String.init)
                try await auth.authorize(caller, .manageKeys, principal(caller, principalName ?? "*"))
                return try Responses.json(.ok, try await store.credentials(tenant: caller.tenant, principal: principalName).map(KeyView.init))
            }
        }
        router.delete("/v1/keys/:id") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let id = try context.parameters.require("id")
                guard let credential = try await store.credential(id: id), credential.tenant == caller.tenant else {
                    throw ControllerError(.notFound, "no key \(id)")
                }
                try await auth.authorize(caller, .manageKeys, principal(caller, credential.principal))
                defer { auth.identities.credentialChanged(id: id) }
                guard try await store.revokeCredential(tenant: caller.tenant, id: id, nowMs: NodeRegistry.nowMs()) else {
                    throw ControllerError(.notFound, "no key \(id), or it is already revoked")
                }
                return Response(status: .noContent)
            }
        }

        // MARK: Policies
        router.put("/v1/policies/:name") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                do throws(ModelError) { try FunctionConfig.validateName(name, field: "policy name") } catch { throw ControllerError.invalid(error) }
                try await auth.authorize(caller, .managePolicies, policy(caller, name))
                let body: ByteBuffer
                do { body = try await request.collectBody(upTo: 65_536) } catch {
                    throw ControllerError(.tooLarge, "a policy document is at most 65536 bytes")
                }
                let document = String(buffer: body)
                do { try CompiledPolicy.validate(document) } catch {
                    throw ControllerError(.invalidRequest, "policy \(name): \(error)")
                }
                let record = PolicyRecord(tenant: caller.tenant, name: name, document: document, updatedAtMs: NodeRegistry.nowMs())
                defer { auth.identities.policyChanged(tenant: caller.tenant, name: name) }
                try await store.putPolicy(record)
                return try Responses.json(.ok, record)
            }
        }
        router.get("/v1/policies") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .managePolicies, policy(caller, "*"))
                return try Responses.json(.ok, try await store.policies(tenant: caller.tenant))
            }
        }
        router.get("/v1/policies/:name") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                try await auth.authorize(caller, .managePolicies, policy(caller, name))
                guard let record = try await store.policy(tenant: caller.tenant, name: name) else {
                    throw ControllerError(.notFound, "no policy \(name)")
                }
                return try Responses.json(.ok, record)
            }
        }
        router.delete("/v1/policies/:name") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                try await auth.authorize(caller, .managePolicies, policy(caller, name))
                defer { auth.identities.policyChanged(tenant: caller.tenant, name: name) }
                guard try await store.deletePolicy(tenant: caller.tenant, name: name) else {
                    throw ControllerError(.notFound, "no policy \(name)")
                }
                return Response(status: .noContent)
            }
        }
        router.put("/v1/policies/:name/attachments/:principal") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                try await auth.authorize(caller, .managePolicies, policy(caller, name))
                let target = try context.parameters.require("principal")
                defer { auth.identities.attachmentsChanged(tenant: caller.tenant, principal: target) }
                try await store.attachPolicy(tenant: caller.tenant, policy: name, principal: target)
                return Response(status: .noContent)
            }
        }
        router.delete("/v1/policies/:name/attachments/:principal") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                let name = try context.parameters.require("name")
                try await auth.authorize(caller, .managePolicies, policy(caller, name))
                let target = try context.parameters.require("principal")
                defer { auth.identities.attachmentsChanged(tenant: caller.tenant, principal: target) }
                guard try await store.detachPolicy(tenant: caller.tenant, policy: name, principal: target) else {
                    throw ControllerError(.notFound, "policy \(name) is not attached to that principal")
                }
                return Response(status: .noContent)
            }
        }

        /// `{"principal", "action", "resource", "context": {"key": ["v"]}}` → the decision and the
        /// statement that made it.
        router.post("/v1/policies/simulate") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                struct Body: Decodable {
                    var principal: String
                    var action: String
                    var resource: String
                    var context: [String: [String]]?
                }
                let body = try await Responses.decode(Body.self, from: &request)
                try await auth.authorize(caller, .simulatePolicy, principal(caller, body.principal))
                guard let target = try await store.principal(tenant: caller.tenant, name: body.principal) else {
                    throw ControllerError(.notFound, "no principal \(body.principal)")
                }
                guard let action = Action(named: body.action.contains(":") ? body.action : "cella:" + body.action) else {
                    throw ControllerError(.invalidRequest, "action: \(body.action) is not a Cella action")
                }
                let simulated = Caller(tenant: caller.tenant, principal: target.name, isOperator: false, isTenantAdmin: target.isAdmin,
                                       principalType: target.kind.rawValue, tags: target.tags)
                if target.isAdmin {
                    return try Responses.json(.ok, ["decision": "allowed", "statement": "tenant admin"])
                }
                let decision = try await auth.decide(simulated, action, body.resource, context: body.context ?? [:])
                return try Responses.json(.ok, ["decision": decision.outcome.rawValue,
                                                "statement": decision.statement.map { "\($0)" } ?? ""])
            }
        }
    }
}
