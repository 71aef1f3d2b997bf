import Foundation
import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// Sandboxes launched held (made ahead of need): set up to just before exec, released later.
    @Suite struct HeldLaunch {
        /// `/proc/PID/status` fields of a host-visible process.
        func status(_ pid: pid_t) throws -> [String: String] {
            var fields: [String: String] = [:]
            for line in try FileIO.read("/proc/\(pid)/status").split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return fields
        }

        /// Whatever a pipe yields within `milliseconds` (nothing when the writer is silent).
        func available(_ fd: Int32, milliseconds: Int32) -> String {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, milliseconds) > 0 else { return "" }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buffer, buffer.count)
            return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : ""
        }

        @Test("a held sandbox is fully confined but runs nothing until released, then runs with the released environment")
        func heldThenReleased() throws {
            let launcher = try TestEnvironment.launcher.get()
            var out: [Int32] = [-1, -1]
            #expect(pipe(&out) == 0)
            defer { close(out[0]) }
            let stray = open("/dev/null", O_RDONLY)
            defer { close(stray) }
            let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/sh", "-c", "echo \"$FROM_SPEC $FROM_RELEASE\""]) {
                $0.environment["FROM_SPEC"] = "spec"
                $0.environment["FROM_RELEASE"] = "unset"
                $0.stdio = .fds(stdin: 0, stdout: out[1], stderr: out[1])
            }, held: true)
            close(out[1])
            defer { sandbox.kill(); _ = sandbox.waitBlocking() }
            #expect(sandbox.isHeld)
            // Everything but the exec is done: confined, in its cgroup, as the mapped user.
            let fields = try status(sandbox.pid)
            #expect(fields["Seccomp"] == "2")
            #expect(fields["NoNewPrivs"] == "1")
            #expect(fields["CapEff"] == "0000000000000000")
            #expect(fields["CapBnd"] == "0000000000000000")
            #expect(fields["Uid"]?.split(whereSeparator: \.isWhitespace).allSatisfy { $0 == "\(IDMapping().hostID(for: 1000))" } == true,
                    "host uids: \(fields["Uid"] ?? "")")
            #expect(sandbox.cgroup.processes() == [sandbox.pid])
            // While it waits it keeps none of the parent's fds (a stray one without close-on-exec
            // included): stdio, its error pipe and its hold socket only.
            let heldFDs = try FileIO.list("/proc/\(sandbox.pid)/fd").count
            #expect(heldFDs == 5, "fds of the held child: \(heldFDs)")
            #expect(available(out[0], milliseconds: 200) == "", "the program must not run before its release")

            try sandbox.release(environment: ["FROM_RELEASE": "released"])
            #expect(!sandbox.isHeld)
            #expect(available(out[0], milliseconds: 5_000) == "spec released\n")
            #expect(sandbox.waitBlocking().termination == .exited(0))
            #expect(throws: SandboxError.self) { try sandbox.release() }
            #expect(sandbox.cgroup.directories.allSatisfy { !FileIO.exists($0) }, "cgroup removed")
        }

        @Test("a held sandbox killed before its release leaves nothing behind and cannot be released")
        func killedWhileHeld() async throws {
            let launcher = try TestEnvironment.launcher.get()
            let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/true"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            }, held: true)
            sandbox.kill()
            // Dead but not reaped yet: the release fails (no SIGPIPE takes the process down).
            try await Task.sleep(for: .milliseconds(50))
            #expect(throws: SandboxError.self) { try sandbox.release() }
            #expect(await sandbox.wait().termination == .signaled(SIGKILL))
            #expect(sandbox.cgroup.directories.allSatisfy { !FileIO.exists($0) }, "cgroup removed")
            do {
                try sandbox.release()
                Issue.record("a sandbox that ended cannot be released")
            } catch {
                #expect(error.code == .launchFailed, "\(error)")
            }
        }

        @Test("a held program is searched for in the released PATH, and gets its extra fds")
        func releasedPathAndExtraFiles() throws {
            let launcher = try TestEnvironment.launcher.get()
            var out: [Int32] = [-1, -1], extra: [Int32] = [-1, -1]
            #expect(pipe(&out) == 0 && pipe(&extra) == 0)
            defer { close(out[0]); close(extra[0]); close(extra[1]) }
            // Named without a '/', and not on the PATH the spec had.
            let sandbox = try launcher.launch(try TestEnvironment.spec(["probe", "fds"]) {
                $0.environment["PATH"] = "/nowhere"
                $0.extraFiles = [extra[1]]
                $0.stdio = .fds(stdin: 0, stdout: out[1], stderr: out[1])
            }, held: true)
            close(out[1])
            defer { sandbox.kill(); _ = sandbox.waitBlocking() }
            try sandbox.release(environment: ["PATH": "/bin"])
            #expect(available(out[0], milliseconds: 5_000) == "ok 0,1,2,3\n")
            #expect(sandbox.waitBlocking().termination == .exited(0))
        }

        @Test("a held program that cannot be exec'd fails at its release with the exec stage and errno")
        func execFailsAtRelease() throws {
            let launcher = try TestEnvironment.launcher.get()
            let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/nonexistent"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            }, held: true)
            #expect(sandbox.isHeld)
            do {
                try sandbox.release()
                Issue.record("the exec should have failed")
            } catch {
                #expect(error.code == .setupFailed)
                #expect(error.stage == "execve /bin/nonexistent")
                #expect(error.errno == ENOENT, "\(error)")
            }
            let exit = sandbox.waitBlocking()
            #expect(exit.termination != .exited(0))
            #expect(sandbox.cgroup.directories.allSatisfy { !FileIO.exists($0) }, "cgroup removed")
        }
    }
}
