import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// Capabilities, no_new_privs, seccomp and ids, read from inside.
    @Suite struct Privileges {
        /// `/proc/self/status` fields as the probe prints them.
        func status(configure: (inout SandboxSpec) -> Void = { _ in }) throws -> [String: String] {
            let line = try TestEnvironment.probe("status", configure: configure)
            #expect(line.hasPrefix("ok "), "probe status: \(line)")
            var fields: [String: String] = [:]
            for pair in line.split(separator: " ").dropFirst() {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            return fields
        }

        @Test("every capability set is empty, no_new_privs is set and a seccomp filter is on")
        func lockedDown() throws {
            let fields = try status()
            for key in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                #expect(fields[key] == "0000000000000000", "\(key) = \(fields[key] ?? "missing")")
            }
            #expect(fields["NoNewPrivs"] == "1")
            #expect(fields["Seccomp"] == "2")
        }

        @Test("with those protections off, the same probe sees capabilities, no NNP and no filter")
        func probeCanSeeThemOff() throws {
            let fields = try status {
                $0.protections.dropCapabilities = false
                $0.protections.noNewPrivs = false
                $0.protections.seccomp = false
                $0.protections.runAsNamespaceRoot = true
            }
            #expect(fields["CapEff"] != "0000000000000000")
            #expect(fields["CapBnd"] != "0000000000000000")
            #expect(fields["NoNewPrivs"] == "0")
            #expect(fields["Seccomp"] == "0")
        }

        @Test("the process runs as uid/gid 1000 inside")
        func insideIDs() throws {
            #expect(try TestEnvironment.probe("ids") == "ok uid=1000 gid=1000 euid=1000 egid=1000 groups=1")
        }

        @Test("seen from the host, the process is an unprivileged uid in the owner's range")
        func hostUID() throws {
            let launcher = try TestEnvironment.launcher.get()
            for owner: UInt32 in [0, 7] {
                let mapping = IDMapping(ownerIndex: owner)
                let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/sleep", "30"]) {
                    $0.idMapping = mapping
                    $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
                })
                defer { sandbox.kill(); _ = sandbox.waitBlocking() }
                let status = try FileIO.read("/proc/\(sandbox.pid)/status")
                let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
                let uids = uidLine.split(whereSeparator: \.isWhitespace).dropFirst().compactMap { UInt32($0) }
                #expect(uids.count == 4)
                #expect(uids.allSatisfy { $0 == mapping.hostID(for: 1000) }, "host uids: \(uidLine)")
                #expect(!uids.contains(0))
            }
        }

        @Test("a setuid-root binary inside gains nothing; with nosuid and no_new_privs off it would")
        func setuidGainsNothing() throws {
            #expect(try TestEnvironment.probe("euid") == "ok 1000")
            let path = ["/bin/probe-suid", "euid"]
            #expect(try TestEnvironment.run(TestEnvironment.spec(path)).line == "ok 1000")
            let unprotected = try TestEnvironment.run(TestEnvironment.spec(path) {
                $0.protections.nosuid = false
                $0.protections.noNewPrivs = false
                // Without no_new_privs an unprivileged process may not install a filter at all.
                $0.protections.seccomp = false
            })
            #expect(unprotected.line == "ok 0", "the control run shows the setuid bit works when unguarded")
        }
    }
}
