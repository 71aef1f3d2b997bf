import ArgumentParser
import CellaSandbox
import Glibc
import Testing

@testable import CellaCLI

@Suite struct SandboxRunParsingTests {
    @Test func buildsTheSpecFromFlags() throws {
        let command = try SandboxRun.parse([
            "--rootfs", "/srv/rootfs", "--code", "/srv/code", "--memory", "256", "--cpus", "0.5",
            "--pids", "32", "--tmp", "16", "--env", "A=1", "--env", "B=x=y", "--owner-index", "3",
            "--id", "dbg", "--", "/bin/sh", "-c", "echo hi",
        ])
        let spec = try command.makeSpec()
        #expect(spec.id == "dbg")
        #expect(spec.command == ["/bin/sh", "-c", "echo hi"])
        #expect(spec.rootfs.layers == ["/srv/rootfs"])
        #expect(spec.rootfs.code == "/srv/code")
        #expect(spec.rootfs.tmpMiB == 16)
        #expect(spec.resources == .init(memoryBytes: 256 << 20, cpus: 0.5, pids: 32))
        #expect(spec.environment["A"] == "1" && spec.environment["B"] == "x=y")
        #expect(spec.environment["PATH"] != nil)
        #expect(spec.idMapping == IDMapping(ownerIndex: 3))
        #expect(spec.dieWithParent)
    }

    @Test func zeroCpusMeansNoQuota() throws {
        let spec = try SandboxRun.parse(["--rootfs", "/r", "--cpus", "0", "--", "true"]).makeSpec()
        #expect(spec.resources.cpus == nil)
    }

    @Test("bad input is refused with a message that says what to do", arguments: [
        (["--rootfs", "/r"], "after --"),
        (["--rootfs", "/r", "--memory", "2", "--", "true"], "--memory"),
        (["--rootfs", "/r", "--pids", "0", "--", "true"], "--pids"),
        (["--rootfs", "/r", "--env", "NOEQUALS", "--", "true"], "K=V"),
        (["--", "true"], "--rootfs"),
    ])
    func rejects(_ args: [String], _ mentions: String) {
        do {
            _ = try SandboxRun.parse(args)
            Issue.record("accepted \(args)")
        } catch {
            #expect(SandboxRun.message(for: error).contains(mentions), "\(SandboxRun.message(for: error))")
        }
    }

    @Test("setup failures map to the shell's exit codes")
    func exitCodes() {
        let notFound = SandboxError(.setupFailed, "", stage: "execve /x", errno: ENOENT)
        let notExecutable = SandboxError(.setupFailed, "", stage: "execve /x", errno: EACCES)
        let other = SandboxError(.setupFailed, "", stage: "pivot_root", errno: EINVAL)
        #expect(SandboxRun.exitCode(for: notFound) == 127)
        #expect(SandboxRun.exitCode(for: notExecutable) == 126)
        #expect(SandboxRun.exitCode(for: other) == 125)
        #expect(SandboxRun.exitCode(for: SandboxError(.invalidSpec, "x")) == 125)
    }
}
