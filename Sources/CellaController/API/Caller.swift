import Foundation
import HTTPTypes
import Hummingbird

/// Who is calling, once authenticated: a principal of one tenant, or the cluster operator.
public struct Caller: Sendable, Equatable {
    /// The tenant the call acts in; every function, log and record it reaches is this tenant's.
    public var tenant: String
    public var principal: String
    /// The cluster operator: manages tenants and nodes, and acts in any tenant it names.
    public var isOperator: Bool
}

/// Decides who a request comes from. Until per-tenant credentials are wired in, the operator's
/// token is the one credential: `Authorization: Bearer <token>`, acting in the tenant named by
/// `X-Cella-Tenant` (default `default`). Compared in constant time.
public struct Authenticator: Sendable {
    public static let tenantHeader = HTTPField.Name("X-Cella-Tenant")!
    let operatorToken: [UInt8]
    let defaultTenant: String

    public init(operatorToken: String, defaultTenant: String = "default") {
        self.operatorToken = Array(operatorToken.utf8)
        self.defaultTenant = defaultTenant
    }

    public func authenticate(_ request: Request) throws(ControllerError) -> Caller {
        guard let header = request.headers[.authorization] else {
            throw ControllerError(.unauthorized, "missing credentials: send Authorization: Bearer <key>")
        }
        guard header.hasPrefix("Bearer ") else {
            throw ControllerError(.unauthorized, "unsupported Authorization scheme; send Authorization: Bearer <key>")
        }
        let presented = Array(header.utf8.dropFirst(7))
        guard Self.constantTimeEqual(presented, operatorToken) else {
            throw ControllerError(.unauthorized, "the credential is not valid")
        }
        let tenant = request.headers[Self.tenantHeader] ?? defaultTenant
        return Caller(tenant: tenant, principal: "operator", isOperator: true)
    }

    /// Authenticates and requires the operator.
    public func requireOperator(_ request: Request) throws(ControllerError) -> Caller {
        let caller = try authenticate(request)
        guard caller.isOperator else { throw ControllerError(.accessDenied, "only the cluster operator may do this") }
        return caller
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}
