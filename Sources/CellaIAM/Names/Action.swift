/// One API operation that policies allow or deny, with its `cella:` name and, for the operations
/// the Lambda-compatible routes serve, its `lambda:` name.
///
/// Both names stand for the same operation: a request authorized as ``invokeFunction`` is matched
/// by a statement naming `cella:InvokeFunction`, `lambda:InvokeFunction`, `lambda:*` or `cella:Invoke*`
/// alike, whichever route it came by: a statement's action patterns are checked against every
/// name of the operation (and `NotAction` excludes the operation when any name is listed). That
/// check runs once per operation when a policy is compiled (see ``CompiledStatement``).
/// `lambda:*` covers only the operations that have a `lambda:` name. Names compare
/// case-insensitively, as IAM actions do. The catalogue holds at most 64 operations.
public struct Action: Sendable, Hashable, CustomStringConvertible {
    /// `cella:Operation`.
    public let name: String
    /// `lambda:Operation`, for the operations the Lambda-compatible routes serve.
    public let lambdaName: String?
    /// The lowercased UTF-8 of every name, for matching.
    package let matchNames: [[UInt8]]
    /// The position in ``all``: compiled statements keep a bit per operation (see
    /// ``CompiledStatement``), so evaluation tests one bit instead of matching patterns.
    package let ordinal: Int

    private init(_ ordinal: Int, _ operation: String, lambda: Bool = false) {
        self.ordinal = ordinal
        name = "cella:\(operation)"
        lambdaName = lambda ? "lambda:\(operation)" : nil
        matchNames = [name, lambdaName].compactMap { $0.map { Array($0.lowercased().utf8) } }
    }

    public var description: String { name }

    public static func == (lhs: Action, rhs: Action) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public static let invokeFunction = Action(0, "InvokeFunction", lambda: true)
    public static let createFunction = Action(1, "CreateFunction", lambda: true)
    public static let updateFunctionCode = Action(2, "UpdateFunctionCode", lambda: true)
    public static let updateFunctionConfiguration = Action(3, "UpdateFunctionConfiguration", lambda: true)
    public static let publishVersion = Action(4, "PublishVersion", lambda: true)
    public static let deleteFunction = Action(5, "DeleteFunction", lambda: true)
    public static let getFunction = Action(6, "GetFunction", lambda: true)
    public static let listFunctions = Action(7, "ListFunctions", lambda: true)
    public static let listVersions = Action(8, "ListVersions")
    public static let createAlias = Action(9, "CreateAlias")
    public static let updateAlias = Action(10, "UpdateAlias")
    public static let deleteAlias = Action(11, "DeleteAlias")
    public static let listAliases = Action(12, "ListAliases")
    public static let getInvocation = Action(13, "GetInvocation")
    public static let getLogs = Action(14, "GetLogs")
    public static let manageKeys = Action(15, "ManageKeys")
    public static let managePolicies = Action(16, "ManagePolicies")
    public static let managePrincipals = Action(17, "ManagePrincipals")
    public static let manageTenants = Action(18, "ManageTenants")
    public static let manageNodes = Action(19, "ManageNodes")
    public static let simulatePolicy = Action(20, "SimulatePolicy")

    /// Every operation, in catalogue order.
    public static let all: [Action] = [
        invokeFunction, createFunction, updateFunctionCode, updateFunctionConfiguration,
        publishVersion, deleteFunction, getFunction, listFunctions, listVersions, createAlias,
        updateAlias, deleteAlias, listAliases, getInvocation, getLogs, manageKeys, managePolicies,
        managePrincipals, manageTenants, manageNodes, simulatePolicy,
    ]

    private static let byLowercasedName: [String: Action] = {
        var table: [String: Action] = [:]
        for action in all {
            table[action.name.lowercased()] = action
            if let lambdaName = action.lambdaName { table[lambdaName.lowercased()] = action }
        }
        return table
    }()

    /// The operation named `name` (`cella:GetLogs`, `lambda:invokefunction`, any case), or nil.
    public init?(named name: String) {
        guard let action = Self.byLowercasedName[name.lowercased()] else { return nil }
        self = action
    }

    /// Whether `pattern` (lowercased) matches one of this operation's names.
    package func isMatched(by pattern: WildcardPattern) -> Bool {
        matchNames.contains { pattern.matches($0) }
    }

    /// Whether `pattern` (lowercased) matches at least one name in the catalogue.
    package static func catalogueContains(match pattern: WildcardPattern) -> Bool {
        all.contains { $0.isMatched(by: pattern) }
    }
}
