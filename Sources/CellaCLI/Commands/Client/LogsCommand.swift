import ArgumentParser
import Foundation

/// `cella logs`: a function's log lines, oldest first; `-f` keeps polling once a second.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a function's log lines (START, END, REPORT and what it printed).")

    @Argument(help: "The function's name.")
    var name: String

    @Flag(name: .shortAndLong, help: "Keep printing new lines (polls every second) until Ctrl-C.")
    var follow = false

    @Option(help: ArgumentHelp("Only lines newer than this: 30s, 10m, 2h, 1d.", valueName: "duration"))
    var since: String?

    @Option(help: ArgumentHelp("Only the lines of this request.", valueName: "id"))
    var requestId: String?

    @Flag(help: "Prefix each line with its UTC time.")
    var timestamps = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let since, Self.duration(since) == nil { throw ValidationError("--since: \"\(since)\" is not a duration like 30s, 10m, 2h or 1d") }
    }

    /// `10m` → 600,000 ms; nil when not a duration.
    static func duration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Int64(text.dropLast(suffix.count)), n >= 0, n < Int64.max / factor else { continue }
            return n * factor
        }
        return nil
    }

    func run() async throws {
        try await runClient {
            let api = APIClient(target: try client.resolve())
            let path = APIClient.path("v1", "functions", name, "logs")
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            var sinceMs: Int64? = since.flatMap(Self.duration).map { now - $0 }
            // Lines at the newest millisecond already printed, so the next poll (from that
            // millisecond on) does not print them twice.
            var seenAtLast = Set<String>()
            while true {
                let lines = try await api.call(.GET, path, query: [
                    ("sinceMs", sinceMs.map(String.init)), ("requestId", requestId), ("limit", "1000"),
                ]).arrayValue ?? []
                var text = ""
                for line in lines {
                    let time = line["timeMs"]?.intValue ?? 0
                    let key = "\(line["requestId"]?.cell ?? "")|\(line["text"]?.cell ?? "")"
                    if let last = sinceMs, time < last { continue }
                    if time == sinceMs, seenAtLast.contains(key) { continue }
                    if time != sinceMs { seenAtLast = []; sinceMs = time }
                    seenAtLast.insert(key)
                    var body = line["text"]?.stringValue ?? ""
                    while body.hasSuffix("\n") { body.removeLast() }
                    text += (timestamps ? Render.timestamp(time) + " " : "") + body + "\n"
                }
                Render.out(text)
                guard follow else { return }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
