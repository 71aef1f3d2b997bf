import ArgumentParser

/// `cella tenant create|ls|rm` (operator).
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create, list and delete tenants (operator).",
        subcommands: [TenantCreate.self, TenantList.self, TenantRemove.self])
}

struct TenantCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a tenant.")
    @Argument(help: "The tenant's id: 1-63 of a-z, 0-9 and '-'.") var id: String
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard (1...63).contains(id.utf8.count), id.utf8.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }) else {
            throw ValidationError("tenant id \"\(id)\" must be 1-63 of a-z, 0-9 and '-'")
        }
    }

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.POST, "/v1/tenants", json: .object(["id": .string(id)]))
            Render.out("created tenant \(id)\n")
        }
    }
}

struct TenantList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List tenants.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, "/v1/tenants")
            Render.out(Render.text(list, as: output.output, columns: [Column("ID", "id"), Column.time("CREATED", "createdAtMs")]))
        }
    }
}

struct TenantRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a tenant with everything it owns.")
    @Argument(help: "The tenant's id.") var id: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "tenants", id))
            Render.out("deleted tenant \(id)\n")
        }
    }
}
