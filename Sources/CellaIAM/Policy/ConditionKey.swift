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

    private static let fixedKeys: Set<String> = Set([
        sourceIp, currentTime, epochTime, secureTransport, principalName, principalType,
        principalCrn, tenantId, invocationType, tagKeys,
    ].map { $0.lowercased() })

    private static let tagPrefixes = ["cella:principaltag/", "cella:functiontag/", "cella:requesttag/"]

    /// Whether `key` (any case) is a condition key Cella defines.
    public static func isKnown(_ key: String) -> Bool {
        let lowered = key.lowercased()
        if fixedKeys.contains(lowered) { return true }
        return tagPrefixes.contains { lowered.hasPrefix($0) && lowered.count > $0.count }
    }
}
