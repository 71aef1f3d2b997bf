import CSandboxShim
import Foundation

/// One thread that waits with epoll on any number of file descriptors and calls `ready` for each
/// one that turns readable. The reaper (pidfds) and the output watcher (pipes) each run one, so
/// waiting on a thousand sandboxes costs two threads.
final class EpollThread: Sendable {
    private let epfd: Int32

    init(name: String, ready: @escaping @Sendable (Int32) -> Void) {
        let fd = cella_epoll_create()
        precondition(fd >= 0, "epoll_create1: \(Errno.describe(-fd))")
        epfd = fd
        Thread.detachNewThread {
            Thread.current.name = name
            var fds = [Int32](repeating: -1, count: 64)
            while true {
                let n = cella_epoll_wait(fd, &fds, Int32(fds.count), -1)
                if n == -EINTR { continue }
                precondition(n >= 0, "epoll_wait: \(Errno.describe(-n))")
                for ready_fd in fds[0..<Int(n)] { ready(ready_fd) }
            }
        }
    }

    /// Watches `fd`: once (until re-added) or level-triggered. Returns 0 or -errno.
    @discardableResult
    func add(_ fd: Int32, oneShot: Bool) -> Int32 {
        oneShot ? cella_epoll_add_oneshot(epfd, fd) : cella_epoll_add(epfd, fd)
    }

    func remove(_ fd: Int32) {
        _ = cella_epoll_del(epfd, fd)
    }
}
