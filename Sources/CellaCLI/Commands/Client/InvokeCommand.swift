import ArgumentParser
import Foundation

/// `cella invoke`: runs a function and prints its answer; the exit status tells a function error
/// (1) from a usage (2) or platform (3) error.
struct InvokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoke",
        abstract: "Invoke a function and print its result.",
        discussion: """
            The event is --data JSON, --data @file, or stdin when it is not a terminal ({} \
            otherwise). Exit status: 0 success, 1 the function failed (its error object is \
            printed), 2 usage error, 3 platform or API error.
            """
    )

    @Argument(help: "The function's name.")
    var name: String

    @Option(help: ArgumentHelp("The event: JSON text, @file, or - for stdin.", valueName: "json|@file"))
    var data: String?

    @Flag(name: .customLong("async"), help: "Queue the invocation and print its id (see `cella invocation get`).")
    var isAsync = false

    @Flag(help: "Print the invocation's log tail (last 4 KB) to stderr.")
    var log = false

    @Option(help: ArgumentHelp("$LATEST (default), a version number or an alias.", valueName: "qualifier"))
    var qualifier: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if isAsync && log { throw ValidationError("--log needs a synchronous invocation (drop --async)") }
    }

    /// The event's bytes.
    /// - Throws: `ClientError` (usage) for an unreadable file.
    func event(stdinIsTTY: Bool = isatty(STDIN_FILENO) == 1) throws(ClientError) -> [UInt8] {
        switch data {
        case .some("-"): return Array(FileHandle.standardInput.readDataToEndOfFile())
        case .some(let text) where text.hasPrefix("@"):
            let path = String(text.dropFirst())
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw .usage("cannot read the event file \(path)", hint: "--data @FILE names a file holding the JSON event")
            }
            return Array(contents)
        case .some(let text): return Array(text.utf8)
        case .none: return stdinIsTTY ? Array("{}".utf8) : Array(FileHandle.standardInput.readDataToEndOfFile())
        }
    }

    func run() async throws {
        try await runClient {
            let api = APIClient(target: try client.resolve())
            var body = try event()
            if body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { body = Array("{}".utf8) }
            var headers = [("Content-Type", "application/json")]
            if isAsync { headers.append(("X-Cella-Invocation-Type", "Event")) }
            if log { headers.append(("X-Cella-Log-Type", "Tail")) }
            let answer = try await api.send(
                .POST, APIClient.path("v1", "functions", name, "invoke"), query: [("qualifier", qualifier)], body: body, headers: headers)
            guard answer.ok else { throw ClientError.api(status: answer.status, body: answer.body) }
            if isAsync {
                let accepted = try? JSONValue.parse(answer.body)
                guard let id = accepted?["invocationId"]?.stringValue else { throw ClientError(.api, "the async invoke answered without an invocation id") }
                Render.out(id + "\n")
                return
            }
            if log, let tail = answer.header("X-Cella-Log-Result"), let decoded = Data(base64Encoded: tail) {
                FileHandle.standardError.write(decoded)
                if decoded.last != 0x0a { Render.err("\n") }
            }
            FileHandle.standardOutput.write(Data(answer.body))
            if answer.body.last != 0x0a { Render.out("\n") }
            if let kind = answer.header("X-Cella-Function-Error") {
                let outcome = answer.header("X-Cella-Outcome").map { ", outcome \($0)" } ?? ""
                Render.err("error: the function failed (\(kind)\(outcome), request \(answer.header("X-Cella-Request-Id") ?? "?"))\n")
                throw ExitCode(ClientError.Kind.function.rawValue)
            }
        }
    }
}

/// `cella invocation get`: an async invocation's status and result.
struct InvocationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invocation", abstract: "Inspect async invocations.", subcommands: [InvocationGet.self])
}

struct InvocationGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Show an async invocation's status and result.",
        discussion: """
            With --wait, polls until the invocation has finished (succeeded or dead) and exits 1 \
            when it ended dead, 3 when --timeout passed first.
            """)
    @Argument(help: "The id `cella invoke --async` printed.") var id: String
    @Flag(help: "Wait until it has finished (succeeded or dead).") var wait = false
    @Option(help: ArgumentHelp("With --wait: give up after this many seconds.", valueName: "seconds")) var timeout = 60
    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard timeout >= 1 else { throw ValidationError("--timeout: at least 1 second") }
    }

    func run() async throws {
        try await runClient {
            let api = APIClient(target: try client.resolve())
            let deadline = ContinuousClock.now + .seconds(timeout)
            var invocation = try await api.call(.GET, APIClient.path("v1", "invocations", id))
            while wait, ["queued", "running"].contains(invocation["status"]?.stringValue ?? "") {
                guard ContinuousClock.now < deadline else {
                    throw ClientError(.api, "invocation \(id) is still \(invocation["status"]?.cell ?? "?") after \(timeout) s",
                                      hint: "wait longer with --timeout, or look again later")
                }
                try await Task.sleep(for: .milliseconds(250))
                invocation = try await api.call(.GET, APIClient.path("v1", "invocations", id))
            }
            Render.out(Render.text(invocation, as: output.output, columns: [
                Column("ID", "id"), Column("FUNCTION", "function"), Column("QUALIFIER", "qualifier"),
                Column("STATUS", "status"), Column("ATTEMPTS") { "\($0["attempts"]?.cell ?? "-")/\($0["maxAttempts"]?.cell ?? "-")" },
                Column("RESULT") { $0["result"]?.compactJSON() ?? $0["error"]?.cell ?? "-" },
            ]))
            if wait, invocation["status"]?.stringValue == "dead" { throw ExitCode(ClientError.Kind.function.rawValue) }
        }
    }
}
