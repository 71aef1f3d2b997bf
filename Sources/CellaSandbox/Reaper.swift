import CSandboxShim
import Foundation
import Synchronization

/// One thread per process that waits, with epoll, for any number of pidfds to become readable
/// (the process exited) and resumes whoever awaits them. Waiting for a thousand sandboxes costs
/// one thread, and no waitpid(-1) ever steals another component's child.
final class Reaper: Sendable {
    static let shared = Reaper()

    private let epfd: Int32
    private let waiters = Mutex<[Int32: [CheckedContinuation<Void, Never>]]>([:])

    private init() {
        let fd = cella_epoll_create()
        precondition(fd >= 0, "epoll_create1: \(Errno.describe(-fd))")
        epfd = fd
        Thread.detachNewThread { [self] in
            Thread.current.name = "cella-reaper"
            self.run()
        }
    }

    /// Suspends until `pidfd` is readable.
    func waitUntilReadable(_ pidfd: Int32) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let first = waiters.withLock { waiters in
                let first = waiters[pidfd] == nil
                waiters[pidfd, default: []].append(continuation)
                return first
            }
            // Not pollable (already closed by a concurrent finish): nothing left to wait for.
            if first && cella_epoll_add_oneshot(epfd, pidfd) != 0 { resume(pidfd) }
        }
    }

    /// Wakes anyone waiting on `pidfd` before it is closed.
    func forget(_ pidfd: Int32) {
        _ = cella_epoll_del(epfd, pidfd)
        resume(pidfd)
    }

    private func resume(_ pidfd: Int32) {
        let continuations = waiters.withLock { $0.removeValue(forKey: pidfd) } ?? []
        for continuation in continuations { continuation.resume() }
    }

    private func run() {
        var ready = [Int32](repeating: -1, count: 64)
        while true {
            let n = cella_epoll_wait(epfd, &ready, Int32(ready.count), -1)
            if n == -EINTR { continue }
            precondition(n >= 0, "epoll_wait: \(Errno.describe(-n))")
            for fd in ready[0..<Int(n)] {
                _ = cella_epoll_del(epfd, fd)
                resume(fd)
            }
        }
    }
}
