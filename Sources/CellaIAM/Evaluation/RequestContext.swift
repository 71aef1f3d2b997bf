import Foundation

/// What a request asks for and what is known about it: the operation, the resource, the
/// authenticated principal and its tenant, and condition-key values.
///
/// Condition keys are case-insensitive; each key holds zero or more values (single- and
/// multi-valued keys alike). A key with no values counts as missing. The initializer fills in
/// `cella:PrincipalName`, `cella:TenantId`, `cella:PrincipalCrn` and, when given,
/// `cella:PrincipalType` — after `conditionValues`, so callers cannot override them.
public struct RequestContext: Sendable {
    public let action: Action
    /// The resource the operation acts on, usually a ``CellaResourceName`` in text form.
    public let resource: String
    public let tenantId: String
    public let principalName: String
    package let resourceBytes: [UInt8]
    /// Whether ``resource`` is a `crn:cella:` name of a tenant other than ``tenantId``.
    package let crossesTenantBoundary: Bool
    private var values: [String: [String]]

    /// Creates a request context.
    /// - Parameters:
    ///   - action: The operation.
    ///   - resource: The resource, e.g. `crn:cella:acme:function:resize:3`.
    ///   - tenantId: The authenticated principal's tenant.
    ///   - principalName: The authenticated principal's name.
    ///   - principalType: `user`, `service`, ... when known.
    ///   - conditionValues: Other condition keys (any case) and their values.
    public init(
        action: Action,
        resource: String,
        tenantId: String,
        principalName: String,
        principalType: String? = nil,
        conditionValues: [String: [String]] = [:]
    ) {
        self.action = action
        self.resource = resource
        self.tenantId = tenantId
        self.principalName = principalName
        resourceBytes = Array(resource.utf8)
        let ownPrefix = "crn:cella:\(tenantId):"
        crossesTenantBoundary = resource.hasPrefix("crn:cella:") && !resource.hasPrefix(ownPrefix)
        values = [:]
        for (key, keyValues) in conditionValues {
            values[key.lowercased(), default: []].append(contentsOf: keyValues)
        }
        values[ConditionKey.principalName.lowercased()] = [principalName]
        values[ConditionKey.tenantId.lowercased()] = [tenantId]
        values[ConditionKey.principalCrn.lowercased()] = ["crn:cella:\(tenantId):principal:\(principalName)"]
        if let principalType {
            values[ConditionKey.principalType.lowercased()] = [principalType]
        }
    }

    /// Creates a request context for a resource name.
    public init(
        action: Action,
        resource: CellaResourceName,
        principalName: String,
        principalType: String? = nil,
        conditionValues: [String: [String]] = [:]
    ) {
        self.init(action: action, resource: resource.description, tenantId: resource.tenant,
                  principalName: principalName, principalType: principalType, conditionValues: conditionValues)
    }

    /// Replaces the values of `key` (any case).
    public mutating func setValues(_ keyValues: [String], forKey key: String) {
        values[key.lowercased()] = keyValues
    }

    /// Sets `cella:CurrentTime` (ISO 8601, UTC, whole seconds) and `cella:EpochTime` from `date`.
    public mutating func setRequestTime(_ date: Date) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        setValues([PolicyDate.iso8601(epochSeconds: seconds)], forKey: ConditionKey.currentTime)
        setValues([String(seconds)], forKey: ConditionKey.epochTime)
    }

    /// The values of `key` (any case), or nil when it is missing or empty.
    public func values(forKey key: String) -> [String]? {
        values(forLowercasedKey: key.lowercased())
    }

    package func values(forLowercasedKey key: String) -> [String]? {
        guard let found = values[key], !found.isEmpty else { return nil }
        return found
    }

    /// The value of a single-valued key: what a policy variable resolves to. Nil when the key is
    /// missing or multi-valued (IAM does not substitute multi-valued keys).
    package func singleValue(forLowercasedKey key: String) -> String? {
        guard let found = values[key], found.count == 1 else { return nil }
        return found[0]
    }
}
