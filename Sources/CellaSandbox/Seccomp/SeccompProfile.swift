import Foundation

/// A seccomp profile in the OCI/Docker JSON format: `defaultAction`, `defaultErrnoRet`,
/// `syscalls[]` with `names`, `action`, `errnoRet` and `args`. Parsed strictly: keys Cella does
/// not implement (`includes`, `excludes`, `listenerPath`, ...) are rejected rather than ignored,
/// because ignoring a condition would silently widen a rule.
public struct SeccompProfile: Sendable, Hashable, Codable {
    public var defaultAction: Action
    public var defaultErrnoRet: UInt32?
    public var syscalls: [Rule]

    public enum Action: String, Sendable, Hashable, Codable {
        case allow = "SCMP_ACT_ALLOW"
        case errno = "SCMP_ACT_ERRNO"
        case kill = "SCMP_ACT_KILL"
        case killThread = "SCMP_ACT_KILL_THREAD"
        case killProcess = "SCMP_ACT_KILL_PROCESS"
        case trap = "SCMP_ACT_TRAP"
        case log = "SCMP_ACT_LOG"
    }

    public struct Rule: Sendable, Hashable, Codable {
        public var names: [String]
        public var action: Action
        public var errnoRet: UInt32?
        public var args: [Argument]?
        public var comment: String?

        public init(names: [String], action: Action, errnoRet: UInt32? = nil, args: [Argument]? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
        }
    }

    public struct Argument: Sendable, Hashable, Codable {
        public enum Operator: String, Sendable, Hashable, Codable {
            case notEqual = "SCMP_CMP_NE", lessThan = "SCMP_CMP_LT", lessOrEqual = "SCMP_CMP_LE"
            case equal = "SCMP_CMP_EQ", greaterOrEqual = "SCMP_CMP_GE", greaterThan = "SCMP_CMP_GT"
            case maskedEqual = "SCMP_CMP_MASKED_EQ"
        }
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: Operator

        public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: Operator) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }

    public init(defaultAction: Action, defaultErrnoRet: UInt32? = nil, syscalls: [Rule]) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.syscalls = syscalls
    }

    private static let topKeys: Set<String> = ["defaultAction", "defaultErrnoRet", "syscalls", "architectures", "comment"]
    private static let ruleKeys: Set<String> = ["names", "name", "action", "errnoRet", "args", "comment"]
    private static let argKeys: Set<String> = ["index", "value", "valueTwo", "op"]

    /// Parses a profile document.
    /// - Throws: `SandboxError.seccomp` naming the offending key or value.
    public init(json data: Data) throws(SandboxError) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw SandboxError(.seccomp, "seccomp profile is not valid JSON: \(error.localizedDescription)")
        }
        guard let top = object as? [String: Any] else {
            throw SandboxError(.seccomp, "seccomp profile must be a JSON object")
        }
        try Self.rejectUnknown(top, allowed: Self.topKeys, at: "")
        if let arches = top["architectures"] as? [String], !arches.isEmpty {
            // Cella filters the native architecture only; other ABIs hit the bad-arch action (kill).
            throw SandboxError(.seccomp, "seccomp profile: \"architectures\" is not supported (Cella filters the native architecture and kills other ABIs)")
        }
        for (i, rule) in ((top["syscalls"] as? [Any]) ?? []).enumerated() {
            guard let rule = rule as? [String: Any] else {
                throw SandboxError(.seccomp, "seccomp profile: syscalls[\(i)] must be an object")
            }
            try Self.rejectUnknown(rule, allowed: Self.ruleKeys, at: "syscalls[\(i)].")
            for (j, arg) in ((rule["args"] as? [Any]) ?? []).enumerated() {
                guard let arg = arg as? [String: Any] else {
                    throw SandboxError(.seccomp, "seccomp profile: syscalls[\(i)].args[\(j)] must be an object")
                }
                try Self.rejectUnknown(arg, allowed: Self.argKeys, at: "syscalls[\(i)].args[\(j)].")
            }
        }
        do { self = try JSONDecoder().decode(SeccompProfile.self, from: data) } catch {
            throw SandboxError(.seccomp, "seccomp profile: \(Self.describe(error))")
        }
        for (i, rule) in syscalls.enumerated() where rule.names.isEmpty {
            throw SandboxError(.seccomp, "seccomp profile: syscalls[\(i)].names is empty")
        }
    }

    /// Reads and parses a profile file.
    public init(contentsOf path: String) throws(SandboxError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SandboxError(.seccomp, "cannot read seccomp profile \(path)")
        }
        try self.init(json: data)
    }

    private static func rejectUnknown(_ object: [String: Any], allowed: Set<String>, at path: String) throws(SandboxError) {
        if let key = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SandboxError(.seccomp, "seccomp profile: unsupported key \"\(path)\(key)\"")
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .dataCorrupted(let c): return "\(path(c)): \(c.debugDescription)"
        case .keyNotFound(let key, let c): return "\(path(c)).\(key.stringValue): missing"
        case .typeMismatch(_, let c): return "\(path(c)): \(c.debugDescription)"
        case .valueNotFound(_, let c): return "\(path(c)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

extension SeccompProfile {
    /// Cella's default profile (`deploy/seccomp/default.json`, compiled into the binary so that
    /// no sandbox can start without it).
    public static let `default`: SeccompProfile = {
        do { return try SeccompProfile(json: Data(PackageResources.default_json)) } catch {
            fatalError("the built-in default seccomp profile does not parse: \(error)")
        }
    }()
}

extension SeccompProfile {
    /// The namespace flags a template's clone is created with (docs/runtime-snapshots.md):
    /// `CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS`.
    public static let templateCloneNamespaces: UInt64 = 0x7C02_0000
    /// The mount flags a clone mounts its own `/tmp` and `/dev/shm` with: `MS_NOSUID | MS_NODEV`.
    public static let templateMountFlags: UInt64 = 0x6

    /// The profile of a template sandbox: the default profile plus exactly what making a clone
    /// needs, `clone` with precisely the clone's namespace flags and `mount` with precisely
    /// `MS_NOSUID | MS_NODEV`. Each clone stacks the default profile on top of it before any
    /// user code runs in it, so only the template (the function's init) has these two rules;
    /// `mount` is useful only where the caller has CAP_SYS_ADMIN, i.e. in such a new namespace.
    public static let template: SeccompProfile = {
        var profile = SeccompProfile.default
        profile.syscalls.append(Rule(
            names: ["clone"], action: .allow,
            args: [Argument(index: 0, value: 0x7E02_0000, valueTwo: templateCloneNamespaces, op: .maskedEqual)]))
        profile.syscalls.append(Rule(
            names: ["mount"], action: .allow,
            args: [Argument(index: 3, value: templateMountFlags, op: .equal)]))
        return profile
    }()
}
