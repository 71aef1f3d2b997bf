import Foundation
import Testing

/// `cella policy simulate` offline, through the binary: the decision, the deciding statement and
/// the exit status (0 allowed, 1 denied, 2 invalid input).
@Suite struct PolicySimulateTests {
    static let cella = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/cella"

    /// Through the harness's posix_spawn runner (Foundation's Process once missed a child's exit).
    static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let harness = try CLIHarness()
        defer { harness.cleanUp() }
        let r = harness.cella(["policy", "simulate"] + args)
        return (r.status, r.stdout, r.stderr)
    }

    static func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "policy-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func decisionsStatementsAndExitStatus() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.cella), "build the cella executable first")
        let policy = try Self.file(#"""
            {"Version":"2012-10-17","Statement":[
              {"Sid":"Invoke","Effect":"Allow","Action":"cella:InvokeFunction","Resource":"crn:cella:acme:function:resize*",
               "Condition":{"IpAddress":{"cella:SourceIp":"10.0.0.0/8"}}},
              {"Sid":"NoProd","Effect":"Deny","Action":"*","Resource":"crn:cella:acme:function:resize:prod"}]}
            """#)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let base = ["--action", "cella:InvokeFunction", "--policy-file", policy]
        let allowed = try Self.run(base + ["--resource", "crn:cella:acme:function:resize", "--condition", "cella:SourceIp=10.1.2.3"])
        #expect(allowed.status == 0 && allowed.out.hasPrefix("allowed") && allowed.out.contains("Invoke"), "\(allowed)")
        let denied = try Self.run(base + ["--resource", "crn:cella:acme:function:resize:prod", "--condition", "cella:SourceIp=10.1.2.3", "-o", "json"])
        #expect(denied.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(denied.out.utf8)) as? [String: String]
        #expect(json?["decision"] == "explicitDeny" && json?["statement"]?.hasSuffix("NoProd") == true, "\(denied.out)")
        let outside = try Self.run(base + ["--resource", "crn:cella:acme:function:resize", "--condition", "cella:SourceIp=192.168.0.1"])
        #expect(outside.status == 1 && outside.out.hasPrefix("implicitDeny"), "\(outside)")
        // Another tenant's resource is denied whatever the policy says.
        let foreign = try Self.run(["--action", "cella:InvokeFunction", "--policy-file", policy, "--tenant", "other",
                                    "--resource", "crn:cella:acme:function:resize", "--condition", "cella:SourceIp=10.1.2.3"])
        #expect(foreign.status == 1, "\(foreign)")
    }

    @Test func invalidInputExitsTwoWithTheReason() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.cella), "build the cella executable first")
        let bad = try Self.file(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"x","Resource":"*","Bad":1}]}"#)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let r = try Self.run(["--action", "cella:InvokeFunction", "--resource", "crn:cella:a:function:f", "--policy-file", bad])
        #expect(r.status == 2 && r.err.contains("Statement[0].Bad"), "\(r)")
        let noAction = try Self.run(["--action", "cella:Nope", "--resource", "r", "--policy-file", bad])
        #expect(noAction.status == 2)
        let both = try Self.run(["--action", "cella:InvokeFunction", "--resource", "r"])
        #expect(both.status == 2 && both.err.contains("--policy-file"))
    }
}
