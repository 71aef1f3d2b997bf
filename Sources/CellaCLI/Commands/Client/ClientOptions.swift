import ArgumentParser
import Foundation

/// The connection options every client command accepts. Precedence: flag, then environment
/// (`CELLA_ENDPOINT`, `CELLA_KEY`, `CELLA_TENANT`, `CELLA_CONTEXT`), then the named or current
/// context of the configuration file.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The controller's URL (overrides the context; env CELLA_ENDPOINT).", valueName: "url"))
    var endpoint: String?

    @Option(help: ArgumentHelp("The API key, a bearer token (env CELLA_KEY).", valueName: "key"))
    var key: String?

    @Option(help: ArgumentHelp("Act in this tenant (X-Cella-Tenant; env CELLA_TENANT).", valueName: "tenant"))
    var tenant: String?

    @Option(help: ArgumentHelp("Use this context of the configuration file instead of the current one (env CELLA_CONTEXT).", valueName: "name"))
    var context: String?

    /// Where to connect and with which key.
    struct Resolved: Equatable, Sendable {
        var endpoint: String
        var key: String
        var tenant: String?
    }

    /// - Throws: `ClientError` (usage) when no endpoint or key can be found, naming what to do.
    func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ClientError) -> Resolved {
        let configPath = ClientConfig.path(environment: environment)
        let config = try ClientConfig.load(from: configPath)
        let contextName = context ?? environment["CELLA_CONTEXT"].flatMap { $0.isEmpty ? nil : $0 } ?? config.current
        var base: ClientConfig.Context?
        if let contextName {
            base = config.context(named: contextName)
            if base == nil && (context != nil || environment["CELLA_CONTEXT"] != nil) {
                throw .usage("no context named \(contextName) in \(configPath)", hint: "`cella context ls` lists them")
            }
        }
        func pick(_ flag: String?, _ env: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            if let value = environment[env], !value.isEmpty { return value }
            return nil
        }
        guard let endpoint = pick(endpoint, "CELLA_ENDPOINT") ?? base?.endpoint else {
            throw .usage("no endpoint", hint: "run `cella login --endpoint URL`, or pass --endpoint (or set CELLA_ENDPOINT)")
        }
        guard let key = pick(key, "CELLA_KEY") ?? base?.key else {
            throw .usage("no API key", hint: "run `cella login`, or pass --key (or set CELLA_KEY)")
        }
        let tenant = pick(tenant, "CELLA_TENANT") ?? base?.tenant
        return Resolved(endpoint: try Self.normalize(endpoint), key: key, tenant: tenant)
    }

    /// `http(s)://host[:port]` without a trailing slash.
    /// - Throws: `ClientError` (usage) for anything else.
    static func normalize(_ endpoint: String) throws(ClientError) -> String {
        var value = endpoint
        while value.hasSuffix("/") { value.removeLast() }
        guard let url = URL(string: value), let scheme = url.scheme, ["http", "https"].contains(scheme),
              url.host != nil, url.query == nil
        else {
            throw .usage("endpoint \"\(endpoint)\" is not an http(s) URL", hint: "e.g. --endpoint http://127.0.0.1:9000")
        }
        return value
    }
}

/// `-o table|json|yaml`.
struct OutputOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Output format: table, json or yaml.")
    var output: OutputFormat = .table
}
