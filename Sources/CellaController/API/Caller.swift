import CellaAuth
import CellaIAM
import CellaModel
import CellaStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of the controller's routes: Hummingbird's core plus the peer's address,
/// for the `cella:SourceIp` condition key.
public struct ControllerContext: Hummingbird.RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Who is calling, once authenticated: a principal of one tenant, or the cluster operator.
public struct Caller: Sendable, Equatable {
    /// The tenant the call acts in; every function, log and record it reaches is this tenant's.
    public var tenant: String
    public var principal: String
    /// The cluster operator: manages tenants and nodes, and acts in any tenant it names.
    public var isOperator: Bool
    /// A node agent (the node token): heartbeats and telemetry, nothing else.
    public var isNode = false
    /// A principal with the tenant's administrator flag: every action inside its own tenant.
    public var isTenantAdmin = false
    public var principalType: String?
    public var tags: [String: String] = [:]
    public var sourceIp: String?
    public var viaSigV4 = false
}

/// Decides who a request comes from and what it may do.
///
/// Credentials: the operator's token (`Authorization: Bearer <token>`; acts in the tenant named by
/// `X-Cella-Tenant`, default `default`), a principal's API key (`Bearer cella_<id>_<secret>`,
/// stored only as a SHA-256 digest), or an access key pair signing the request with SigV4 (the
/// aws CLI and boto3). Tokens and digests are compared in constant time; no secret is ever
/// written to a log, an error or a metric.
///
/// Authorization: the operator may do everything; a tenant admin everything inside its tenant;
/// any other principal what its attached policies allow (CellaIAM, compiled and cached by
/// revision). A principal can never name another tenant: every query is scoped to its own, so
/// another tenant's resources answer 404, exactly like missing ones.
public final class Authenticator: Sendable {
    public static let tenantHeader = HTTPField.Name("X-Cella-Tenant")!
    let operatorToken: [UInt8]
    let nodeToken: [UInt8]?
    let defaultTenant: String
    let identities: IdentityCache
    let sigv4: SigV4Verifier

    /// - Parameter identityTTLMs: how long a credential, a principal and its attached policies
    ///   read from the store are reused (`IdentityCache`); 0 reads them for every request.
    public init(operatorToken: String, nodeToken: String? = nil, defaultTenant: String = "default", store: any Store,
                identityTTLMs: Int64 = 1000) {
        self.operatorToken = Array(operatorToken.utf8)
        self.nodeToken = nodeToken.map { Array($0.utf8) }
        self.defaultTenant = defaultTenant
        identities = IdentityCache(store: store, ttlMs: identityTTLMs)
        sigv4 = SigV4Verifier(credentials: StoreCredentials(identities: identities))
    }

    /// Authenticates a request. SigV4 reads the body (up to `bodyLimit`), which stays readable.
    public func authenticate(_ request: inout Request, _ context: ControllerContext, bodyLimit: Int = 6 << 20) async throws -> Caller {
        var caller = try await identify(&request, bodyLimit: bodyLimit)
        if let address = context.remoteAddress?.ipAddress { caller.sourceIp = address }
        return caller
    }

    private func identify(_ request: inout Request, bodyLimit: Int) async throws -> Caller {
        guard let header = request.headers[.authorization] else {
            throw ControllerError(.unauthorized, "missing credentials: send Authorization: Bearer <key>, or sign the request with SigV4")
        }
        if header.hasPrefix("AWS4-HMAC-SHA256 ") { return try await verifySigV4(&request, bodyLimit: bodyLimit) }
        guard header.hasPrefix("Bearer ") else {
            throw ControllerError(.unauthorized, "unsupported Authorization scheme; send Authorization: Bearer <key>")
        }
        let presented = String(header.dropFirst(7))
        if Bytes.constantTimeEqual(Array(presented.utf8), operatorToken) {
            let tenant = request.headers[Self.tenantHeader] ?? defaultTenant
            return Caller(tenant: tenant, principal: "operator", isOperator: true)
        }
        if let nodeToken, Bytes.constantTimeEqual(Array(presented.utf8), nodeToken) {
            return Caller(tenant: defaultTenant, principal: "node", isOperator: false, isNode: true)
        }
        let key: APIKey
        do { key = try APIKey(parsing: presented) } catch {
            throw ControllerError(.unauthorized, "the credential is not valid")
        }
        // API keys are stored as the hex of their digest (see IdentityAPI).
        guard let credential = try await identities.credential(id: key.keyId), credential.kind == .apiKey,
              Bytes.constantTimeEqual(Array(credential.secret.utf8), Array(Bytes.hexString(key.stored.digest).utf8))
        else { throw ControllerError(.unauthorized, "the credential is not valid") }
        return try await caller(for: credential)
    }

    private func verifySigV4(_ request: inout Request, bodyLimit: Int) async throws -> Caller {
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: bodyLimit) } catch {
            throw ControllerError(.tooLarge, "Request must be smaller than \(bodyLimit) bytes")
        }
        var headers: [(name: String, value: String)] = []
        if let authority = request.head.authority { headers.append(("host", authority)) }
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        let signed = SigV4Request(method: request.method.rawValue, target: request.head.path ?? "/", headers: headers)
        let identity: SigV4Identity
        do {
            identity = try await sigv4.verify(signed, body: body.readableBytesView, now: Date())
        } catch {
            switch error.code {
            case .credentialLookupFailed: throw ControllerError(.unavailable, "the credential store is unavailable; retry")
            case .signatureMismatch, .signatureExpired, .credentialScopeMismatch, .contentSHA256Mismatch, .signedHeaderMissing:
                throw ControllerError(.accessDenied, error.message, lambdaType: error.awsErrorType)
            default: throw ControllerError(.unauthorized, error.message, lambdaType: error.awsErrorType)
            }
        }
        guard let credential = try await identities.credential(id: identity.accessKeyId) else {
            throw ControllerError(.unauthorized, "The security token included in the request is invalid.")
        }
        var caller = try await caller(for: credential)
        caller.viaSigV4 = true
        return caller
    }

    private func caller(for credential: CredentialRecord) async throws -> Caller {
        guard credential.isUsable(atMs: NodeRegistry.nowMs()),
              let principal = try await identities.principal(tenant: credential.tenant, name: credential.principal)
        else { throw ControllerError(.unauthorized, "the credential is not valid (revoked or expired)") }
        return Caller(tenant: credential.tenant, principal: principal.name, isOperator: false, isTenantAdmin: principal.isAdmin,
                      principalType: principal.kind.rawValue, tags: principal.tags)
    }

    /// Requires the operator.
    public func requireOperator(_ caller: Caller) throws(ControllerError) {
        guard caller.isOperator else { throw ControllerError(.accessDenied, "only the cluster operator may do this") }
    }

    /// Requires a node agent (or the operator, who may do everything).
    public func requireNode(_ caller: Caller) throws(ControllerError) {
        guard caller.isNode || caller.isOperator else { throw ControllerError(.accessDenied, "only node agents may do this") }
    }

    /// Decides `action` on `resource` for `caller`.
    /// - Throws: `accessDenied` naming the action and the resource.
    public func authorize(
        _ caller: Caller, _ action: Action, _ resource: String, context extra: [String: [String]] = [:]
    ) async throws {
        if caller.isOperator || caller.isTenantAdmin { return }
        if caller.isNode {
            // Whatever a principal of the same name may do: the node token opens the node routes only.
            throw ControllerError(.accessDenied, "node agents may not perform cella:\(action.name) on \(resource)")
        }
        let decision = try await decide(caller, action, resource, context: extra)
        guard decision.isAllowed else {
            throw ControllerError(
                .accessDenied,
                "\(caller.principal) is not allowed to perform cella:\(action.name) on \(resource)"
                    + (decision.outcome == .explicitDeny ? " (explicitly denied)" : ""))
        }
    }

    /// The decision for `caller`, for `authorize` and for the policy simulator.
    public func decide(_ caller: Caller, _ action: Action, _ resource: String, context extra: [String: [String]] = [:]) async throws -> Decision {
        var values = extra
        if let ip = caller.sourceIp { values[ConditionKey.sourceIp] = [ip] }
        values[ConditionKey.secureTransport] = [values[ConditionKey.secureTransport]?.first ?? "false"]
        for (key, value) in caller.tags { values[ConditionKey.principalTag(key)] = [value] }
        var request = CellaIAM.RequestContext(
            action: action, resource: resource, tenantId: caller.tenant, principalName: caller.principal,
            principalType: caller.principalType, conditionValues: values)
        request.setRequestTime(Date())
        let attached = try await identities.attachedPolicies(tenant: caller.tenant, principal: caller.principal)
        return PolicyEvaluator.evaluate(request, policies: attached)
    }
}

/// SigV4 access keys, read from the store (through the identity cache). Their secrets are kept as
/// they are (SigV4 needs the secret itself to recompute the signature): protect the store like a
/// key store.
struct StoreCredentials: SigV4CredentialProvider {
    let identities: IdentityCache
    func credential(forAccessKeyId accessKeyId: String) async throws -> SigV4Credential? {
        guard let record = try await identities.credential(id: accessKeyId), record.kind == .accessKey,
              record.isUsable(atMs: NodeRegistry.nowMs())
        else { return nil }
        return SigV4Credential(accessKeyId: record.id, secretAccessKey: record.secret, principalId: "\(record.tenant)/\(record.principal)")
    }
}

extension CredentialRecord {
    /// Neither revoked nor expired at `now`.
    func isUsable(atMs now: Int64) -> Bool {
        revokedAtMs == nil && (expiresAtMs.map { $0 > now } ?? true)
    }
}
