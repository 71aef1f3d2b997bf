import ArgumentParser
import Foundation

/// `cella top`: a live table of the tenant's functions (invocations/s, errors, starts by kind,
/// instances, memory) and, for the operator, of the nodes, redrawn until Ctrl-C.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show invocations/s, errors, cold starts, instances and memory per function and node.",
        discussion: """
            Counts cover the last --window seconds of metering records (agents ship them about \
            once a second, so the newest second is still arriving); instances and memory are the \
            nodes' last heartbeats. Nodes are shown to the operator only. On a terminal the table \
            is redrawn every --interval seconds until Ctrl-C; with --once, -o json|yaml, or when \
            stdout is not a terminal it is printed once.
            """)

    @Option(help: ArgumentHelp("Seconds of records to count, 1-3600.", valueName: "seconds")) var window = 10
    @Option(help: ArgumentHelp("Seconds between redraws.", valueName: "seconds")) var interval = 2.0
    @Flag(help: "Print once and exit.") var once = false
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...3600).contains(window) else { throw ValidationError("--window: \(window) is outside 1...3600") }
        guard interval >= 0.2, interval <= 3600 else { throw ValidationError("--interval: at least 0.2 and at most 3600 seconds") }
    }

    /// The screen for one answer of `GET /v1/top`.
    static func screen(_ top: JSONValue) -> String {
        func mib(_ value: JSONValue?) -> String { String((value?.intValue ?? 0) >> 20) }
        let functions = top["functions"]?.arrayValue ?? []
        var text = "tenant \(top["tenant"]?.cell ?? "?") · last \(top["windowSeconds"]?.cell ?? "?") s · "
            + Render.timestamp(top["atMs"]?.intValue ?? 0)
        if top["truncated"]?.boolValue == true { text += " · (more records than one answer holds: newest counted)" }
        text += "\n\n"
        if functions.isEmpty {
            text += "no functions have run or hold instances in this window\n"
        } else {
            text += Render.table(
                header: ["FUNCTION", "INV/S", "INV", "ERRORS", "COLD", "CLONE", "WARM", "P50-MS", "INSTANCES", "BUSY", "MEMORY-MIB"],
                rows: functions.map { f in
                    [f["function"]?.cell ?? "?", String(format: "%.1f", f["perSecond"]?.doubleValue ?? 0),
                     f["invocations"]?.cell ?? "0", f["errors"]?.cell ?? "0", f["cold"]?.cell ?? "0",
                     f["clone"]?.cell ?? "0", f["warm"]?.cell ?? "0",
                     f["p50DurationMs"]?.doubleValue.map { String(format: "%.1f", $0) } ?? "-",
                     f["instances"]?.cell ?? "0", f["busy"]?.cell ?? "0", mib(f["memoryBytes"])]
                })
        }
        if let nodes = top["nodes"]?.arrayValue {
            text += "\n" + Render.table(
                header: ["NODE", "STATUS", "IN-FLIGHT", "INSTANCES", "MEMORY-MIB"],
                rows: nodes.map { n in
                    [n["id"]?.cell ?? "?", n["status"]?.cell ?? "?", n["inFlight"]?.cell ?? "0", n["instances"]?.cell ?? "0",
                     "\(mib(n["memoryReservedBytes"]))/\(mib(n["memoryBudgetBytes"]))"]
                })
        }
        return text
    }

    func run() async throws {
        try await runClient {
            let api = APIClient(target: try client.resolve())
            let live = !once && output.output == .table && isatty(STDOUT_FILENO) == 1
            repeat {
                let top = try await api.call(.GET, "/v1/top", query: [("window", String(window))])
                switch output.output {
                case .json: Render.out(top.prettyJSON() + "\n")
                case .yaml: Render.out(YAML.emit(top))
                case .table:
                    // Home, the screen, then clear what is left of the last one.
                    Render.out(live ? "\u{1B}[H" + Self.screen(top).replacingOccurrences(of: "\n", with: "\u{1B}[K\n") + "\u{1B}[J"
                                    : Self.screen(top))
                }
                if live { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            } while live
        }
    }
}
