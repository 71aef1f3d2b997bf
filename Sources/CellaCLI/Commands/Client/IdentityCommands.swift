import ArgumentParser
import Foundation

/// Whether `text` is a name the API accepts for principals and policies: 1-64 of A-Z a-z 0-9 - _.
private func checkName(_ text: String, _ what: String) throws {
    guard (1...64).contains(text.utf8.count),
          text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2d || $0 == 0x5f })
    else { throw ValidationError("\(what) \"\(text)\" must be 1-64 of A-Z, a-z, 0-9, '-' and '_'") }
}

// MARK: Principals

/// `cella principal create|ls|rm`: the users and service accounts of a tenant.
struct PrincipalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principal", abstract: "Create, list and delete users and service accounts of a tenant.",
        subcommands: [PrincipalCreate.self, PrincipalList.self, PrincipalRemove.self])
}

struct PrincipalCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a principal (it can do nothing until a policy is attached or it is an admin).")
    @Argument(help: "The principal's name.") var name: String
    @Flag(help: "A service account (default: a user).") var service = false
    @Flag(help: "A tenant admin: allowed everything in its tenant, no policy needed.") var admin = false
    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag for policy conditions (repeatable).", valueName: "K=V")) var tags: [String] = []
    @OptionGroup var client: ClientOptions

    func validate() throws {
        try checkName(name, "principal")
        _ = try parsedTags()
    }

    func parsedTags() throws -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for tag in tags {
            guard let eq = tag.firstIndex(of: "="), eq != tag.startIndex else { throw ValidationError("--tag: \"\(tag)\" is not K=V") }
            result[String(tag[..<eq])] = .string(String(tag[tag.index(after: eq)...]))
        }
        return result
    }

    func run() async throws {
        try await runClient {
            var body: [String: JSONValue] = ["name": .string(name), "kind": .string(service ? "service-account" : "user")]
            if admin { body["admin"] = .bool(true) }
            let tags = try parsedTags()
            if !tags.isEmpty { body["tags"] = .object(tags) }
            try await APIClient(target: client.resolve()).call(.POST, "/v1/principals", json: .object(body))
            Render.out("created \(service ? "service account" : "user") \(name)\(admin ? " (tenant admin)" : "")\n")
        }
    }
}

struct PrincipalList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the tenant's principals.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, "/v1/principals")
            Render.out(Render.text(list, as: output.output, columns: [
                Column("NAME", "name"), Column("KIND", "kind"), Column("ADMIN", "isAdmin"), Column.time("CREATED", "createdAtMs"),
            ]))
        }
    }
}

struct PrincipalRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a principal, its keys and its attachments.")
    @Argument(help: "The principal's name.") var name: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "principals", name))
            Render.out("deleted principal \(name)\n")
        }
    }
}

// MARK: Keys

/// `cella key create|ls|revoke`: API keys (bearer tokens) and access keys (SigV4).
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Create, list and revoke a principal's credentials.",
        subcommands: [KeyCreate.self, KeyList.self, KeyRevoke.self])
}

struct KeyCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an API key (default) or an access key pair for a principal; the secret is shown only now.",
        discussion: """
            An API key is a bearer token for `cella` and curl. An access key (--access-key) is an \
            access key id and secret for SigV4: boto3 and the aws CLI. The secret is printed once \
            and never again; with -o json it is the `key` (or `secretAccessKey`) field.
            """)
    @Argument(help: "The principal the key acts as.") var principal: String
    @Flag(name: .customLong("access-key"), help: "An access key id and secret for SigV4 instead of an API key.") var accessKey = false
    @Option(help: ArgumentHelp("Expire after this long: 30m, 12h, 90d.", valueName: "duration")) var expires: String?
    @Option(name: [.short, .long], help: "text (default), json or yaml.") var output = "text"
    @OptionGroup var client: ClientOptions

    func validate() throws {
        try checkName(principal, "principal")
        if let expires, LogsCommand.duration(expires) == nil { throw ValidationError("--expires: \"\(expires)\" is not a duration like 30m, 12h or 90d") }
        guard ["text", "json", "yaml"].contains(output) else { throw ValidationError("-o: text, json or yaml") }
    }

    func run() async throws {
        try await runClient {
            var body: [String: JSONValue] = ["kind": .string(accessKey ? "access-key" : "api-key")]
            if let expires, let ms = LogsCommand.duration(expires) { body["expiresInSeconds"] = .int(max(1, ms / 1000)) }
            let made = try await APIClient(target: client.resolve())
                .call(.POST, APIClient.path("v1", "principals", principal, "keys"), json: .object(body))
            switch output {
            case "json": Render.out(made.prettyJSON() + "\n")
            case "yaml": Render.out(YAML.emit(made))
            default:
                if accessKey {
                    Render.out("access key id: \(made["accessKeyId"]?.stringValue ?? "?")\n")
                    Render.out("secret access key: \(made["secretAccessKey"]?.stringValue ?? "?")\n")
                } else {
                    Render.out("key id: \(made["id"]?.stringValue ?? "?")\n")
                    Render.out("key: \(made["key"]?.stringValue ?? "?")\n")
                }
                Render.err("the secret is shown only now; store it safely\n")
            }
        }
    }
}

struct KeyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List credentials (never their secrets).")
    @Option(help: "Only this principal's.") var principal: String?
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, "/v1/keys", query: [("principal", principal)])
            Render.out(Render.text(list, as: output.output, columns: [
                Column("ID", "id"), Column("KIND", "kind"), Column("PRINCIPAL", "principal"),
                Column.time("CREATED", "createdAtMs"), Column.time("EXPIRES", "expiresAtMs"), Column.time("REVOKED", "revokedAtMs"),
            ]))
        }
    }
}

struct KeyRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a credential; it is refused at once.")
    @Argument(help: "The key's id (see `cella key ls`).") var id: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "keys", id))
            Render.out("revoked key \(id)\n")
        }
    }
}

// MARK: Policies

struct PolicyPut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Create or replace a policy from a JSON document (AWS's policy grammar).",
        discussion: "The controller validates the document and names what is wrong; nothing is stored then.")
    @Argument(help: "The policy's name.") var name: String
    @Argument(help: ArgumentHelp("The policy document: a file, or - for stdin.", valueName: "file")) var file: String
    @OptionGroup var client: ClientOptions

    func validate() throws { try checkName(name, "policy") }

    func run() async throws {
        try await runClient {
            let bytes: [UInt8]
            if file == "-" {
                bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
            } else {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ClientError.usage("cannot read the policy file \(file)")
                }
                bytes = Array(data)
            }
            guard (try? JSONValue.parse(bytes)) != nil else {
                throw ClientError.usage("\(file) is not JSON", hint: "a policy is {\"Version\":\"2012-10-17\",\"Statement\":[...]}")
            }
            try await APIClient(target: client.resolve()).call(.PUT, APIClient.path("v1", "policies", name), body: bytes)
            Render.out("put policy \(name)\n")
        }
    }
}

struct PolicyGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a policy's document.")
    @Argument(help: "The policy's name.") var name: String
    @Option(name: [.short, .long], help: "document (default: the JSON document as stored), json or yaml (the record).") var output = "document"
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard ["document", "json", "yaml"].contains(output) else { throw ValidationError("-o: document, json or yaml") }
    }

    func run() async throws {
        try await runClient {
            let record = try await APIClient(target: client.resolve()).call(.GET, APIClient.path("v1", "policies", name))
            switch output {
            case "json": Render.out(record.prettyJSON() + "\n")
            case "yaml": Render.out(YAML.emit(record))
            default:
                let document = record["document"]?.stringValue ?? ""
                Render.out(document.hasSuffix("\n") ? document : document + "\n")
            }
        }
    }
}

struct PolicyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the tenant's policies.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, "/v1/policies")
            Render.out(Render.text(list, as: output.output, columns: [
                Column("NAME", "name"), Column.time("UPDATED", "updatedAtMs"),
                Column("STATEMENTS") { row in
                    guard let text = row["document"]?.stringValue, let doc = try? JSONValue.parse(Array(text.utf8)) else { return "-" }
                    return String(doc["Statement"]?.arrayValue?.count ?? 1)
                },
            ]))
        }
    }
}

struct PolicyRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a policy (and its attachments).")
    @Argument(help: "The policy's name.") var name: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "policies", name))
            Render.out("deleted policy \(name)\n")
        }
    }
}

struct PolicyAttach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Attach a policy to a principal.")
    @Argument(help: "The policy's name.") var policy: String
    @Argument(help: "The principal's name.") var principal: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.PUT, APIClient.path("v1", "policies", policy, "attachments", principal))
            Render.out("attached policy \(policy) to \(principal)\n")
        }
    }
}

struct PolicyDetach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detach", abstract: "Detach a policy from a principal.")
    @Argument(help: "The policy's name.") var policy: String
    @Argument(help: "The principal's name.") var principal: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "policies", policy, "attachments", principal))
            Render.out("detached policy \(policy) from \(principal)\n")
        }
    }
}
