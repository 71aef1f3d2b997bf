import ArgumentParser
import Foundation

/// `cella login`: checks an endpoint and key with `GET /v1/functions`, then stores them as a
/// context and makes it current.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check an endpoint and API key, and save them as the current context.",
        discussion: """
            The key comes from --key, else $CELLA_KEY, else it is read from stdin (without echo on a \
            terminal). Contexts live in $XDG_CONFIG_HOME/cella/config.json (default \
            ~/.config/cella/config.json), mode 0600.
            """
    )

    @Option(help: ArgumentHelp("The controller's URL, e.g. http://127.0.0.1:9000.", valueName: "url"))
    var endpoint: String

    @Option(help: ArgumentHelp("The API key (else $CELLA_KEY, else read from stdin).", valueName: "key"))
    var key: String?

    @Option(help: ArgumentHelp("Act in this tenant (sent as X-Cella-Tenant).", valueName: "tenant"))
    var tenant: String?

    @Option(help: ArgumentHelp("The context's name.", valueName: "name"))
    var name = "default"

    func validate() throws {
        guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--name: \"\(name)\" must be 1-64 letters, digits, '-', '_' or '.'")
        }
    }

    func run() async throws {
        try await runClient {
            let endpoint = try ClientOptions.normalize(self.endpoint)
            let key = try self.key ?? ProcessInfo.processInfo.environment["CELLA_KEY"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.promptKey()
            let target = ClientOptions.Resolved(endpoint: endpoint, key: key, tenant: tenant)
            try await APIClient(target: target).call(.GET, "/v1/functions")
            let path = ClientConfig.path()
            var config = try ClientConfig.load(from: path)
            config.upsert(.init(name: name, endpoint: endpoint, key: key, tenant: tenant))
            config.current = name
            try config.save(to: path)
            Render.out("logged in to \(endpoint)\(tenant.map { " as tenant \($0)" } ?? ""); context \(name) saved in \(path) and made current\n")
        }
    }

    /// Reads one line from stdin, with echo off when stdin is a terminal.
    static func promptKey() throws(ClientError) -> String {
        let tty = isatty(STDIN_FILENO) == 1
        var saved = termios()
        if tty {
            Render.err("API key: ")
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        let line = readLine(strippingNewline: true)
        if tty {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            Render.err("\n")
        }
        guard let key = line?.trimmingCharacters(in: .whitespaces), !key.isEmpty else {
            throw .usage("no API key given", hint: "pass --key, set CELLA_KEY, or type it when asked")
        }
        return key
    }
}
