import CSandboxShim
import Glibc

/// The agent's side of making one clone of a parked template (docs/runtime-snapshots.md): hands
/// the template a fresh Runtime API socket and an output pipe, learns the clone's pid from the
/// kernel and moves it into its own cgroup. The clone then waits for its go line (`go`), which
/// may come at once or, for a clone made ahead of need, when an invocation wants it.
public enum TemplateFork {
    /// A forked clone, in its cgroup, waiting for its go line: its process and the agent's end of
    /// its Runtime API connection (an AF_UNIX stream socket, blocking, close-on-exec), which the
    /// caller now owns.
    public struct Started: Sendable {
        public let process: ForkedProcess
        public let runtimeSocket: Int32
    }

    /// Asks the template listening on `control` for one clone. Blocking (socket round trips with
    /// the template and the clone): call it from a thread that may block.
    /// - Parameters:
    ///   - control: the agent's end of the template's control socket.
    ///   - request: the request line (ends in a newline), as the protocol defines it.
    ///   - output: the write end of the pipe that becomes the clone's stdout and stderr.
    ///   - cgroup: a cgroup made (with its limits) for the clone; the caller removes it on a throw.
    ///   - timeoutMs: how long the template and then the clone may take to answer, each.
    /// - Throws: `SandboxError` `.launchFailed` naming the step; the clone, if any, is killed.
    public static func fork(
        control: Int32, request: [UInt8], output: Int32, cgroup: SandboxCgroup, timeoutMs: Int32
    ) throws(SandboxError) -> Started {
        var pair: [Int32] = [-1, -1]
        var r = cella_clone_socketpair(&pair)
        guard r == 0 else { throw SandboxError(.launchFailed, "socketpair: \(Errno.describe(-r))", errno: -r) }
        let (agentEnd, cloneEnd) = (pair[0], pair[1])
        var handedOver = false
        defer { if !handedOver { close(agentEnd) } }
        r = request.withUnsafeBytes { bytes in
            [cloneEnd, output].withUnsafeBufferPointer { fds in
                cella_send_fds(control, bytes.baseAddress, bytes.count, fds.baseAddress, 2)
            }
        }
        close(cloneEnd)
        guard r == 0 else {
            throw SandboxError(.launchFailed, "cannot send the clone request to the template: \(Errno.describe(-r))", errno: -r)
        }
        let reply = try readLine(control, timeoutMs: timeoutMs)
        guard reply.hasPrefix("ok") else {
            throw SandboxError(.launchFailed, "the template could not fork: \(reply.isEmpty ? "no answer" : reply)")
        }

        var hello: [UInt8] = [0]
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        let n = cella_recv_hello(agentEnd, timeoutMs, &hello, 1, &pid, &pidfd)
        guard n == 1, hello[0] == UInt8(ascii: "R"), pid > 0 else {
            if pidfd >= 0 {
                _ = cella_pidfd_send_signal(pidfd, SIGKILL)
                close(pidfd)
            }
            let why = n < 0 ? Errno.describe(-n) : n == 0 ? "it closed its socket" : "unexpected byte \(hello[0])"
            throw SandboxError(.launchFailed, "the clone did not report: \(why)", errno: n < 0 ? -n : 0)
        }
        if pidfd < 0 {
            // Kernels before 6.5 send no SCM_PIDFD; the clone is blocked on us, so its pid is live.
            pidfd = cella_pidfd_open(pid)
            guard pidfd >= 0 else {
                throw SandboxError(.launchFailed, "pidfd_open \(pid): \(Errno.describe(-pidfd))", errno: -pidfd)
            }
        }
        let process = ForkedProcess(pid: pid, pidfd: pidfd, cgroup: cgroup)
        do { try cgroup.add(pid: pid) } catch {
            _ = cella_pidfd_send_signal(pidfd, SIGKILL)
            throw SandboxError(.cgroup, "cannot move the clone into its cgroup", cause: error)
        }
        handedOver = true
        return Started(process: process, runtimeSocket: agentEnd)
    }

    /// How long `go` waits for room in a clone's socket before it gives up on the clone.
    static let goTimeoutMs = 2_000

    /// Writes a go line on `socket` (any descriptor of the clone's Runtime API connection); the
    /// clone reads nothing else before it, so a short line goes out whole or not at all.
    /// - Throws: `SandboxError` `.launchFailed` when the clone is gone, or its socket has had no
    ///   room for `goTimeoutMs`.
    public static func go(socket: Int32, line: [UInt8]) throws(SandboxError) {
        var sent = 0
        let deadline = Self.nowMs() + Int64(goTimeoutMs)
        while sent < line.count {
            let n = line.withUnsafeBytes { send(socket, $0.baseAddress! + sent, line.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN {
                // A clone that never reads its socket (stopped, or wedged) must not hold us here.
                let left = deadline - Self.nowMs()
                guard left > 0 else {
                    throw SandboxError(.launchFailed, "cannot release the clone: its socket stayed full for \(goTimeoutMs) ms", errno: EAGAIN)
                }
                var pfd = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, Int32(min(left, 1000)))
                continue
            }
            guard n > 0 else {
                let code = errno
                throw SandboxError(.launchFailed, "cannot release the clone: \(Errno.describe(code))", errno: code)
            }
            sent += n
        }
    }

    /// Reads one line (without its newline) from a blocking socket, waiting at most `timeoutMs`
    /// in all. The template writes exactly one line per request and nothing until the next
    /// request, so whatever arrives is read at once, not byte by byte.
    private static func readLine(_ fd: Int32, timeoutMs: Int32) throws(SandboxError) -> String {
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        let deadline = Self.nowMs() + Int64(timeoutMs)
        while line.count < 4096 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(0, deadline - Self.nowMs()))
            let p = poll(&pfd, 1, left)
            if p < 0 && errno == EINTR { continue }
            guard p > 0 else { throw SandboxError(.launchFailed, "the template did not answer within \(timeoutMs) ms") }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SandboxError(.launchFailed, "the template closed its control socket") }
            line += buffer[..<n]
            if let end = line.firstIndex(of: UInt8(ascii: "\n")) {
                guard end == line.count - 1 else {
                    throw SandboxError(.launchFailed, "the template answered more than one line")
                }
                line.removeLast()
                break
            }
        }
        return String(decoding: line, as: UTF8.self)
    }

    private static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
