import Synchronization

/// Store reads a controller keeps for a short time, so a request does not pay a store round trip
/// for what rarely changes: a function's resolution, a caller's credential, principal and
/// policies. What changes through this controller is removed from it at once; a change made
/// through another controller is seen here within `ttlMs`. Only values found are kept, so a miss
/// (an unknown key, say) always reaches the store.
final class ExpiringCache<Value: Sendable>: Sendable {
    let ttlMs: Int64
    /// Entries held at most; past it the cache starts over.
    let capacity: Int
    private let entries = Mutex<[String: (value: Value, storedAtMs: Int64)]>([:])

    init(ttlMs: Int64, capacity: Int = 100_000) {
        self.ttlMs = ttlMs
        self.capacity = capacity
    }

    /// The value stored under `key` less than `ttlMs` ago, else what `load` finds (kept when
    /// not nil).
    func value<Failure: Error>(_ key: String, load: () async throws(Failure) -> Value?) async throws(Failure) -> Value? {
        let now = NodeRegistry.nowMs()
        if ttlMs > 0, let (value, at) = entries.withLock({ $0[key] }), now - at < ttlMs { return value }
        guard let loaded = try await load() else { return nil }
        if ttlMs > 0 {
            entries.withLock { entries in
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[key] = (loaded, now)
            }
        }
        return loaded
    }

    /// Forgets the entries `matching` picks.
    func remove(where matching: (String, Value) -> Bool) {
        entries.withLock { entries in entries = entries.filter { !matching($0.key, $0.value.value) } }
    }

    func remove(_ key: String) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }
}
