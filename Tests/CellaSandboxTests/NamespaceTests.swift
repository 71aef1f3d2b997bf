import CellaTestSupport
import Foundation
import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// Processes, network and hostname are the sandbox's own.
    @Suite struct Namespaces {
        @Test("only the sandbox's own processes are visible, not the host's or another sandbox's")
        func pids() throws {
            let launcher = try TestEnvironment.launcher.get()
            let neighbour = try launcher.launch(try TestEnvironment.spec(["/bin/sleep", "30"]) {
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            })
            defer { neighbour.kill(); _ = neighbour.waitBlocking() }
            let line = try TestEnvironment.probe("pids")
            // "ok <count> <pids>": the probe is pid 1 of its namespace and alone in it.
            #expect(line == "ok 1 1", "inside: \(line)")
            let hostPIDs = try FileIO.list("/proc").compactMap { Int32($0) }
            #expect(hostPIDs.count > 2 && hostPIDs.contains(neighbour.pid), "the host sees many")
        }

        @Test("seen from the host, each sandbox has namespaces of its own, and its user namespace maps its owner's ids")
        func namespacesFromTheHost() throws {
            let launcher = try TestEnvironment.launcher.get()
            func namespaces(of pid: pid_t) throws -> [String: String] {
                var links: [String: String] = [:]
                for kind in ["mnt", "pid", "ipc", "uts", "cgroup", "net", "user"] {
                    var buffer = [CChar](repeating: 0, count: 64)
                    let n = readlink("/proc/\(pid)/ns/\(kind)", &buffer, buffer.count - 1)
                    guard n > 0 else { throw SystemError(call: "readlink", subject: "/proc/\(pid)/ns/\(kind)", errno: errno) }
                    links[kind] = String(cString: buffer)
                }
                return links
            }
            var sandboxes: [Sandbox] = []
            defer { for sandbox in sandboxes { sandbox.kill(); _ = sandbox.waitBlocking() } }
            for owner: UInt32 in [0, 0, 9] {
                sandboxes.append(try launcher.launch(try TestEnvironment.spec(["/bin/sleep", "30"]) {
                    $0.idMapping = IDMapping(ownerIndex: owner)
                    $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
                }))
            }
            // launch() returns once each has exec'd: its namespaces are final.
            let seen = try sandboxes.map { try namespaces(of: $0.pid) }
            let host = try namespaces(of: getpid())
            for kind in ["mnt", "pid", "ipc", "uts", "cgroup", "net", "user"] {
                #expect(Set(seen.map { $0[kind] }).count == 3, "\(kind): \(seen.map { $0[kind] ?? "" })")
                #expect(!seen.contains { $0[kind] == host[kind] }, "\(kind) is the host's")
            }
            for (sandbox, owner) in zip(sandboxes, [0, 0, 9] as [UInt32]) {
                for file in ["uid_map", "gid_map"] {
                    let map = try FileIO.read("/proc/\(sandbox.pid)/\(file)").split(whereSeparator: \.isWhitespace)
                    #expect(map == ["0", "\(IDMapping(ownerIndex: owner).hostBase)", "\(IDMapping.rangeSize)"], "\(file): \(map)")
                }
                // Who owns each namespace (NS_GET_USERNS): the host's user namespace, but for the
                // cgroup namespace, made after the sandbox's own.
                for kind in ["mnt", "pid", "ipc", "uts", "net", "cgroup"] {
                    let ownerNamespace = try owningUserNamespace("/proc/\(sandbox.pid)/ns/\(kind)")
                    let expected = kind == "cgroup" ? try inode("/proc/\(sandbox.pid)/ns/user") : try inode("/proc/self/ns/user")
                    #expect(ownerNamespace == expected, "\(kind)'s owner")
                }
            }
        }

        /// The inode of a namespace file.
        private func inode(_ path: String) throws -> UInt64 {
            var st = stat()
            guard stat(path, &st) == 0 else { throw SystemError(call: "stat", subject: path, errno: errno) }
            return UInt64(st.st_ino)
        }

        /// The inode of the user namespace that owns the namespace at `path` (ioctl NS_GET_USERNS).
        private func owningUserNamespace(_ path: String) throws -> UInt64 {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError(call: "open", subject: path, errno: errno) }
            defer { close(fd) }
            let owner = ioctl(fd, 0xb701)  // NS_GET_USERNS: _IO(0xb7, 0x1)
            guard owner >= 0 else { throw SystemError(call: "ioctl NS_GET_USERNS", subject: path, errno: errno) }
            defer { close(owner) }
            var st = stat()
            guard fstat(owner, &st) == 0 else { throw SystemError(call: "fstat", subject: path, errno: errno) }
            return UInt64(st.st_ino)
        }

        @Test("every mount in a sandbox is private, /var/task too when the code's host mount is shared, and /tmp and /dev/shm belong to its root")
        func privateMountsAndTmpfsOwner() throws {
            let launcher = try TestEnvironment.launcher.get()
            // A shared mount holding the code, as under systemd (MountFlags=shared).
            let host = "/tmp/cella-test-shared-\(getpid())"
            try FileIO.makeDirectories(host)
            defer { umount2(host, Int32(MNT_DETACH)); rmdir(host) }
            #expect(mount("cella-test", host, "tmpfs", 0, "size=1m,mode=0755") == 0)
            #expect(mount(nil, host, nil, UInt(MS_SHARED), nil) == 0)
            try FileIO.makeDirectories(host + "/code")
            chmod(host + "/code", 0o755)
            let mapping = IDMapping(ownerIndex: 3)
            let sandbox = try launcher.launch(try TestEnvironment.spec(["/bin/sleep", "30"]) {
                $0.rootfs.code = host + "/code"
                $0.idMapping = mapping
                $0.stdio = .fds(stdin: 0, stdout: 2, stderr: 2)
            })
            defer { sandbox.kill(); _ = sandbox.waitBlocking() }
            let points = MountTable.points(of: "\(sandbox.pid)")
            #expect(points.contains("/var/task"), "\(points)")
            // Optional fields sit between the mount options and " - ".
            let propagating = MountTable.points(of: "\(sandbox.pid)") { _, line in
                line.split(separator: " - ")[0].split(separator: " ").dropFirst(6)
                    .contains { $0.hasPrefix("shared:") || $0.hasPrefix("master:") }
            }
            #expect(propagating.isEmpty, "\(propagating)")
            for path in ["tmp", "dev/shm"] {
                var st = stat()
                #expect(stat("/proc/\(sandbox.pid)/root/\(path)", &st) == 0)
                #expect(st.st_uid == mapping.hostBase && st.st_gid == mapping.hostBase, "/\(path): \(st.st_uid):\(st.st_gid)")
            }
        }

        @Test("a listener on the host's 127.0.0.1 cannot be reached; without a network namespace it can")
        func hostLoopbackUnreachable() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(listener >= 0)
            defer { close(listener) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) }
            }
            #expect(listen(listener, 16) == 0)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
            }
            let port = String(UInt16(bigEndian: addr.sin_port))
            #expect(try TestEnvironment.probe("connect", "127.0.0.1", port) == "errno=ECONNREFUSED")
            let shared = try TestEnvironment.probe("connect", "127.0.0.1", port) { $0.protections.networkNamespace = false }
            #expect(shared == "ok", "the control run reaches the listener when sharing the host network")
        }

        @Test("a prepared network namespace: the sandbox reaches the listener made in it, never the host's")
        func preparedNamespace() throws {
            let namespace = try NetworkNamespace()
            let inside = try namespace.listenOnLoopback(port: 9001)
            defer { close(inside) }
            // A host listener on the same port number: a sandbox that could reach the host's
            // loopback would connect either way, so the probe below tells the two apart by the
            // connection the inside listener accepts.
            let host = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(host) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(host, $0, len) }
            }
            #expect(listen(host, 16) == 0)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(host, $0, &len) }
            }
            let hostPort = String(UInt16(bigEndian: addr.sin_port))

            #expect(try TestEnvironment.probe("connect", "127.0.0.1", "9001") { $0.network = .prepared(namespace) } == "ok")
            var peer = sockaddr_in()
            var peerLen = socklen_t(MemoryLayout<sockaddr_in>.size)
            let accepted = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(inside, $0, &peerLen) }
            }
            #expect(accepted >= 0, "the inside listener saw no connection")
            if accepted >= 0 { close(accepted) }
            #expect(try TestEnvironment.probe("connect", "127.0.0.1", hostPort) { $0.network = .prepared(namespace) }
                    == "errno=ECONNREFUSED", "the host's loopback listener was reachable")
            // Two sandboxes can share one prepared namespace in sequence; the namespace's loopback
            // stays up without any sandbox in it.
            #expect(try TestEnvironment.probe("connect", "127.0.0.1", "9001") { $0.network = .prepared(namespace) } == "ok")
        }

        @Test("the hostname is the sandbox's own")
        func hostname() throws {
            #expect(try TestEnvironment.probe("hostname") == "ok cella")
            #expect(try TestEnvironment.probe("hostname") { $0.hostname = "fn-abc" } == "ok fn-abc")
            var uts = utsname()
            uname(&uts)
            let host = withUnsafeBytes(of: uts.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            #expect(host != "fn-abc")
        }
    }
}
