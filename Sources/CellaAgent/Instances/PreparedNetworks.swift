import CellaSandbox
import Glibc
import NIOPosix
import Synchronization

/// Network namespaces made ahead of need, each with loopback up and the Runtime API's socket
/// already listening on `127.0.0.1:9001` in it: the part of a sandbox that can be prepared before
/// anyone knows which function it is for (making one costs ≈1.3 ms here, most of it the
/// namespace). A cold start takes one and a refill on the thread pool replaces it. Each is used
/// once, by one sandbox, and holds nothing but an empty listener, so any tenant may get any one.
final class PreparedNetworks: Sendable {
    struct Network: Sendable {
        let namespace: NetworkNamespace
        let listener: Int32
    }

    private let spare = Mutex<[Network]>([])
    private let refilling = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let taken = Atomic<Int>(0)
    let target: Int

    init(target: Int) {
        self.target = target
    }

    /// A prepared network, or nil when none is left (the caller makes its own). Blocking-free;
    /// starts a refill on `threadPool`.
    func take(refillingOn threadPool: NIOThreadPool) -> Network? {
        let network = spare.withLock { $0.popLast() }
        if network != nil { taken.add(1, ordering: .relaxed) }
        refill(on: threadPool)
        return network
    }

    /// How many are ready.
    var count: Int { spare.withLock { $0.count } }

    /// How many sandboxes have started in a prepared network so far.
    var used: Int { taken.load(ordering: .relaxed) }

    /// Makes networks on `threadPool` until `target` are ready (one refill at a time).
    func refill(on threadPool: NIOThreadPool) {
        guard target > 0, !stopped.load(ordering: .relaxed),
              !refilling.exchange(true, ordering: .acquiring) else { return }
        threadPool.submit { [self] _ in
            defer { refilling.store(false, ordering: .releasing) }
            while count < target && !stopped.load(ordering: .relaxed) {
                guard let namespace = try? NetworkNamespace() else { return }
                guard let listener = try? namespace.listenOnLoopback(port: 9001) else { return }
                let kept: Bool = spare.withLock { list in
                    guard !stopped.load(ordering: .relaxed) else { return false }
                    list.append(Network(namespace: namespace, listener: listener))
                    return true
                }
                if !kept { close(listener) }
            }
        }
    }

    /// Closes every prepared network; no refill after this.
    func stop() {
        let all: [Network] = spare.withLock { list in
            stopped.store(true, ordering: .relaxed)
            defer { list = [] }
            return list
        }
        for network in all {
            close(network.listener)
        }
    }
}
