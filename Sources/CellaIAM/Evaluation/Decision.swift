/// The result of authorizing one request: the outcome and the statement that decided it.
public struct Decision: Sendable, Hashable, CustomStringConvertible {
    /// IAM's three outcomes, in the words `cella policy simulate` prints.
    public enum Outcome: String, Sendable, Hashable {
        /// An `Allow` statement applies and no `Deny` does.
        case allowed
        /// A `Deny` statement applies; nothing can override it.
        case explicitDeny
        /// No statement applies (or the resource belongs to another tenant).
        case implicitDeny
    }

    public let outcome: Outcome
    /// The deciding statement: the first applicable `Deny` for ``Outcome/explicitDeny``, the first
    /// applicable `Allow` for ``Outcome/allowed``, nil for ``Outcome/implicitDeny``.
    public let statement: StatementReference?
    /// True when the request was denied before any policy was read because its resource is a
    /// `crn:cella:` name of another tenant: no tenant's policy can grant access across tenants.
    public let deniedAtTenantBoundary: Bool

    package init(outcome: Outcome, statement: StatementReference?, deniedAtTenantBoundary: Bool = false) {
        self.outcome = outcome
        self.statement = statement
        self.deniedAtTenantBoundary = deniedAtTenantBoundary
    }

    /// Whether the request may proceed.
    public var isAllowed: Bool { outcome == .allowed }

    public var description: String {
        if deniedAtTenantBoundary { return "\(outcome.rawValue) (resource of another tenant)" }
        return statement.map { "\(outcome.rawValue) by \($0)" } ?? outcome.rawValue
    }
}

/// Which statement of which policy: the policy's id, the statement's position and its `Sid`.
public struct StatementReference: Sendable, Hashable, CustomStringConvertible {
    public let policyId: String
    /// The statement's zero-based position in the policy's `Statement` array.
    public let index: Int
    public let sid: String?

    public init(policyId: String, index: Int, sid: String?) {
        self.policyId = policyId
        self.index = index
        self.sid = sid
    }

    /// `policy-id/Sid`, or `policy-id/Statement[2]` when the statement has no `Sid`.
    public var description: String {
        "\(policyId)/" + (sid ?? "Statement[\(index)]")
    }
}
