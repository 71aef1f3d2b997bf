import ArgumentParser
import Foundation

/// `cella fn deploy`: packs (or reads) the code, uploads it as a bundle, then creates the function
/// or updates its code and config, and publishes a version when asked.
struct FnDeploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy a function from a directory, a .zip or a .tar.gz.",
        discussion: """
            A directory is zipped deterministically (same files, same digest), keeping executable \
            bits; a .zip or .tar.gz is uploaded as is. When the function exists its code is \
            replaced and the options given here change its config; the rest stays.
            """
    )

    @Argument(help: ArgumentHelp("The code: a directory, a .zip or a .tar.gz.", valueName: "dir|zip"))
    var source: String

    @Option(help: "The function's name.")
    var name: String

    @Option(help: ArgumentHelp("python3.11 or provided (needed when creating).", valueName: "runtime"))
    var runtime: String?

    @Option(help: ArgumentHelp("module.function (default app.handler for python runtimes).", valueName: "handler"))
    var handler: String?

    @Option(help: ArgumentHelp("Memory in MB, 128-10240 (default 128).", valueName: "MB"))
    var memory: Int?

    @Option(help: ArgumentHelp("Timeout in seconds, 1-900 (default 3).", valueName: "seconds"))
    var timeout: Int?

    @Option(name: .customLong("env"), help: ArgumentHelp("An environment variable (repeatable); replaces all of them on update.", valueName: "K=V"))
    var environment: [String] = []

    @Option(help: ArgumentHelp("Reserved concurrency, 0-10000.", valueName: "N"))
    var concurrency: Int?

    @Flag(help: "Publish a new version after deploying.")
    var publish = false

    @Flag(name: .customLong("no-wait"), help: "Do not wait until the code is unpacked and deployed on a node.")
    var noWait = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        _ = try parsedEnvironment()
        if let memory, !(128...10240).contains(memory) { throw ValidationError("--memory: \(memory) is outside 128...10240") }
        if let timeout, !(1...900).contains(timeout) { throw ValidationError("--timeout: \(timeout) is outside 1...900") }
        if let concurrency, !(0...10_000).contains(concurrency) { throw ValidationError("--concurrency: \(concurrency) is outside 0...10000") }
    }

    /// `--env` as a dictionary.
    /// - Throws: `ValidationError` for an entry without `=` or with an empty name.
    func parsedEnvironment() throws -> [String: String]? {
        guard !environment.isEmpty else { return nil }
        var result: [String: String] = [:]
        for item in environment {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw ValidationError("--env: \"\(item)\" is not K=V")
            }
            result[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return result
    }

    /// The bundle to upload and a description of it.
    static func bundle(from source: String) throws(ClientError) -> (bytes: [UInt8], what: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw .usage("\(source) does not exist", hint: "give a directory, a .zip or a .tar.gz")
        }
        if isDirectory.boolValue {
            let archive = try ZipPacker.pack(directory: source)
            let files = archive.entries.filter { $0.kind != .directory }.count
            return (archive.bytes, "packed \(source) (\(files) files, \(archive.bytes.count) bytes)")
        }
        let lower = source.lowercased()
        guard lower.hasSuffix(".zip") || lower.hasSuffix(".tar.gz") || lower.hasSuffix(".tgz") else {
            throw .usage("\(source) is neither a directory, a .zip nor a .tar.gz")
        }
        guard let data = FileManager.default.contents(atPath: source) else { throw .usage("cannot read \(source)") }
        return (Array(data), "read \(source) (\(data.count) bytes)")
    }

    func run() async throws {
        try await runClient {
            let api = APIClient(target: try client.resolve())
            let env = try parsedEnvironment()
            let (bytes, what) = try Self.bundle(from: source)
            Render.out(what + "\n")
            let bundle = try await api.call(.POST, "/v1/bundles", body: bytes, progress: true)
            guard let digest = bundle["digest"]?.stringValue else { throw ClientError(.api, "the bundle upload answered without a digest") }
            Render.out("uploaded bundle sha256:\(digest)\n")

            let path = APIClient.path("v1", "functions", name)
            let existing = try await api.send(.GET, path)
            if existing.status == 404 {
                guard let runtime else {
                    throw ClientError.usage("function \(name) does not exist yet: --runtime is needed to create it", hint: "add --runtime python3.11 or --runtime provided")
                }
                var config: [String: JSONValue] = ["name": .string(name), "runtime": .string(runtime)]
                if let h = handler ?? (runtime.hasPrefix("python") ? "app.handler" : nil) { config["handler"] = .string(h) }
                if let memory { config["memoryMB"] = .int(Int64(memory)) }
                if let timeout { config["timeoutSeconds"] = .int(Int64(timeout)) }
                if let env { config["environment"] = .object(env.mapValues { .string($0) }) }
                if let concurrency { config["reservedConcurrency"] = .int(Int64(concurrency)) }
                let created = try await api.call(.POST, "/v1/functions", json: .object([
                    "config": .object(config), "codeDigest": .string(digest), "publish": .bool(publish),
                ]))
                Render.out("created function \(name) (\(created[path: "config.runtime"]?.cell ?? runtime), \(created[path: "config.memoryMB"]?.cell ?? "?") MB, timeout \(created[path: "config.timeoutSeconds"]?.cell ?? "?") s)\n")
                let version = created["publishedVersion"]?.stringValue
                if let version { Render.out("published version \(version)\n") }
                try await waitUntilReady(api, qualifier: version)
                return
            }
            guard existing.ok, let current = try? JSONValue.parse(existing.body) else {
                throw ClientError.api(status: existing.status, body: existing.body)
            }
            if current["codeDigest"]?.stringValue == digest {
                Render.out("code of \(name) unchanged\n")
            } else {
                var body: [String: JSONValue] = ["codeDigest": .string(digest)]
                if let revision = current["revision"] { body["expectedRevision"] = revision }
                try await api.call(.PUT, path + "/code", json: .object(body))
                Render.out("updated code of \(name)\n")
            }
            var changes: [String: JSONValue] = [:]
            if let runtime { changes["runtime"] = .string(runtime) }
            if let handler { changes["handler"] = .string(handler) }
            if let memory { changes["memoryMB"] = .int(Int64(memory)) }
            if let timeout { changes["timeoutSeconds"] = .int(Int64(timeout)) }
            if let env { changes["environment"] = .object(env.mapValues { .string($0) }) }
            if let concurrency { changes["reservedConcurrency"] = .int(Int64(concurrency)) }
            if !changes.isEmpty {
                try await api.call(.PUT, path + "/config", json: .object(changes))
                Render.out("updated config of \(name): \(changes.keys.sorted().joined(separator: ", "))\n")
            }
            var published: String?
            if publish {
                let version = try await api.call(.POST, path + "/versions", json: .object([:]))
                published = version["version"]?.cell
                Render.out("published version \(published ?? "?")\n")
            }
            try await waitUntilReady(api, qualifier: published)
        }
    }

    /// Asks the controller to deploy the code to the node its next invocation goes to
    /// (`POST /v1/functions/NAME/prepare`): the bundle is unpacked and checked there, so a bad
    /// bundle or a missing runtime fails the deploy instead of the first invocation. With no node
    /// registered yet it waits (up to a minute) for one.
    func waitUntilReady(_ api: APIClient, qualifier: String?) async throws {
        guard !noWait else { return }
        let path = APIClient.path("v1", "functions", name, "prepare")
        let deadline = ContinuousClock.now + .seconds(60)
        var said = false
        while true {
            let answer = try await api.send(.POST, path, query: [("qualifier", qualifier)])
            if answer.ok, let ready = try? JSONValue.parse(answer.body) {
                Render.out("ready: \(name) \(ready["version"]?.cell ?? "") on node \(ready["node"]?.cell ?? "?")\n")
                return
            }
            let error = ClientError.api(status: answer.status, body: answer.body)
            let retryable = answer.status == 503 || answer.status == 429
            guard retryable, ContinuousClock.now < deadline else { throw error }
            if !said {
                Render.err("waiting for a node to take \(name): \(error.message)\n")
                said = true
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
