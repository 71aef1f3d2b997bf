import Foundation
import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// The read-only overlay root, the writable tmpfs, /proc masking and the host's files.
    @Suite struct Filesystem {
        @Test("writes outside /tmp and /dev/shm fail with EROFS", arguments: ["/x", "/bin/x", "/data/visible", "/var/task/x", "/proc/sys/kernel/hostname"])
        func readOnly(_ path: String) throws {
            let line = try TestEnvironment.probe("write", path) { $0.rootfs.code = try? TestEnvironment.rootfs.get() + "/data" }
            #expect(line == "errno=EROFS" || (path.hasPrefix("/proc") && line == "errno=EACCES"), "\(path): \(line)")
        }

        @Test("/tmp and /dev/shm are writable")
        func writable() throws {
            #expect(try TestEnvironment.probe("write", "/tmp/x") == "ok")
            #expect(try TestEnvironment.probe("write", "/dev/shm/x") == "ok")
        }

        @Test("/dev holds the host's harmless devices and is read-only but for /dev/shm, whose size is bounded")
        func dev() throws {
            #expect(try TestEnvironment.probe("read", "/dev/zero") == "ok 64")
            #expect(try TestEnvironment.probe("read", "/dev/urandom") == "ok 64")
            #expect(try TestEnvironment.probe("read", "/dev/null") == "ok 0")
            #expect(try TestEnvironment.probe("write", "/dev/full") == "errno=ENOSPC")
            #expect(try TestEnvironment.probe("write", "/dev/x") == "errno=EROFS", "control: /dev/shm takes writes (above)")
            #expect(try TestEnvironment.probe("write", "/dev/null/x") == "errno=ENOTDIR")
            let shm = try TestEnvironment.probe("fill", "/dev/shm/big") { $0.rootfs.shmMiB = 8 }
            #expect(shm == "errno=ENOSPC bytes=\(8 << 20)", "8 MiB /dev/shm: \(shm)")
        }

        @Test("the /dev skeleton is made when missing, kept when whole, and refused when anything else is in it")
        func devSkeleton() throws {
            let dev = TestEnvironment.stateDirectory + "/skeleton-test/dev"
            try FileIO.makeDirectories(TestEnvironment.stateDirectory + "/skeleton-test")
            defer { try? FileManager.default.removeItem(atPath: TestEnvironment.stateDirectory + "/skeleton-test") }
            try DevSkeleton.make(at: dev)
            #expect(Set(try FileIO.list(dev)) == ["null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr", "shm"])
            try DevSkeleton.make(at: dev)
            func refusal() -> String? {
                do { try DevSkeleton.make(at: dev) } catch { return error.message }
                return nil
            }
            try "x".write(toFile: dev + "/extra", atomically: false, encoding: .utf8)
            #expect(refusal()?.contains("extra") == true)
            unlink(dev + "/extra")
            unlink(dev + "/stdin")
            symlink("/etc/passwd", dev + "/stdin")
            #expect(refusal()?.contains("stdin") == true)
            unlink(dev + "/stdin")
            try "x".write(toFile: dev + "/shm/left", atomically: false, encoding: .utf8)
            #expect(refusal()?.contains("shm") == true)
            unlink(dev + "/shm/left")
            #expect(refusal() == nil, "control: whole again (stdin remade)")
            // Only permissions keep sandboxes out of it: a file others may write, or one not
            // root's, is refused; so is a skeleton that is a symlink.
            chmod(dev + "/null", 0o666)
            #expect(refusal()?.contains("null") == true)
            chmod(dev + "/null", 0o644)
            chown(dev + "/zero", 1000, 1000)
            #expect(refusal()?.contains("zero") == true)
            chown(dev + "/zero", 0, 0)
            #expect(refusal() == nil, "control: whole again")
            let elsewhere = TestEnvironment.stateDirectory + "/skeleton-test/elsewhere"
            rename(dev, elsewhere)
            symlink(elsewhere, dev)
            #expect(refusal() != nil, "a symlinked skeleton")
        }

        @Test("/tmp fills up at its limit with ENOSPC, and a larger limit lets more in")
        func tmpLimit() throws {
            let small = try TestEnvironment.probe("fill", "/tmp/big") { $0.rootfs.tmpMiB = 8 }
            #expect(small == "errno=ENOSPC bytes=\(8 << 20)", "8 MiB /tmp: \(small)")
            let larger = try TestEnvironment.probe("fill", "/tmp/big") { $0.rootfs.tmpMiB = 24 }
            #expect(larger == "errno=ENOSPC bytes=\(24 << 20)", "24 MiB /tmp: \(larger)")
        }

        @Test("the code directory is mounted read-only at /var/task")
        func code() throws {
            let rootfs = try TestEnvironment.rootfs.get()
            #expect(try TestEnvironment.probe("read", "/var/task/visible") { $0.rootfs.code = rootfs + "/data" } == "ok 14")
            #expect(try TestEnvironment.probe("write", "/var/task/new") { $0.rootfs.code = rootfs + "/data" } == "errno=EROFS")
        }

        /// The agent replaces a function's code by unpacking a bundle again at the same path
        /// (after an eviction): a root's plan must not keep showing the directory it first saw.
        @Test("a code directory replaced at the same path is what the next sandbox sees")
        func codeReplaced() throws {
            let code = "/tmp/cella-test-code-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: code); try? FileManager.default.removeItem(atPath: code + ".old") }
            for (round, text) in ["first\n", "second, longer\n"].enumerated() {
                if round > 0 { try FileManager.default.moveItem(atPath: code, toPath: code + ".old") }
                try FileIO.makeDirectories(code)
                chmod(code, 0o755)
                try text.write(toFile: code + "/file", atomically: false, encoding: .utf8)
                chmod(code + "/file", 0o644)
                #expect(try TestEnvironment.probe("read", "/var/task/file") { $0.rootfs.code = code } == "ok \(text.utf8.count)")
            }
        }

        @Test("layers stack topmost first, and the stack is read-only")
        func layers() throws {
            let bottom = try TestEnvironment.rootfs.get()
            let top = "/tmp/cella-test-layer-\(getpid())"
            try FileIO.makeDirectories(top + "/data")
            defer { try? FileManager.default.removeItem(atPath: top) }
            chmod(top, 0o755)
            try "top\n".write(toFile: top + "/data/visible", atomically: false, encoding: .utf8)
            try "only on top\n".write(toFile: top + "/data/top-only", atomically: false, encoding: .utf8)
            let stacked = { (spec: inout SandboxSpec) in spec.rootfs.layers = [top, bottom] }
            #expect(try TestEnvironment.probe("read", "/data/visible", configure: stacked) == "ok 4", "the top layer's copy wins")
            #expect(try TestEnvironment.probe("read", "/data/top-only", configure: stacked) == "ok 12")
            #expect(try TestEnvironment.probe("read", "/data/top-only") == "errno=ENOENT", "control: not in the bottom layer alone")
            for path in ["/data/visible", "/data/new", "/x"] {
                #expect(try TestEnvironment.probe("write", path, configure: stacked) == "errno=EROFS", "\(path)")
            }
            #expect(try TestEnvironment.probe("write", "/tmp/x", configure: stacked) == "ok", "control: /tmp takes writes")
        }

        @Test("host files are not visible: only the rootfs is")
        func hostFilesHidden() throws {
            let sentinel = "/root/cella-sentinel-\(getpid())"
            try "secret".write(toFile: sentinel, atomically: false, encoding: .utf8)
            defer { unlink(sentinel) }
            #expect(try TestEnvironment.probe("read", "/data/visible") == "ok 14", "control: rootfs files are readable")
            for path in ["/etc/shadow", sentinel, "/proc/1/root" + sentinel, "/proc/1/root/../../..\(sentinel)"] {
                #expect(try TestEnvironment.probe("read", path) == "errno=ENOENT", "\(path)")
            }
        }

        @Test("OCI masked paths read as empty; read-only proc paths refuse writes")
        func procMasks() throws {
            // Which of the masked files exist depends on the kernel's configuration.
            let present = FilesystemPlan.maskedFiles.filter { FileIO.exists($0) }
            #expect(!present.isEmpty)
            for path in present {
                #expect(try TestEnvironment.probe("read", path) == "ok 0", "\(path) is masked")
            }
            #expect((try FileIO.read("/proc/timer_list", limit: 64)).count == 64, "control: the host's copy has content")
            #expect(try TestEnvironment.probe("read", "/proc/self/status") == "ok 64", "control: proc works")
            // The root of a user namespace that owns the UTS namespace may set its hostname
            // through /proc/sys, but /proc/sys is mounted read-only.
            let sysctl = try TestEnvironment.probe("write", "/proc/sys/kernel/hostname") {
                $0.protections.dropCapabilities = false
                $0.protections.runAsNamespaceRoot = true
                $0.protections.hostOwnedNamespaces = false
            }
            #expect(sysctl == "errno=EROFS", "even the namespace root: \(sysctl)")
            // With the namespaces the host's (the default), the mount refuses the write first.
            let defaultNamespaces = try TestEnvironment.probe("write", "/proc/sys/kernel/hostname") {
                $0.protections.dropCapabilities = false
                $0.protections.runAsNamespaceRoot = true
            }
            #expect(defaultNamespaces == "errno=EROFS", "\(defaultNamespaces)")
        }
    }
}
