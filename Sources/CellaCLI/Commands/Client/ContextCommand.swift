import ArgumentParser
import Foundation

/// `cella context ls|use`: the contexts `cella login` saved.
struct ContextCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "context",
        abstract: "List the saved contexts or choose the current one.",
        subcommands: [ContextList.self, ContextUse.self]
    )
}

struct ContextList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the saved contexts (keys are not shown).")

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let config = try ClientConfig.load(from: ClientConfig.path())
            Render.out(Self.render(config, as: output.output))
        }
    }

    static func render(_ config: ClientConfig, as format: OutputFormat) -> String {
        let rows: [JSONValue] = config.contexts.map { context in
            var fields: [String: JSONValue] = [
                "name": .string(context.name), "endpoint": .string(context.endpoint),
                "current": .bool(context.name == config.current),
            ]
            if let tenant = context.tenant { fields["tenant"] = .string(tenant) }
            return .object(fields)
        }
        return Render.text(.array(rows), as: format, columns: [
            Column("CURRENT") { $0["current"] == .bool(true) ? "*" : "" },
            Column("NAME", "name"), Column("ENDPOINT", "endpoint"), Column("TENANT", "tenant"),
        ])
    }
}

struct ContextUse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "use", abstract: "Make a saved context the current one.")

    @Argument(help: "The context's name.")
    var name: String

    func run() async throws {
        try await runClient {
            let path = ClientConfig.path()
            var config = try ClientConfig.load(from: path)
            guard config.context(named: name) != nil else {
                throw ClientError.usage("no context named \(name)", hint: "`cella context ls` lists them; `cella login --name \(name)` makes one")
            }
            config.current = name
            try config.save(to: path)
            Render.out("current context: \(name)\n")
        }
    }
}
