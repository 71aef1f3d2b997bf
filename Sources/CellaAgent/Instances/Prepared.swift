import CellaSandbox
import Glibc
import NIOPosix
import Synchronization

/// Parts of a sandbox made ahead of need, before anyone knows which function they are for: a
/// cold start takes one and a refill on the thread pool replaces it. Each is used once, by one
/// sandbox, and holds nothing of anyone's, so any tenant may get any one.
///
/// Two kinds: network namespaces with loopback up and the Runtime API's socket already listening
/// on `127.0.0.1:9001` in them (making one costs ≈1.3 ms here, most of it the namespace), and
/// empty cgroups (a `mkdir` in each hierarchy; the version's limits are written when one is
/// taken, before any process joins it).
final class Prepared<Item: Sendable>: Sendable {
    private let spare = Mutex<[Item]>([])
    private let refilling = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let taken = Atomic<Int>(0)
    private let make: @Sendable () -> Item?
    private let discard: @Sendable (Item) -> Void
    let target: Int

    /// - Parameters:
    ///   - make: makes one on the thread pool; nil stops this refill (tried again at the next take).
    ///   - discard: releases one that is never used (at `stop`).
    init(target: Int, make: @escaping @Sendable () -> Item?, discard: @escaping @Sendable (Item) -> Void) {
        self.target = target
        self.make = make
        self.discard = discard
    }

    /// A prepared one, or nil when none is left (the caller makes its own). Blocking-free;
    /// starts a refill on `threadPool`.
    func take(refillingOn threadPool: NIOThreadPool) -> Item? {
        let item = spare.withLock { $0.popLast() }
        if item != nil { taken.add(1, ordering: .relaxed) }
        refill(on: threadPool)
        return item
    }

    /// How many are ready.
    var count: Int { spare.withLock { $0.count } }

    /// How many sandboxes have taken one so far.
    var used: Int { taken.load(ordering: .relaxed) }

    /// Makes items on `threadPool` until `target` are ready (one refill at a time).
    func refill(on threadPool: NIOThreadPool) {
        guard target > 0, !stopped.load(ordering: .relaxed),
              !refilling.exchange(true, ordering: .acquiring) else { return }
        threadPool.submit { [self] _ in
            defer { refilling.store(false, ordering: .releasing) }
            while count < target && !stopped.load(ordering: .relaxed) {
                guard let item = make() else { return }
                let kept: Bool = spare.withLock { list in
                    guard !stopped.load(ordering: .relaxed) else { return false }
                    list.append(item)
                    return true
                }
                if !kept { discard(item) }
            }
        }
    }

    /// Releases every prepared one; no refill after this.
    func stop() {
        let all: [Item] = spare.withLock { list in
            stopped.store(true, ordering: .relaxed)
            defer { list = [] }
            return list
        }
        for item in all { discard(item) }
    }
}

/// A network namespace made ahead, with the Runtime API's listener bound in it.
struct PreparedNetwork: Sendable {
    let namespace: NetworkNamespace
    let listener: Int32

    static func pool(target: Int) -> Prepared<PreparedNetwork> {
        Prepared(target: target, make: {
            guard let namespace = try? NetworkNamespace(), let listener = try? namespace.listenOnLoopback(port: 9001) else { return nil }
            return PreparedNetwork(namespace: namespace, listener: listener)
        }, discard: { close($0.listener) })
    }
}

typealias PreparedNetworks = Prepared<PreparedNetwork>
typealias PreparedCgroups = Prepared<SandboxCgroup>

extension Prepared where Item == SandboxCgroup {
    /// Empty cgroups named `<prefix><n>` under the launcher's root.
    static func cgroups(target: Int, launcher: SandboxLauncher, prefix: String) -> PreparedCgroups {
        let serial = Serial()
        return Prepared(target: target, make: {
            try? launcher.cgroups.prepare(id: prefix + String(serial.next()))
        }, discard: { _ = $0.destroy() })
    }
}

private final class Serial: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}
