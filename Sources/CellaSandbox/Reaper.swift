import CSandboxShim
import Foundation
import Synchronization

/// One thread per process that waits, with epoll, for any number of pidfds to become readable
/// (the process exited) and resumes whoever awaits them. Waiting for a thousand sandboxes costs
/// one thread, and no waitpid(-1) ever steals another component's child.
final class Reaper: Sendable {
    static let shared = Reaper()

    private let waiters = Mutex<[Int32: [CheckedContinuation<Void, Never>]]>([:])
    // One-shot: a fired pidfd stays registered but silent until `forget` removes it before close.
    private let loop = EpollThread(name: "cella-reaper") { pidfd in Reaper.shared.resume(pidfd) }

    private init() {}

    /// Suspends until `pidfd` is readable.
    func waitUntilReadable(_ pidfd: Int32) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let first = waiters.withLock { waiters in
                let first = waiters[pidfd] == nil
                waiters[pidfd, default: []].append(continuation)
                return first
            }
            // Not pollable (already closed by a concurrent finish): nothing left to wait for.
            if first && loop.add(pidfd, oneShot: true) != 0 { resume(pidfd) }
        }
    }

    /// Wakes anyone waiting on `pidfd` before it is closed.
    func forget(_ pidfd: Int32) {
        loop.remove(pidfd)
        resume(pidfd)
    }

    private func resume(_ pidfd: Int32) {
        let continuations = waiters.withLock { $0.removeValue(forKey: pidfd) } ?? []
        for continuation in continuations { continuation.resume() }
    }
}
