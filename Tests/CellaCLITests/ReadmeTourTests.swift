import Foundation
import Testing

@testable import CellaCLI

/// The README's tour, run as written: its shell blocks between `<!-- tour -->` and
/// `<!-- /tour -->`, in order, as one `bash -euo pipefail` script, against a fresh `cella up`.
/// The only changes made to the text: the port (the tour says 9000; the test takes a free one)
/// and the data directory (the tour says the default, /var/lib/cella/up; the test's is its own). Then what the tour promises
/// is checked: every invocation's answer, the refused ones, the log tail, logs and `cella top`.
@Suite(
    .serialized, .timeLimit(.minutes(5)), .runsAsRoot, .needsPythonRuntime
)
struct ReadmeTourTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The tour's shell blocks, joined.
    static func tourScript(_ readme: String) throws -> String {
        let start = try #require(readme.range(of: "<!-- tour -->"), "README.md has no <!-- tour --> marker")
        let end = try #require(readme.range(of: "<!-- /tour -->"), "README.md has no <!-- /tour --> marker")
        var script = ""
        var inBlock = false
        for line in readme[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if !inBlock, line == "```sh" {
                inBlock = true
            } else if inBlock, line == "```" {
                inBlock = false
                script += "\n"
            } else if inBlock {
                script += line + "\n"
            }
        }
        #expect(!inBlock, "a ```sh block of the tour is not closed")
        return script
    }

    @Test func theTourHasItsCommands() throws {
        let script = try Self.tourScript(try String(contentsOfFile: Self.repository + "/README.md", encoding: .utf8))
        for command in ["cella login", "cella fn deploy", "cella invoke", "curl", "boto3", "cella tenant create",
                        "cella policy put", "cella policy attach", "cella key create", "cella logs", "cella top"] {
            #expect(script.contains(command), "the tour lost \(command)")
        }
        #expect(script.contains("127.0.0.1:9000"))
    }

    @Test func everyCommandOfTheTourRuns() async throws {
        let harness = try CLIHarness()
        defer { harness.cleanUp() }
        let dataDir = harness.root + "/data"
        let (endpoint, _) = try await harness.startUp(dataDir: dataDir)
        let hostPort = String(endpoint.dropFirst("http://".count))

        let readme = try String(contentsOfFile: Self.repository + "/README.md", encoding: .utf8)
        let tour = try Self.tourScript(readme)
        let work = harness.root + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repository + "/examples", toPath: work + "/examples")
        let script = work + "/tour.sh"
        #expect(tour.contains(UpCommand.defaultDataDirectory() + "/operator-key"), "the tour no longer reads the default data directory's key")
        let script_ = tour.replacingOccurrences(of: "127.0.0.1:9000", with: hostPort)
            .replacingOccurrences(of: UpCommand.defaultDataDirectory() + "/", with: dataDir + "/")
        try Data(("set -euo pipefail\n" + script_).utf8)
            .write(to: URL(fileURLWithPath: script))

        let r = harness.run("/bin/bash", [script], directory: work)
        #expect(r.status == 0, "the tour failed: \(r)")
        for promised in ["ready: hello", "hello, Ada", "hello, later", "hello, curl", "hello, live", "hello, ci",
                         "hello, boto3", "private: refused, as the policy says", "private: AccessDeniedException",
                         "allowed", "published version 1", "attached policy invoke-hello to ci", "NODE", "FUNCTION"] {
            #expect(r.stdout.contains(promised), "the tour's output lacks \"\(promised)\": \(r)")
        }
        // --log: the function's print on stderr; the refused CLI call names the action.
        #expect(r.stderr.contains("saying hello to Ada"), "\(r)")
        #expect(r.stderr.contains("InvokeFunction"), "the refused call does not name the action: \(r.stderr.suffix(1500))")

        // What the agent ships after each heartbeat: logs and the records `cella top` counts.
        var logs = ""
        var row: JSONValue?
        for _ in 0..<40 {
            logs = harness.cella(["logs", "hello", "--since", "10m"]).stdout
            let top = try harness.json(["top", "--once", "-o", "json", "--window", "600"])
            row = top["functions"]?.arrayValue?.first { $0["function"] == .string("hello") }
            if logs.contains("saying hello to curl") && logs.contains("REPORT"), (row?["invocations"]?.intValue ?? 0) >= 5 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(logs.contains("saying hello to curl") && logs.contains("REPORT"), "logs: \(logs)")
        // Ada twice, later, curl, live in tenant default (the acme ones are another tenant's).
        #expect(row?["invocations"]?.intValue == 5, "top: \(String(describing: row))")
        #expect((row?["instances"]?.intValue ?? 0) >= 1 && (row?["memoryBytes"]?.intValue ?? 0) >= 128 << 20,
                "top: \(String(describing: row))")
        #expect((row?["cold"]?.intValue ?? 0) + (row?["clone"]?.intValue ?? 0) >= 1, "top: \(String(describing: row))")
        let acme = try harness.json(["top", "--once", "-o", "json", "--tenant", "acme", "--window", "600"])
        let acmeHello = acme["functions"]?.arrayValue?.first { $0["function"] == .string("hello") }
        #expect(acme["tenant"] == .string("acme") && acme["nodes"]?.arrayValue?.count == 1, "\(acme)")
        #expect(acmeHello != nil, "\(acme)")

        let status = try await harness.stopUp()
        #expect(status == 0, "cella up exited with \(status)")
        #expect(harness.sandboxCgroups().isEmpty, "cgroups left: \(harness.sandboxCgroups())")
    }
}
