import Foundation
import Testing

@testable import CellaCLI

/// The configuration file: round trip, permissions, and how flags, environment and contexts
/// combine.
@Suite struct ClientConfigTests {
    /// A fresh directory standing in for $XDG_CONFIG_HOME, removed afterwards.
    private func withConfigHome(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "cella-cli-config-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    private func mode(_ path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o777 : 0
    }

    @Test func pathHonoursXDGConfigHome() {
        #expect(ClientConfig.path(environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/h"]) == "/x/cella/config.json")
        #expect(ClientConfig.path(environment: ["HOME": "/h"]) == "/h/.config/cella/config.json")
        #expect(ClientConfig.path(environment: ["XDG_CONFIG_HOME": "relative", "HOME": "/h"]) == "/h/.config/cella/config.json")
    }

    @Test func roundTripWithPrivateModes() throws {
        try withConfigHome { home in
            let path = ClientConfig.path(environment: ["XDG_CONFIG_HOME": home])
            var config = try ClientConfig.load(from: path)
            #expect(config == ClientConfig())
            config.upsert(.init(name: "b", endpoint: "http://b:1", key: "kb", tenant: nil))
            config.upsert(.init(name: "a", endpoint: "http://a:1", key: "ka", tenant: "acme"))
            config.upsert(.init(name: "b", endpoint: "http://b:2", key: "kb2", tenant: nil))
            config.current = "b"
            try config.save(to: path)
            #expect(mode(path) == 0o600)
            #expect(mode(home + "/cella") == 0o700)
            let loaded = try ClientConfig.load(from: path)
            #expect(loaded == config)
            #expect(loaded.contexts.map(\.name) == ["a", "b"])
            #expect(loaded.context(named: "b")?.endpoint == "http://b:2")
            // Saving again over an existing file keeps 0600 and leaves no temporary file.
            try loaded.save(to: path)
            #expect(mode(path) == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: home + "/cella") == ["config.json"])
        }
    }

    @Test func aCorruptFileIsAUsageError() throws {
        try withConfigHome { home in
            let path = home + "/config.json"
            try Data("not json".utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: ClientError.self) { try ClientConfig.load(from: path) }
            #expect(error?.kind == .usage)
        }
    }

    @Test func flagsThenEnvironmentThenContext() throws {
        try withConfigHome { home in
            let env = ["XDG_CONFIG_HOME": home]
            var config = ClientConfig()
            config.upsert(.init(name: "main", endpoint: "http://ctx:9000/", key: "ctx-key", tenant: "acme"))
            config.upsert(.init(name: "other", endpoint: "http://other:9000", key: "other-key", tenant: nil))
            config.current = "main"
            try config.save(to: ClientConfig.path(environment: env))

            let fromContext = try ClientOptions.parse([]).resolve(environment: env)
            #expect(fromContext == .init(endpoint: "http://ctx:9000", key: "ctx-key", tenant: "acme"))
            let named = try ClientOptions.parse(["--context", "other"]).resolve(environment: env)
            #expect(named == .init(endpoint: "http://other:9000", key: "other-key", tenant: nil))
            var withEnv = env
            withEnv["CELLA_ENDPOINT"] = "http://env:1"
            withEnv["CELLA_KEY"] = "env-key"
            let fromEnv = try ClientOptions.parse([]).resolve(environment: withEnv)
            #expect(fromEnv == .init(endpoint: "http://env:1", key: "env-key", tenant: "acme"))
            let fromFlags = try ClientOptions.parse(["--endpoint", "http://flag:2", "--key", "flag-key", "--tenant", "t2"]).resolve(environment: withEnv)
            #expect(fromFlags == .init(endpoint: "http://flag:2", key: "flag-key", tenant: "t2"))
            let unknown = try ClientOptions.parse(["--context", "nope"])
            let error = #expect(throws: ClientError.self) { try unknown.resolve(environment: env) }
            #expect(error?.kind == .usage)
        }
    }

    @Test func nothingConfiguredSaysToLogIn() throws {
        try withConfigHome { home in
            let options = try ClientOptions.parse([])
            do {
                _ = try options.resolve(environment: ["XDG_CONFIG_HOME": home])
                Issue.record("resolved without any configuration")
            } catch {
                let clientError = error as? ClientError
                #expect(clientError?.kind == .usage)
                #expect(clientError?.hint?.contains("cella login") == true)
            }
        }
    }

    @Test("endpoints must be http(s) URLs", arguments: ["ftp://h", "h:9000", "", "http://"])
    func badEndpoints(_ endpoint: String) {
        #expect(throws: ClientError.self) { try ClientOptions.normalize(endpoint) }
    }

    @Test func apiErrorsCarryTheCodeAndAHint() {
        let e = ClientError.api(status: 401, body: Array(#"{"code":"Unauthorized","message":"bad token"}"#.utf8))
        #expect(e.kind == .api && e.code == "Unauthorized" && e.message == "bad token")
        #expect(e.hint?.contains("cella login") == true)
        let quota = ClientError.api(status: 429, body: Array(#"{"code":"TooManyRequests","message":"slow down","reason":"CallerRateLimitExceeded"}"#.utf8))
        #expect(quota.message == "slow down (CallerRateLimitExceeded)")
        let html = ClientError.api(status: 502, body: Array("<html>bad gateway</html>".utf8))
        #expect(html.message.contains("502") && html.code == nil)
    }
}
