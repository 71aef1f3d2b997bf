/// What a tenant says about a function: how to run its code and within which limits. The code
/// itself travels separately, as a bundle named by its digest.
public struct FunctionConfig: Codable, Sendable, Hashable {
    /// `[A-Za-z0-9_-]`, 1 to 64 characters, as Lambda's function names.
    public var name: String
    /// A runtime the agent knows, e.g. `python3.11` or `provided`.
    public var runtime: String
    /// `module.function` for language runtimes; ignored by `provided`, whose `bootstrap` decides.
    public var handler: String?
    /// The instance's memory limit, which also decides its CPU share: 128 to 10240.
    public var memoryMB: Int
    /// The longest an invocation may run: 1 to 900 seconds.
    public var timeoutSeconds: Int
    /// Variables added to the runtime's environment. Names Lambda reserves are refused.
    public var environment: [String: String]
    /// The most instances that may serve the function at once; nil for no reservation, 0 to
    /// stop every invocation (as Lambda's reserved concurrency of zero).
    public var reservedConcurrency: Int?

    public static let memoryRange = 128...10240
    public static let timeoutRange = 1...900
    public static let concurrencyRange = 0...10_000
    /// Lambda's limit on the whole environment: 4 KB of names and values.
    public static let maxEnvironmentBytes = 4096

    /// Variables the platform sets itself, which a function may not override (Lambda's list).
    public static let reservedEnvironment: Set<String> = [
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    ]

    public init(
        name: String, runtime: String, handler: String? = nil, memoryMB: Int = 128,
        timeoutSeconds: Int = 3, environment: [String: String] = [:], reservedConcurrency: Int? = nil
    ) {
        self.name = name
        self.runtime = runtime
        self.handler = handler
        self.memoryMB = memoryMB
        self.timeoutSeconds = timeoutSeconds
        self.environment = environment
        self.reservedConcurrency = reservedConcurrency
    }

    enum CodingKeys: String, CodingKey {
        case name, runtime, handler, memoryMB, timeoutSeconds, environment, reservedConcurrency
    }

    /// Decodes with Lambda's defaults for what is left out (128 MB, 3 s, no variables).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        runtime = try c.decode(String.self, forKey: .runtime)
        handler = try c.decodeIfPresent(String.self, forKey: .handler)
        memoryMB = try c.decodeIfPresent(Int.self, forKey: .memoryMB) ?? 128
        timeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? 3
        environment = try c.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        reservedConcurrency = try c.decodeIfPresent(Int.self, forKey: .reservedConcurrency)
    }

    /// Checks every rule; the first broken one is thrown.
    /// - Throws: `ModelError` naming the field and the rule.
    public func validate() throws(ModelError) {
        try Self.validateName(name)
        guard !runtime.isEmpty, runtime.utf8.count <= 32,
              runtime.utf8.allSatisfy({ Self.isNameByte($0) || $0 == UInt8(ascii: ".") })
        else { throw ModelError(field: "runtime", "\"\(runtime)\" is not a runtime name") }
        if let handler {
            guard !handler.isEmpty, handler.utf8.count <= 128,
                  handler.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
            else { throw ModelError(field: "handler", "must be 1-128 printable characters without spaces") }
        }
        guard Self.memoryRange.contains(memoryMB) else {
            throw ModelError(field: "memoryMB", "\(memoryMB) is outside \(Self.memoryRange.lowerBound)...\(Self.memoryRange.upperBound)")
        }
        guard Self.timeoutRange.contains(timeoutSeconds) else {
            throw ModelError(field: "timeoutSeconds", "\(timeoutSeconds) is outside \(Self.timeoutRange.lowerBound)...\(Self.timeoutRange.upperBound)")
        }
        if let reservedConcurrency, !Self.concurrencyRange.contains(reservedConcurrency) {
            throw ModelError(field: "reservedConcurrency", "\(reservedConcurrency) is outside \(Self.concurrencyRange.lowerBound)...\(Self.concurrencyRange.upperBound)")
        }
        var bytes = 0
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) {
            let field = "environment.\(key)"
            guard let first = key.utf8.first, Self.isLetter(first),
                  key.utf8.allSatisfy({ Self.isLetter($0) || Self.isDigit($0) || $0 == UInt8(ascii: "_") })
            else { throw ModelError(field: field, "a variable name is a letter followed by letters, digits and _") }
            guard !Self.reservedEnvironment.contains(key) else {
                throw ModelError(field: field, "\(key) is set by the platform and cannot be overridden")
            }
            guard !value.utf8.contains(0) else { throw ModelError(field: field, "contains a NUL byte") }
            bytes += key.utf8.count + value.utf8.count
        }
        guard bytes <= Self.maxEnvironmentBytes else {
            throw ModelError(field: "environment", "\(bytes) bytes of names and values; the limit is \(Self.maxEnvironmentBytes)")
        }
    }

    /// - Throws: `ModelError` for `name` when `value` is not a function name.
    public static func validateName(_ value: String, field: String = "name") throws(ModelError) {
        guard !value.isEmpty, value.utf8.count <= 64, value.utf8.allSatisfy(isNameByte) else {
            throw ModelError(field: field, "\"\(value)\" must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
    }

    static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a }
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isNameByte(_ b: UInt8) -> Bool {
        isLetter(b) || isDigit(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }
}
