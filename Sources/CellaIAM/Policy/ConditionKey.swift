/// The condition keys Cella defines, usable in `Condition` blocks and as policy variables.
///
/// Keys are case-insensitive (`cella:sourceip` is `cella:SourceIp`), tag keys included. A key not
/// listed here is rejected when a policy is attached: an unknown key is never present in a
/// request, so a misspelt key in a `Deny` condition would silently disable the deny.
public enum ConditionKey {
    /// The client's IP address (`IpAddress`).
    public static let sourceIp = "cella:SourceIp"
    /// The request time, ISO 8601 (`Date...`).
    public static let currentTime = "cella:CurrentTime"
    /// The request time in Unix epoch seconds (`Date...` or `Numeric...`).
    public static let epochTime = "cella:EpochTime"
    /// `true` when the request came over TLS (`Bool`).
    public static let secureTransport = "cella:SecureTransport"
    /// The authenticated principal's name; filled in by ``RequestContext``.
    public static let principalName = "cella:PrincipalName"
    /// `user`, `service` or another principal type; filled in by ``RequestContext`` when given.
    public static let principalType = "cella:PrincipalType"
    /// `crn:cella:{tenant}:principal:{name}`; filled in by ``RequestContext``.
    public static let principalCrn = "cella:PrincipalCrn"
    /// The principal's tenant; filled in by ``RequestContext``.
    public static let tenantId = "cella:TenantId"
    /// `RequestResponse`, `Event` or `DryRun`, for invocations.
    public static let invocationType = "cella:InvocationType"
    /// The tag keys a request sets (multi-valued).
    public static let tagKeys = "cella:TagKeys"

    /// `cella:PrincipalTag/<key>`: a tag on the principal.
    public static func principalTag(_ key: String) -> String { "cella:PrincipalTag/\(key)" }
    /// `cella:FunctionTag/<key>`: a tag on the function the request addresses.
    public static func functionTag(_ key: String) -> String { "cella:FunctionTag/\(key)" }
    /// `cella:RequestTag/<key>`: a tag the request sets.
    public static func requestTag(_ key: String) -> String { "cella:RequestTag/\(key)" }

    /// What a fixed key's values are parsed as when a request sets them, so that conditions on
    /// them do not parse the same text once per statement.
    package enum ValueKind: Sendable {
        case address, date
    }

    /// The keys without a variable part, in slot order, with the kind their values are parsed
    /// as: a request keeps their values in an array indexed by slot, so conditions on them need
    /// no hashing (see ``Reference``).
    private static let fixedKeys: [(lowercased: String, kind: ValueKind?)] = [
        (sourceIp, .address), (currentTime, .date), (epochTime, .date), (secureTransport, nil),
        (principalName, nil), (principalType, nil), (principalCrn, nil), (tenantId, nil),
        (invocationType, nil), (tagKeys, nil),
    ].map { ($0.0.lowercased(), $0.1) }

    private static let slots: [String: Int] = Dictionary(
        uniqueKeysWithValues: fixedKeys.enumerated().map { ($1.lowercased, $0) })

    package static var slotCount: Int { fixedKeys.count }

    package static func valueKind(slot: Int) -> ValueKind? { fixedKeys[slot].kind }

    private static let tagPrefixes = ["cella:principaltag/", "cella:functiontag/", "cella:requesttag/"]

    /// Whether `key` (any case) is a condition key Cella defines.
    public static func isKnown(_ key: String) -> Bool {
        let lowered = key.lowercased()
        if slots[lowered] != nil { return true }
        return tagPrefixes.contains { lowered.hasPrefix($0) && lowered.count > $0.count }
    }

    /// A key as compiled policies and requests look it up: lowercased, with its slot when it is
    /// one of the fixed keys.
    package struct Reference: Sendable, Hashable {
        package let lowercased: String
        package let slot: Int?

        package init(_ key: String) {
            lowercased = key.lowercased()
            slot = ConditionKey.slots[lowercased]
        }

        static let principalName = Reference(ConditionKey.principalName)
        static let principalType = Reference(ConditionKey.principalType)
        static let principalCrn = Reference(ConditionKey.principalCrn)
        static let tenantId = Reference(ConditionKey.tenantId)
        static let currentTime = Reference(ConditionKey.currentTime)
        static let epochTime = Reference(ConditionKey.epochTime)
    }
}
