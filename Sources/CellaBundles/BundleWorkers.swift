import Foundation
import Synchronization

/// A few dedicated threads for the bundle store's blocking work: hashing, copying, unpacking
/// and deleting trees, each of which can take seconds on a 250 MiB bundle.
///
/// Not the cooperative pool: it has one thread per core, and a blocked one there stalls every
/// task of the agent (invocations, the Runtime API). Not a concurrent `DispatchQueue` either: on
/// Linux it grows a thread per blocked item. Two threads bound the disk and CPU one node spends
/// on bundles, and a small bundle waits behind at most one large one.
final class BundleWorkers: Sendable {
    /// The process's workers, shared by every store.
    static let shared = BundleWorkers(threads: 2)

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let available = DispatchSemaphore(value: 0)

    init(threads: Int) {
        for index in 0..<threads {
            Thread.detachNewThread { [self] in
                Thread.current.name = "cella-bundles-\(index)"
                work()
            }
        }
    }

    /// Runs `body` on a worker thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            jobs.withLock { $0.append { continuation.resume(returning: body()) } }
            available.signal()
        }
    }

    /// Runs a throwing `body` on a worker thread, keeping its typed error.
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws(BundleError) -> T) async throws(BundleError) -> T {
        try await run { Result(catching: body) }.get()
    }

    private func work() {
        while true {
            available.wait()
            let job = jobs.withLock { $0.removeFirst() }
            job()
        }
    }
}
