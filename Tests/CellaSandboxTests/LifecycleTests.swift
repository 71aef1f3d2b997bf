import CellaTestSupport
import Foundation
import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// Exit status, setup errors, stdio and fds, environment, and cleanup.
    @Suite struct Lifecycle {
        @Test("exit codes and signals come back as they happened")
        func exitStatus() throws {
            let exited = try TestEnvironment.run(TestEnvironment.spec(["/bin/probe", "exit", "42"]))
            #expect(exited.exit.termination == .exited(42))
            let crashed = try TestEnvironment.run(TestEnvironment.spec(["/bin/probe", "kill-self", "11"]))
            #expect(crashed.exit.termination == .signaled(SIGSEGV))
            #expect(crashed.exit.shellStatus == 139)
        }

        @Test("kill() ends the whole sandbox, children included, and wait() works asynchronously")
        func killWhole() async throws {
            let launcher = try TestEnvironment.launcher.get()
            let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            })
            try await Task.sleep(for: .milliseconds(100))
            #expect(sandbox.cgroup.processes().count == 3)
            sandbox.kill()
            let exit = await sandbox.wait()
            #expect(exit.termination == .signaled(SIGKILL))
            #expect(sandbox.cgroup.directories.allSatisfy { !FileIO.exists($0) }, "cgroup removed")
        }

        @Test("a failed setup step is a typed error naming the stage and errno")
        func setupErrors() throws {
            let launcher = try TestEnvironment.launcher.get()
            let cases: [(SandboxSpec, String, Int32)] = [
                (try TestEnvironment.spec(["/bin/nonexistent"]), "execve /bin/nonexistent", ENOENT),
                (try TestEnvironment.spec(["nonexistent"]), "execve nonexistent", ENOENT),
                (try TestEnvironment.spec(["/data/visible"]), "execve /data/visible", EACCES),
                (try TestEnvironment.spec(["/bin/true"]) { $0.workingDirectory = "/nowhere" }, "chdir /nowhere", ENOENT),
            ]
            for (spec, stage, code) in cases {
                do {
                    _ = try launcher.launch(spec)
                    Issue.record("\(stage) should have failed")
                } catch {
                    #expect(error.code == .setupFailed)
                    #expect(error.stage == stage)
                    #expect(error.errno == code, "\(error)")
                    #expect("\(error)".contains("\(stage): \(Errno.name(code))"))
                }
                #expect(launcher.cgroups.rootDirectories.allSatisfy { !FileIO.exists($0 + "/" + spec.id) })
            }
        }

        @Test("bad specs are rejected before anything is created")
        func invalidSpecs() throws {
            let launcher = try TestEnvironment.launcher.get()
            let rootfs = try TestEnvironment.rootfs.get()
            let bad: [SandboxSpec] = [
                try TestEnvironment.spec(["/bin/true"]) { $0.id = "../escape" },
                try TestEnvironment.spec([]),
                try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = ["/nonexistent"] },
                try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = ["relative/path"] },
                try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = [rootfs + ":/etc"] },
                try TestEnvironment.spec(["/bin/true"]) { $0.resources.memoryBytes = 1024 },
                try TestEnvironment.spec(["/bin/true"]) { $0.user.uid = 70_000 },
            ]
            for spec in bad {
                #expect(throws: SandboxError.self) { _ = try launcher.launch(spec) }
                do { _ = try launcher.launch(spec) } catch { #expect(error.code == .invalidSpec, "\(error)") }
            }
            let hidden = "/tmp/cella-test-hidden-\(getpid())"
            try FileIO.makeDirectories(hidden + "/rootfs")
            chmod(hidden, 0o700)
            defer { try? FileManager.default.removeItem(atPath: hidden) }
            let unreachable = try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = [hidden + "/rootfs"] }
            do {
                _ = try launcher.launch(unreachable)
                Issue.record("an unreachable rootfs should be rejected")
            } catch {
                #expect(error.code == .invalidSpec)
                #expect(error.message.contains("chmod o+x \(hidden)"), "\(error)")
            }
        }

        @Test("a layer removed after its root was planned is checked again at the next launch", arguments: [true, false])
        func planCheckedAgain(sharedRoots: Bool) throws {
            let launcher = try TestEnvironment.launcher(sharedRoots: sharedRoots)
            let bottom = try TestEnvironment.rootfs.get()
            let top = "/tmp/cella-test-replan-\(getpid())-\(sharedRoots)"
            try FileIO.makeDirectories(top)
            chmod(top, 0o755)
            defer { try? FileManager.default.removeItem(atPath: top) }
            let spec = try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = [top, bottom] }
            func launch() throws(SandboxError) -> SandboxExit {
                var fresh = spec
                fresh.id = TestEnvironment.nextID()
                return try launcher.launch(fresh).waitBlocking()
            }
            #expect(try launch().shellStatus == 0, "control: the stacked root works")
            // Gone after its plan was made. A shared root still holds the layer, so the launcher
            // looks before each launch and refuses; a sandbox's own overlay fails to mount.
            rmdir(top)
            do {
                _ = try launch()
                Issue.record("a missing layer should fail")
            } catch where sharedRoots {
                #expect(error.code == .invalidSpec && error.errno == ENOENT && error.message.contains(top), "\(error)")
            } catch {
                #expect(error.code == .setupFailed && error.stage == "mount overlay root" && error.errno == ENOENT, "\(error)")
            }
            // Back, but unreachable for the sandbox's user: checked again, so the launch is refused
            // before anything is made, with the fix in the message (a stale plan would have failed
            // at the mount step instead, or run on the removed layer).
            mkdir(top, 0o700)
            do {
                _ = try launch()
                Issue.record("an unreachable layer should be refused")
            } catch {
                #expect(error.code == .invalidSpec && error.message.contains("chmod o+x \(top)"), "\(error)")
            }
            chmod(top, 0o755)
            #expect(try launch().shellStatus == 0, "control: reachable again")
        }

        @Test("an overlay the kernel refuses is a setup error naming the root's mount, and leaves nothing", arguments: [true, false])
        func overlayRefused(sharedRoots: Bool) throws {
            let launcher = try TestEnvironment.launcher(sharedRoots: sharedRoots)
            let rootfs = try TestEnvironment.rootfs.get()
            let roots = TestEnvironment.stateDirectory + "/roots"
            let before = try FileIO.list(roots)
            // The same directory twice: overlayfs refuses overlapping layers (ELOOP).
            let spec = try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = [rootfs, rootfs] }
            do {
                _ = try launcher.launch(spec)
                Issue.record("overlapping layers should be refused")
            } catch {
                #expect(error.code == .setupFailed && error.stage == "mount overlay root" && error.errno == ELOOP, "\(error)")
            }
            #expect(try FileIO.list(roots) == before, "no mountpoint left in \(roots)")
            #expect(launcher.cgroups.rootDirectories.allSatisfy { !FileIO.exists($0 + "/" + spec.id) })
        }

        @Test("a layer replaced after its root was mounted is seen by the next sandbox, not the old one")
        func sharedRootFollowsReplacedLayer() throws {
            let bottom = try TestEnvironment.rootfs.get()
            let top = "/tmp/cella-test-replaced-\(getpid())"
            defer {
                try? FileManager.default.removeItem(atPath: top)
                try? FileManager.default.removeItem(atPath: top + ".old")
            }
            func layer(saying word: String) throws {
                try FileIO.makeDirectories(top + "/data")
                chmod(top, 0o755)
                chmod(top + "/data", 0o755)
                try (word + "\n").write(toFile: top + "/data/word", atomically: false, encoding: .utf8)
                chmod(top + "/data/word", 0o644)
            }
            let spec = { try TestEnvironment.spec(["/bin/cat", "/data/word"]) { $0.rootfs.layers = [top, bottom] } }
            try layer(saying: "first")
            #expect(try TestEnvironment.run(spec()).line == "first")
            // A rebuilt layer put in place of the old one, which still exists elsewhere.
            #expect(rename(top, top + ".old") == 0)
            try layer(saying: "second")
            #expect(try TestEnvironment.run(spec()).line == "second")
            let overlays = MountTable.points { _, line in line.contains("lowerdir=\(top):") }
            #expect(overlays.count == 1, "the replaced layer's root is released: \(overlays)")
        }

        @Test("a shared root is mounted once for its layers, and unmounted when released")
        func sharedRootLifetime() throws {
            let launcher = try TestEnvironment.launcher.get()
            let bottom = try TestEnvironment.rootfs.get()
            let top = "/tmp/cella-test-shared-\(getpid())"
            try FileIO.makeDirectories(top)
            chmod(top, 0o755)
            defer { try? FileManager.default.removeItem(atPath: top) }
            /// The host's mounts of this root (its super options name the layer).
            func mounts() -> [String] { MountTable.points { _, line in line.contains("lowerdir=\(top):") } }
            #expect(mounts().isEmpty)
            for _ in 0..<3 {
                let out = try TestEnvironment.run(TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = [top, bottom] })
                #expect(out.exit.termination == .exited(0))
            }
            let mounted = mounts()
            #expect(mounted.count == 1, "one mount for three sandboxes: \(mounted)")
            #expect(mounted.allSatisfy { $0.hasPrefix(TestEnvironment.stateDirectory + "/roots/\(getpid())-") })
            launcher.releaseSharedRoots()
            #expect(mounts().isEmpty, "released")
            #expect(mounted.allSatisfy { !FileIO.exists($0) }, "its directory removed")
        }

        @Test("a shared root unmounted behind the launcher's back is mounted again for the next sandbox")
        func sharedRootUnmountedOutside() throws {
            let bottom = try TestEnvironment.rootfs.get()
            let top = "/tmp/cella-test-unmounted-\(getpid())"
            try FileIO.makeDirectories(top)
            chmod(top, 0o755)
            defer { try? FileManager.default.removeItem(atPath: top) }
            let spec = { try TestEnvironment.spec(["/bin/true"]) { $0.rootfs.layers = [top, bottom] } }
            func mounts() -> [String] { MountTable.points { _, line in line.contains("lowerdir=\(top):") } }
            #expect(try TestEnvironment.run(spec()).exit.termination == .exited(0))
            let first = mounts()
            try #require(first.count == 1)
            // An operator's umount.
            #expect(umount2(first[0], Int32(MNT_DETACH)) == 0)
            #expect(try TestEnvironment.run(spec()).exit.termination == .exited(0))
            let second = mounts()
            #expect(second.count == 1 && second != first, "a new mount: \(first) then \(second)")
        }

        @Test("the janitor unmounts the shared roots of a process that is gone, and only those")
        func staleSharedRoots() throws {
            let launcher = try TestEnvironment.launcher.get()
            let roots = TestEnvironment.stateDirectory + "/roots"
            // This process's own root, in use.
            #expect(try TestEnvironment.run(TestEnvironment.spec(["/bin/true"])).exit.termination == .exited(0))
            let own = MountTable.points().filter { $0.hasPrefix(roots + "/\(getpid())-") }
            try #require(own.count >= 1)
            // A shell that printed its pid and exited; and this process's pid with another start
            // time, as an earlier process that had the same pid (pid 1 of a restarted container).
            let gone = try #require(pid_t(Command.run(["/bin/sh", "-c", "echo $$"]).stdout.trimmingWhitespace()))
            try #require(kill(gone, 0) != 0 && errno == ESRCH)
            let parent = getppid()
            let parentStart = try #require(SharedRoot.startTime(of: parent))
            let stale = [roots + "/\(gone)-1-1", roots + "/\(getpid())-1-1"]
            let live = roots + "/\(parent)-\(parentStart)-1"
            for path in stale + [live] {
                try FileIO.makeDirectories(path)
                try #require(mount("cella-test", path, "tmpfs", 0, "size=1m") == 0, "mount a stand-in root: \(Errno.describe(errno))")
            }
            defer { umount2(live, Int32(MNT_DETACH)); rmdir(live) }
            launcher.removeStale()
            let after = MountTable.points()
            for path in stale {
                #expect(!after.contains(path) && !FileIO.exists(path), "\(path): a gone process's root is removed")
            }
            #expect(after.contains(live), "a running process's root is left alone")
            #expect(own.allSatisfy { after.contains($0) }, "this process's own roots are left alone")
        }

        @Test("a file whose permission the host takes away is unreadable in the next sandbox", arguments: [true, false])
        func layerPermissionChange(sharedRoots: Bool) throws {
            let launcher = try TestEnvironment.launcher(sharedRoots: sharedRoots)
            let bottom = try TestEnvironment.rootfs.get()
            let top = "/tmp/cella-test-chmod-\(getpid())-\(sharedRoots)"
            try FileIO.makeDirectories(top + "/data")
            chmod(top, 0o755)
            chmod(top + "/data", 0o755)
            defer { try? FileManager.default.removeItem(atPath: top) }
            try "secret\n".write(toFile: top + "/data/secret", atomically: false, encoding: .utf8)
            chmod(top + "/data/secret", 0o644)
            func read() throws -> TestEnvironment.Output {
                try TestEnvironment.run(TestEnvironment.spec(["/bin/cat", "/data/secret"]) { $0.rootfs.layers = [top, bottom] },
                                        on: launcher)
            }
            #expect(try read().line == "secret", "control: readable while the mode allows it")
            chmod(top + "/data/secret", 0o600)
            let denied = try read()
            #expect(denied.exit.termination != .exited(0) && denied.stderr.contains("Permission denied"), "\(denied.stdout) \(denied.stderr)")
        }

        @Test("a mountpoint the launcher adds to a layer after its root was mounted is there for the next root")
        func mountpointAddedLater() throws {
            let launcher = try TestEnvironment.launcher.get()
            let rootfs = try TestEnvironment.rootfs.get()
            // A rootfs of its own without /var/task: busybox and the other mountpoints.
            let bottom = "/tmp/cella-test-nomnt-\(getpid())"
            let code = "/tmp/cella-test-nomnt-code-\(getpid())"
            defer {
                try? FileManager.default.removeItem(atPath: bottom)
                try? FileManager.default.removeItem(atPath: code)
            }
            for dir in ["bin", "proc", "dev", "tmp"] { try FileIO.makeDirectories(bottom + "/" + dir) }
            try FileIO.makeDirectories(code)
            for dir in [bottom, bottom + "/bin", code] { chmod(dir, 0o755) }
            try TestEnvironment.sh("cp \(rootfs)/bin/busybox \(bottom)/bin/busybox")
            symlink("busybox", bottom + "/bin/true")
            // A sandbox of the root without code looks for /var/task: the overlay remembers it
            // missing.
            let plain = try TestEnvironment.spec(["/bin/busybox", "test", "-e", "/var/task"]) { $0.rootfs.layers = [bottom] }
            #expect(try launcher.launch(plain).waitBlocking().termination == .exited(1), "control: no /var/task")
            try #require(!FileIO.exists(bottom + "/var/task"))
            // With code: /var/task is made in the bottom layer now, after its overlay was mounted.
            let withCode = try TestEnvironment.spec(["/bin/true"]) {
                $0.rootfs.layers = [bottom]
                $0.rootfs.code = code
            }
            #expect(try launcher.launch(withCode).waitBlocking().termination == .exited(0))
        }

        @Test("a second sandbox with a running sandbox's id is refused, and the first is untouched")
        func duplicateID() throws {
            let launcher = try TestEnvironment.launcher.get()
            let first = try launcher.launch(try TestEnvironment.spec(["/bin/sleep", "30"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            })
            defer { first.kill(); _ = first.waitBlocking() }
            let twin = try TestEnvironment.spec(["/bin/true"]) { $0.id = first.id }
            do {
                _ = try launcher.launch(twin)
                Issue.record("a duplicate id was accepted")
            } catch {
                #expect(error.code == .invalidSpec)
                #expect(error.message.contains("already exists"))
            }
            #expect(first.cgroup.directories.allSatisfy { FileIO.exists($0) }, "the first sandbox keeps its cgroup")
            #expect(first.cgroup.processes() == [first.pid])
        }

        @Test("only stdio and the spec's extra files reach the process")
        func fileDescriptors() throws {
            // A stray fd without close-on-exec, as a careless library in the agent might leave.
            let stray = open("/dev/null", O_RDONLY)
            defer { close(stray) }
            #expect(try TestEnvironment.probe("fds") == "ok 0,1,2")
            var extra: [Int32] = [-1, -1]
            #expect(pipe(&extra) == 0)
            defer { close(extra[0]); close(extra[1]) }
            #expect(try TestEnvironment.probe("fds") { $0.extraFiles = [extra[1]] } == "ok 0,1,2,3")
        }

        @Test("the environment is exactly the spec's")
        func environment() throws {
            setenv("CELLA_TEST_HOST_SECRET", "leak", 1)
            let out = try TestEnvironment.run(TestEnvironment.spec(["/bin/env"]) {
                $0.environment = ["PATH": "/bin", "GREETING": "hello world"]
            })
            #expect(out.stdout.split(separator: "\n").sorted() == ["GREETING=hello world", "PATH=/bin"])
        }

        // The fd and child counts are the whole test process's: other suites starting sandboxes
        // at the same time (the agent tests) would move them, so scripts/test.sh runs those apart.
        @Test("500 sandboxes leave no cgroup, mount, fd or process behind")
        func noLeaks() throws {
            let launcher = try TestEnvironment.launcher.get()
            func snapshot() throws -> (cgroups: Set<String>, mounts: Int, fds: Int, children: Int) {
                var cgroups = Set<String>()
                for root in launcher.cgroups.rootDirectories {
                    for name in try FileIO.list(root) where FileIO.exists(root + "/" + name + "/cgroup.procs") {
                        cgroups.insert(root + "/" + name)
                    }
                }
                let mounts = MountTable.points().count
                let fds = try FileIO.list("/proc/self/fd").count
                let me = getpid()
                let children = try FileIO.list("/proc").compactMap { Int32($0) }.filter { pid in
                    guard let stat = try? FileIO.read("/proc/\(pid)/stat") else { return false }
                    let afterName = stat.split(separator: ")").last?.split(separator: " ") ?? []
                    return afterName.count > 1 && Int32(afterName[1]) == me
                }.count
                return (cgroups, mounts, fds, children)
            }
            // The launcher's shared root for this rootfs is made by its first launch and lives
            // with the launcher, not with any sandbox: made before the count.
            let warmUp = try launcher.launch(try TestEnvironment.spec(["/bin/true"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            })
            #expect(warmUp.waitBlocking().termination == .exited(0))
            let before = try snapshot()
            for _ in 0..<500 {
                let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/true"]) {
                    $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
                })
                #expect(sandbox.waitBlocking().termination == .exited(0))
            }
            let after = try snapshot()
            #expect(after.cgroups == before.cgroups)
            #expect(after.mounts == before.mounts)
            #expect(after.fds == before.fds)
            #expect(after.children == before.children)
        }

        @Test("the janitor kills and removes what a crashed run left under the cgroup root")
        func staleCleanup() throws {
            let launcher = try TestEnvironment.launcher.get()
            let orphan = try launcher.launch(try TestEnvironment.spec(["/bin/sleep", "60"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            })
            // A second launcher on the same root, as a restarted agent would make.
            let restarted = try SandboxLauncher(configuration: launcher.configuration)
            let removed = restarted.removeStale()
            #expect(removed.sandboxes.contains(orphan.id))
            #expect(orphan.waitBlocking().termination == .signaled(SIGKILL))
            #expect(launcher.cgroups.rootDirectories.allSatisfy { !FileIO.exists($0 + "/" + orphan.id) })
        }
    }
}
