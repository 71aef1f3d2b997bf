import CellaModel
import Foundation
import Testing

/// The controller's routes against a real SQLite store, without nodes: validation, versions and
/// aliases, the async queue's intake, error shapes of both APIs, tenant isolation.
@Suite struct ControllerAPITests {
    static let zip: [UInt8] = {
        // A real zip of the probe function.
        (try? Cluster.zip(directory: Cluster.repository + "/Tests/Fixtures/functions/agent-probe")) ?? []
    }()

    static func create(_ c: RunningController, _ name: String, tenant: String? = nil, extra: [String: Any] = [:]) async throws -> Cluster.Reply {
        let digest = try await c.request(.POST, "/v1/bundles", body: zip).json["digest"] as? String ?? ""
        var config: [String: Any] = ["name": name, "runtime": "python3.11", "handler": "app.handler"]
        config.merge(extra) { $1 }
        return try await c.json(.POST, "/v1/functions", ["config": config, "codeDigest": digest],
                                headers: tenant.map { [("X-Cella-Tenant", $0)] } ?? [])
    }

    /// A shipment's lines and records reach the store whole (escapes and all); a malformed one is
    /// refused with the faulty field named, and nothing of it is stored.
    @Test func telemetryIsStoredAndAMalformedShipmentRefused() async throws {
        try await withController { c in
            #expect(try await ControllerAPITests.create(c, "fn").status == 201)
            let text = "caf\u{e9} \"quoted\" \\ tab\there \u{1f9ea}"
            let shipped = NodeTelemetry(
                records: [InvocationRecord(
                    requestId: "req-1", tenant: "default", function: "fn", version: "latest-r1", startMs: 1_700_000_000_000,
                    durationMs: 12.25, billedDurationMs: 13, initDurationMs: nil, start: .warm, memoryMB: 128,
                    maxMemoryUsedBytes: 1 << 20, outcome: .success, errorType: nil)],
                logs: [.init(function: "default/fn:latest-r1", timeMs: 1_700_000_000_001, requestId: "req-1", text: text)])
            let ok = try await c.request(.POST, "/v1/nodes/n1/telemetry", body: shipped.jsonBytes())
            #expect(ok.status == 204, "\(ok.body)")
            let lines = try await c.request(.GET, "/v1/functions/fn/logs?requestId=req-1")
            let stored = try #require(try JSONSerialization.jsonObject(with: Data(lines.body.utf8)) as? [[String: Any]], "\(lines.body)")
            #expect(stored.map { $0["text"] as? String } == [text] && stored.first?["version"] as? String == "$LATEST", "\(lines.body)")
            let records = try await c.request(.GET, "/v1/functions/fn/records?requestId=req-1")
            #expect(records.body.contains(#""durationMs":12.25"#) && records.body.contains(#""billedDurationMs":13"#), "\(records.body)")

            var broken = String(decoding: shipped.jsonBytes(), as: UTF8.self)
            broken = broken.replacingOccurrences(of: "req-1", with: "req-2").replacingOccurrences(of: #","startMs":1700000000000"#, with: "")
            let refused = try await c.request(.POST, "/v1/nodes/n1/telemetry", body: Array(broken.utf8))
            #expect(refused.status == 400 && refused.body.contains("records[0]: missing field startMs"), "\(refused.status) \(refused.body)")
            let none = try await c.request(.GET, "/v1/functions/fn/logs?requestId=req-2")
            #expect(none.status == 200 && none.body == "[]", "\(none.body)")
        }
    }

    @Test func credentialsAreRequired() async throws {
        try await withController { c in
            let none = try await c.request(.GET, "/v1/functions", auth: false)
            #expect(none.status == 401 && none.header("X-Cella-Error") == "Unauthorized")
            let wrong = try await c.request(.GET, "/v1/functions", headers: [("Authorization", "Bearer nope")], auth: false)
            #expect(wrong.status == 401)
            #expect(!wrong.body.contains(c.token))
        }
    }

    @Test func badInputIsRejectedWithThePreciseReason() async throws {
        try await withController { c in
            let notArchive = try await c.request(.POST, "/v1/bundles", body: Array("hello".utf8))
            #expect(notArchive.status == 400 && notArchive.header("X-Cella-Error") == "InvalidBundle", "\(notArchive.body)")
            let memory = try await Self.create(c, "fn", extra: ["memoryMB": 64])
            #expect(memory.status == 400)
            #expect((memory.json["message"] as? String)?.hasPrefix("memoryMB: 64 is outside 128...10240") == true, "\(memory.body)")
            let env = try await Self.create(c, "fn", extra: ["environment": ["AWS_REGION": "x"]])
            #expect((env.json["message"] as? String)?.contains("environment.AWS_REGION") == true, "\(env.body)")
            let noBundle = try await c.json(.POST, "/v1/functions", [
                "config": ["name": "fn", "runtime": "python3.11"], "codeDigest": String(repeating: "a", count: 64)])
            #expect(noBundle.status == 400 && (noBundle.json["message"] as? String)?.contains("upload it") == true, "\(noBundle.body)")
            let missingField = try await c.json(.POST, "/v1/functions", ["config": ["name": "fn"], "codeDigest": "x"])
            #expect(missingField.status == 400 && (missingField.json["message"] as? String)?.contains("config.runtime") == true, "\(missingField.body)")
            let retries = try await Self.create(c, "fn", extra: [:])
            #expect(retries.status == 201)
            let badRetries = try await c.json(.PUT, "/v1/functions/fn/config", ["asyncRetries": 5])
            #expect(badRetries.status == 400 && (badRetries.json["message"] as? String)?.hasPrefix("asyncRetries") == true)
            // Nothing of the refused updates was kept.
            #expect(try await c.request(.GET, "/v1/functions/fn").json["asyncRetries"] as? Int == 2)
        }
    }

    /// Archives a node would refuse, made by Python's zipfile and tarfile, with their sha256.
    static let hostileBundles: [String: (bytes: [UInt8], digest: String)] = {
        let script = #"""
import hashlib, io, json, sys, tarfile, zipfile
def z(entries):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as f:
        for name, data in entries: f.writestr(name, data)
    return b.getvalue()
def t(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz") as f:
        for info, data in members:
            f.addfile(info, io.BytesIO(data) if data is not None else None)
    return b.getvalue()
def m(name, kind=tarfile.REGTYPE, link="", size=0):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.size = size; return i
out = {
  "traversal": z([("app.py", "x"), ("../evil.py", "x")]),
  "duplicate": z([("app.py", "a"), ("app.py", "b")]),
  "bomb": z([("zeros.bin", b"\0" * (260 << 20))]),
  "absolute-link": t([(m("app.py", size=1), b"x"), (m("etc", tarfile.SYMTYPE, "/etc"), None)]),
  "link-through": t([(m("pkg", tarfile.DIRTYPE), None), (m("lib", tarfile.SYMTYPE, "pkg"), None), (m("lib/x.py", size=1), b"x")]),
  "device": t([(m("app.py", size=1), b"x"), (m("dev/sda", tarfile.BLKTYPE), None)]),
  "good": t([(m("pkg", tarfile.DIRTYPE), None), (m("pkg/app.py", size=5), b"hello"), (m("current", tarfile.SYMTYPE, "pkg"), None)]),
}
json.dump({k: [v.hex(), hashlib.sha256(v).hexdigest()] for k, v in out.items()}, sys.stdout)
"""#
        guard let text = try? Cluster.python(script),
              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [String]] else { return [:] }
        return object.mapValues { pair in
            let hex = Array(pair[0].utf8)
            let bytes = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
            return (bytes, pair[1])
        }
    }()

    @Test func bundlesAreCheckedEntryByEntryAtUpload() async throws {
        let bundles = Self.hostileBundles
        try #require(bundles.count == 7, "the archives could not be made")
        try await withController { c in
            let refusals: [(String, String, String)] = [
                ("traversal", "path_traversal", "../evil.py"), ("duplicate", "duplicate_entry", "app.py"),
                ("bomb", "too_large", "zeros.bin"), ("absolute-link", "link_escape", "etc"),
                ("link-through", "link_traversal", "lib/x.py"), ("device", "special_file", "dev/sda"),
            ]
            for (name, code, entry) in refusals {
                let reply = try await c.request(.POST, "/v1/bundles", body: bundles[name]!.bytes)
                let message = reply.json["message"] as? String ?? ""
                #expect(reply.status == 400 && reply.header("X-Cella-Error") == "InvalidBundle", "\(name): \(reply.status) \(reply.body)")
                #expect(message.hasPrefix("bundle refused (\(code)): entry \"\(entry)\""), "\(name): \(message)")
                // Nothing was stored: no function can name it.
                let create = try await c.json(.POST, "/v1/functions", [
                    "config": ["name": "fn", "runtime": "python3.11", "handler": "app.handler"], "codeDigest": bundles[name]!.digest])
                #expect(create.status == 400 && (create.json["message"] as? String)?.contains("upload it") == true, "\(name): \(create.body)")
            }
            let good = try await c.request(.POST, "/v1/bundles", body: bundles["good"]!.bytes)
            #expect(good.status == 201, "\(good.body)")
            #expect(good.json["digest"] as? String == bundles["good"]!.digest)
            #expect(good.json["format"] as? String == "tar.gz" && good.json["entries"] as? Int == 3)
            #expect(good.json["files"] as? Int == 1 && good.json["unpackedBytes"] as? Int == 5, "\(good.body)")
        }
    }

    @Test func functionsVersionsAndAliases() async throws {
        try await withController { c in
            #expect(try await Self.create(c, "fn").status == 201)
            let dup = try await Self.create(c, "fn")
            #expect(dup.status == 409 && dup.header("X-Cella-Error") == "ResourceConflict")
            let v1 = try await c.json(.POST, "/v1/functions/fn/versions", ["description": "first"])
            #expect(v1.status == 201 && v1.json["version"] as? String == "1")
            let updated = try await c.json(.PUT, "/v1/functions/fn/config", ["memoryMB": 256, "expectedRevision": 1])
            #expect(updated.status == 200 && updated.json["revision"] as? Int == 2, "\(updated.body)")
            let stale = try await c.json(.PUT, "/v1/functions/fn/config", ["memoryMB": 512, "expectedRevision": 1])
            #expect(stale.status == 409, "\(stale.body)")
            let v2 = try await c.json(.POST, "/v1/functions/fn/versions", [:])
            #expect(v2.json["version"] as? String == "2")
            let versions = try await c.request(.GET, "/v1/functions/fn/versions")
            let list = (try JSONSerialization.jsonObject(with: Data(versions.body.utf8)) as? [[String: Any]]) ?? []
            #expect(list.map { $0["version"] as? String } == ["1", "2"])
            #expect(((list.first?["config"] as? [String: Any])?["memoryMB"] as? Int) == 128, "version 1 keeps its config")
            #expect(try await c.json(.PUT, "/v1/functions/fn/aliases/live", ["version": "1"]).status == 200)
            #expect(try await c.json(.PUT, "/v1/functions/fn/aliases/broken", ["version": "9"]).status == 404)
            #expect(try await c.json(.PUT, "/v1/functions/fn/aliases/7", ["version": "1"]).status == 400)
            // DryRun resolves the alias without running anything.
            let dry = try await c.request(.POST, "/v1/functions/fn/invoke?qualifier=live", body: Array("{}".utf8),
                                          headers: [("X-Cella-Invocation-Type", "DryRun")])
            #expect(dry.status == 204 && dry.header("X-Cella-Executed-Version") == "1")
            let gone = try await c.request(.POST, "/v1/functions/fn/invoke?qualifier=nope", body: Array("{}".utf8),
                                           headers: [("X-Cella-Invocation-Type", "DryRun")])
            #expect(gone.status == 404)
            #expect(try await c.request(.DELETE, "/v1/functions/fn").status == 204)
            #expect(try await c.request(.GET, "/v1/functions/fn").status == 404)
            #expect(try await c.request(.DELETE, "/v1/functions/fn").status == 404)
        }
    }

    @Test func invokeWithoutNodesAndTheLimits() async throws {
        try await withController(configure: { $0.maxAsyncPayloadBytes = 1000 }) { c in
            #expect(try await Self.create(c, "fn").status == 201)
            let sync = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array("{}".utf8))
            #expect(sync.status == 503 && sync.header("X-Cella-Error") == "NoNodes" && sync.header("Retry-After") == "1", "\(sync.body)")
            let notJSON = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array("{nope".utf8))
            #expect(notJSON.status == 400 && notJSON.body.contains("Could not parse request body into json: ")
                    && notJSON.body.contains("at byte 1"), "\(notJSON.body)")
            let big = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array(repeating: UInt8(ascii: " "), count: 6 * 1024 * 1024 + 1))
            #expect(big.status == 413 && big.header("X-Cella-Error") == "RequestTooLarge")
            let bigAsync = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array(("[" + String(repeating: "1,", count: 600) + "1]").utf8),
                                               headers: [("X-Cella-Invocation-Type", "Event")])
            #expect(bigAsync.status == 413)
            // Async is accepted into the durable queue without any node, and waits there.
            let queued = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array(#"{"a":1}"#.utf8),
                                             headers: [("X-Cella-Invocation-Type", "Event")])
            #expect(queued.status == 202, "\(queued.body)")
            let id = try #require(queued.json["invocationId"] as? String)
            try await Task.sleep(for: .milliseconds(300))
            let status = try await c.request(.GET, "/v1/invocations/\(id)").json
            #expect(status["status"] as? String == "queued" && status["attempts"] as? Int == 0, "\(status)")
            let badType = try await c.request(.POST, "/v1/functions/fn/invoke", body: Array("{}".utf8), headers: [("X-Cella-Invocation-Type", "Later")])
            #expect(badType.status == 400)
        }
    }

    @Test func lambdaRoutesAnswerInLambdasShape() async throws {
        try await withController { c in
            #expect(try await Self.create(c, "fn").status == 201)
            let missing = try await c.request(.POST, "/2015-03-31/functions/nope/invocations", body: Array("{}".utf8))
            #expect(missing.status == 404 && missing.header("X-Amzn-ErrorType") == "ResourceNotFoundException")
            #expect(missing.json["Type"] as? String == "User" && (missing.json["Message"] as? String)?.contains("nope") == true)
            let arn = "arn:aws:lambda:local:default:function:fn".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let dry = try await c.request(.POST, "/2015-03-31/functions/\(arn)/invocations", headers: [("X-Amz-Invocation-Type", "DryRun")])
            #expect(dry.status == 204 && dry.header("X-Amz-Executed-Version") == "$LATEST", "\(dry.status) \(dry.body)")
            let other = "arn:aws:lambda:local:other:function:fn".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(try await c.request(.POST, "/2015-03-31/functions/\(other)/invocations", headers: [("X-Amz-Invocation-Type", "DryRun")]).status == 404)
            let event = try await c.request(.POST, "/2015-03-31/functions/fn/invocations", body: Array("{}".utf8),
                                            headers: [("X-Amz-Invocation-Type", "Event")])
            #expect(event.status == 202 && event.header("x-amzn-RequestId") != nil)
            let sync = try await c.request(.POST, "/2015-03-31/functions/fn/invocations", body: Array("{}".utf8))
            #expect(sync.status == 503 && sync.header("X-Amzn-ErrorType") == "ServiceException")
        }
    }

    @Test func tenantsCannotSeeEachOther() async throws {
        try await withController { c in
            #expect(try await c.json(.POST, "/v1/tenants", ["id": "acme"]).status == 201)
            #expect(try await c.json(.POST, "/v1/tenants", ["id": "Bad_Id"]).status == 400)
            #expect(try await Self.create(c, "secret", tenant: "acme").status == 201)
            #expect(try await c.request(.GET, "/v1/functions/secret").status == 404, "visible from the default tenant")
            #expect(try await c.request(.GET, "/v1/functions/secret", headers: [("X-Cella-Tenant", "acme")]).status == 200)
            let list = try await c.request(.GET, "/v1/functions")
            #expect(!list.body.contains("secret"))
            #expect(try await c.request(.DELETE, "/v1/tenants/acme").status == 204)
            #expect(try await c.request(.GET, "/v1/functions/secret", headers: [("X-Cella-Tenant", "acme")]).status == 404)
        }
    }
}
