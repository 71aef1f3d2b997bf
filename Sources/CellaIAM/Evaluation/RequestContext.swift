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
    /// Values of the fixed keys by ``ConditionKey/Reference/slot``.
    private var fixedValues: [ContextValues?]
    /// Values of the other keys (tags), by lowercased key.
    private var otherValues: [String: ContextValues]

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
        crossesTenantBoundary = Self.crossesBoundary(resource: resourceBytes, tenantId: tenantId)
        var slotTexts = Array(repeating: [String](), count: ConditionKey.slotCount)
        var others: [String: [String]] = [:]
        for (key, keyValues) in conditionValues {
            let reference = ConditionKey.Reference(key)
            if let slot = reference.slot {
                slotTexts[slot].append(contentsOf: keyValues)
            } else {
                others[reference.lowercased, default: []].append(contentsOf: keyValues)
            }
        }
        func set(_ key: ConditionKey.Reference, _ value: String) {
            if let slot = key.slot { slotTexts[slot] = [value] }
        }
        set(.principalName, principalName)
        set(.tenantId, tenantId)
        set(.principalCrn, "crn:cella:\(tenantId):principal:\(principalName)")
        if let principalType { set(.principalType, principalType) }
        fixedValues = slotTexts.indices.map { slot in
            slotTexts[slot].isEmpty ? nil : ContextValues(slotTexts[slot], kind: ConditionKey.valueKind(slot: slot))
        }
        otherValues = others.mapValues { ContextValues($0, kind: nil) }
    }

    /// Replaces the values of `key` (any case).
    public mutating func setValues(_ keyValues: [String], forKey key: String) {
        let reference = ConditionKey.Reference(key)
        set(reference, ContextValues(keyValues, kind: reference.slot.flatMap(ConditionKey.valueKind(slot:))))
    }

    /// Sets `cella:CurrentTime` (ISO 8601, UTC, whole seconds) and `cella:EpochTime` from `date`.
    public mutating func setRequestTime(_ date: Date) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        set(.currentTime, ContextValues(date: PolicyDate.iso8601(epochSeconds: seconds), seconds: Double(seconds)))
        set(.epochTime, ContextValues(date: String(seconds), seconds: Double(seconds)))
    }

    private mutating func set(_ key: ConditionKey.Reference, _ values: ContextValues) {
        if let slot = key.slot {
            fixedValues[slot] = values
        } else {
            otherValues[key.lowercased] = values
        }
    }

    /// Whether `resource` is `crn:cella:<tenant>:...` for a tenant other than `tenantId`.
    private static func crossesBoundary(resource: [UInt8], tenantId: String) -> Bool {
        let prefix = Array("crn:cella:".utf8)
        guard resource.starts(with: prefix) else { return false }
        let tenant = resource[prefix.count...].prefix { $0 != UInt8(ascii: ":") }
        return !tenant.elementsEqual(tenantId.utf8) || tenant.endIndex == resource.endIndex
    }

    /// The values of `key` (any case), or nil when it is missing or empty.
    public func values(forKey key: String) -> [String]? {
        values(for: ConditionKey.Reference(key))?.texts
    }

    /// The values of `key`, or nil when it is missing or has no values.
    package func values(for key: ConditionKey.Reference) -> ContextValues? {
        let found = key.slot.map { fixedValues[$0] } ?? otherValues[key.lowercased]
        guard let found, !found.texts.isEmpty else { return nil }
        return found
    }

    /// The value of a single-valued key: what a policy variable resolves to. Nil when the key is
    /// missing or multi-valued (IAM does not substitute multi-valued keys).
    package func singleValue(for key: ConditionKey.Reference) -> String? {
        guard let found = values(for: key), found.texts.count == 1 else { return nil }
        return found.texts[0]
    }
}
