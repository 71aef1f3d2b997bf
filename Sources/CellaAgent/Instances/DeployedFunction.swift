import CellaModel

/// A function version made runnable on this node: its config, its unpacked code and its runtime.
public struct DeployedFunction: Sendable {
    public let tenant: String
    public let config: FunctionConfig
    public let version: String
    public let bundleDigest: String
    /// The unpacked bundle on the host, mounted read-only at `/var/task`.
    let codePath: String
    let runtime: Runtime
    /// The program the sandbox starts: the bundle's own `bootstrap` when it has an executable one
    /// (a custom runtime, as in Lambda), else the runtime's.
    let bootstrap: String
    /// Which host uid range the tenant's sandboxes map onto.
    let ownerIndex: UInt32
    /// Numbers each deploy on this agent: an instance of an earlier deploy of the same version
    /// (other code or config) is retired instead of reused.
    let deployment: UInt64

    /// `tenant/name:version`: names the function version in the pool, the logs and the metrics.
    public var key: String { Self.key(tenant: tenant, name: config.name, version: version) }

    static func key(tenant: String, name: String, version: String) -> String {
        "\(tenant)/\(name):\(version)"
    }

    var memoryBytes: UInt64 { UInt64(config.memoryMB) << 20 }

    /// Whether new instances may be cloned from a template: the runtime's own bootstrap speaks
    /// the template protocol (a bundle's own bootstrap, e.g. awslambdaric, is never assumed to).
    var supportsTemplates: Bool {
        runtime.templates == Template.protocolVersion && bootstrap == runtime.bootstrap
    }

    /// The ARN runtimes see as the invoked function, in Lambda's form with the tenant as account.
    func arn(region: String) -> String {
        "arn:aws:lambda:\(region):\(tenant):function:\(config.name)"
            + (version == "$LATEST" ? "" : ":\(version)")
    }
}
