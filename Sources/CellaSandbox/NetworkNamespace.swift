import CSandboxShim
import Glibc

/// A network namespace made ahead of a sandbox, with loopback up, that the sandbox joins instead
/// of making its own. Its owner can open listening sockets inside it first: this is how an agent
/// serves the Lambda Runtime API at `127.0.0.1:9001` in each sandbox without any route to the host.
///
/// The namespace belongs to the host's user namespace, so the sandbox (root only in its own user
/// namespace) cannot reconfigure it: no interfaces, addresses, routes or firewall rules.
/// The namespace lives while this value or a process inside it does.
public final class NetworkNamespace: Sendable {
    /// Holds the namespace (an fd on `/proc/thread-self/ns/net`).
    let fd: Int32

    /// Makes a namespace with only loopback, up.
    /// - Throws: `SandboxError` `.launchFailed` with the errno of unshare or the loopback ioctl.
    public init() throws(SandboxError) {
        var fd: Int32 = -1
        let r = cella_netns_create(&fd)
        guard r == 0 else {
            throw SandboxError(.launchFailed, "cannot create a network namespace: \(Errno.describe(-r))", errno: -r)
        }
        self.fd = fd
    }

    /// Opens a TCP socket listening on `127.0.0.1:port` inside the namespace. The caller owns the
    /// returned fd (close-on-exec, non-blocking).
    /// - Throws: `SandboxError` `.launchFailed` with the errno of socket, bind or listen.
    public func listenOnLoopback(port: UInt16, backlog: Int32 = 16) throws(SandboxError) -> Int32 {
        let loopback = UInt32(0x7f00_0001).bigEndian
        let r = cella_netns_listen_tcp(fd, loopback, port.bigEndian, backlog)
        guard r >= 0 else {
            throw SandboxError(.launchFailed, "cannot listen on 127.0.0.1:\(port) in the sandbox's network namespace: \(Errno.describe(-r))", errno: -r)
        }
        return r
    }

    deinit { close(fd) }
}
