/// One API operation that policies allow or deny, with its `cella:` name and, for the operations
/// the Lambda-compatible routes serve, its `lambda:` name.
///
/// Both names stand for the same operation: a request authorized as ``invokeFunction`` is matched
/// by a statement naming `cella:InvokeFunction`, `lambda:InvokeFunction`, `lambda:*` or `cella:Invoke*`
/// alike, whichever route it came by. The rule is applied by evaluation checking a statement's
/// action patterns against every name of the operation (and `NotAction` excluding the operation
/// when any name is listed). `lambda:*` therefore covers only the operations that have a `lambda:`
/// name. Names compare case-insensitively, as IAM actions do.
public struct Action: Sendable, Hashable, CustomStringConvertible {
    /// `cella:Operation`.
    public let name: String
    /// `lambda:Operation`, for the operations the Lambda-compatible routes serve.
    public let lambdaName: String?
    /// The lowercased UTF-8 of every name, for matching.
    package let matchNames: [[UInt8]]

    private init(_ operation: String, lambda: Bool = false) {
        name = "cella:\(operation)"
        lambdaName = lambda ? "lambda:\(operation)" : nil
        matchNames = [name, lambdaName].compactMap { $0.map { Array($0.lowercased().utf8) } }
    }

    public var description: String { name }

    public static func == (lhs: Action, rhs: Action) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public static let invokeFunction = Action("InvokeFunction", lambda: true)
    public static let createFunction = Action("CreateFunction", lambda: true)
    public static let updateFunctionCode = Action("UpdateFunctionCode", lambda: true)
    public static let updateFunctionConfiguration = Action("UpdateFunctionConfiguration", lambda: true)
    public static let publishVersion = Action("PublishVersion", lambda: true)
    public static let deleteFunction = Action("DeleteFunction", lambda: true)
    public static let getFunction = Action("GetFunction", lambda: true)
    public static let listFunctions = Action("ListFunctions", lambda: true)
    public static let listVersions = Action("ListVersions")
    public static let createAlias = Action("CreateAlias")
    public static let updateAlias = Action("UpdateAlias")
    public static let deleteAlias = Action("DeleteAlias")
    public static let listAliases = Action("ListAliases")
    public static let getInvocation = Action("GetInvocation")
    public static let getLogs = Action("GetLogs")
    public static let manageKeys = Action("ManageKeys")
    public static let managePolicies = Action("ManagePolicies")
    public static let managePrincipals = Action("ManagePrincipals")
    public static let manageTenants = Action("ManageTenants")
    public static let manageNodes = Action("ManageNodes")
    public static let simulatePolicy = Action("SimulatePolicy")

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

    /// Whether `pattern` (already lowercased, as units) matches at least one name in the catalogue.
    package static func catalogueContains(match pattern: WildcardPattern) -> Bool {
        all.contains { action in action.matchNames.contains { pattern.matches($0) } }
    }
}
