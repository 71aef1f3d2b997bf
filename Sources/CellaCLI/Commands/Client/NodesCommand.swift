import ArgumentParser

/// `cella nodes ls|drain|undrain` (operator).
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "List node agents; stop or resume placements on one (operator).",
        subcommands: [NodesList.self, NodesDrain.self, NodesUndrain.self])
}

struct NodesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the nodes the controller knows.")
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runClient {
            let list = try await APIClient(target: client.resolve()).call(.GET, "/v1/nodes")
            Render.out(Render.text(list, as: output.output, columns: [
                Column("ID", "id"), Column("STATUS", "status"), Column("ADDRESS", "address"),
                Column("IN-FLIGHT", "inFlight"),
                Column("MEMORY-MIB") { "\(($0["memoryReservedBytes"]?.intValue ?? 0) >> 20)/\(($0["memoryBudgetBytes"]?.intValue ?? 0) >> 20)" },
                Column("WARM") { String($0["warm"]?.arrayValue?.count ?? 0) },
                Column.time("LAST-HEARTBEAT", "lastHeartbeatMs"),
            ]))
        }
    }
}

struct NodesDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Stop placing invocations on a node; those in flight finish.")
    @Argument(help: "The node's id.") var id: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.POST, APIClient.path("v1", "nodes", id, "drain"))
            Render.out("node \(id) draining\n")
        }
    }
}

struct NodesUndrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undrain", abstract: "Resume placing invocations on a node.")
    @Argument(help: "The node's id.") var id: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            try await APIClient(target: client.resolve()).call(.DELETE, APIClient.path("v1", "nodes", id, "drain"))
            Render.out("node \(id) taking invocations\n")
        }
    }
}
