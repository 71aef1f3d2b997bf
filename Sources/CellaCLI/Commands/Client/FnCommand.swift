import ArgumentParser

/// `cella fn ...`: functions of the context's tenant.
struct FnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fn",
        abstract: "Deploy, list, inspect and remove functions; publish versions and aliases.",
        subcommands: [FnDeploy.self, FnList.self, FnGet.self, FnRemove.self, FnVersions.self, FnAlias.self]
    )

    /// Columns of `fn ls` and `fn get`.
    static let columns: [Column] = [
        Column("NAME", "name"), Column("RUNTIME", "config.runtime"), Column("HANDLER", "config.handler"),
        Column("MEMORY", "config.memoryMB"), Column("TIMEOUT", "config.timeoutSeconds"),
        Column("REVISION", "revision"), Column("CODE") { String(($0[path: "codeDigest"]?.stringValue ?? "-").prefix(12)) },
        Column.time("UPDATED", "updatedAtMs"),
    ]
}

struct FnList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the tenant's functions.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, "/v1/functions")
            Render.out(Render.text(list, as: output.output, columns: FnCommand.columns))
        }
    }
}

struct FnGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show one function ($LATEST).")
    @Argument(help: "The function's name.") var name: String
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let function = try await APIClient(target: client.resolve()).call(.GET, APIClient.path("v1", "functions", name))
            Render.out(Render.text(function, as: output.output, columns: FnCommand.columns))
        }
    }
}

struct FnRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete a function with its versions and aliases; its instances stop.")
    @Argument(help: "The function's name.") var name: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "functions", name))
            Render.out("deleted function \(name)\n")
        }
    }
}

struct FnVersions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "versions", abstract: "List a function's published versions.")
    @Argument(help: "The function's name.") var name: String
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, APIClient.path("v1", "functions", name, "versions"))
            Render.out(Render.text(list, as: output.output, columns: [
                Column("VERSION", "version"), Column("RUNTIME", "config.runtime"), Column("MEMORY", "config.memoryMB"),
                Column("CODE") { String(($0[path: "codeDigest"]?.stringValue ?? "-").prefix(12)) },
                Column("DESCRIPTION", "description"), Column.time("CREATED", "createdAtMs"),
            ]))
        }
    }
}

struct FnAlias: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias", abstract: "Point aliases at versions, or list them.", subcommands: [FnAliasSet.self, FnAliasList.self])
}

struct FnAliasSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Create or move an alias to a version.")
    @Argument(help: "The function's name.") var name: String
    @Argument(help: "The alias, e.g. prod.") var alias: String
    @Argument(help: "A published version number, or $LATEST.") var version: String
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let record = try await APIClient(target: client.resolve()).call(
                .PUT, APIClient.path("v1", "functions", name, "aliases", alias), json: .object(["version": .string(version)]))
            if output.output == .table {
                Render.out("alias \(alias) of \(name) -> version \(version)\n")
            } else {
                Render.out(Render.text(record, as: output.output, columns: []))
            }
        }
    }
}

struct FnAliasList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a function's aliases.")
    @Argument(help: "The function's name.") var name: String
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, APIClient.path("v1", "functions", name, "aliases"))
            Render.out(Render.text(list, as: output.output, columns: [
                Column("ALIAS", "name"), Column("VERSION", "version"), Column.time("UPDATED", "updatedAtMs"),
            ]))
        }
    }
}
