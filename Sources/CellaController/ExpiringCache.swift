import Synchronization

/// Store reads a controller keeps for a short time, so a request does not pay a store round trip
/// for what rarely changes: a function's resolution, a caller's credential, principal and
/// policies. What changes through this controller is removed from it at once; a change made
/// through another controller is seen here within `ttlMs`. Only values found are kept, so a miss
/// (an unknown key, say) always reaches the store.
final class ExpiringCache<Value: Sendable>: Sendable {
    private struct State {
        var entries: [String: (value: Value, storedAtMs: Int64)] = [:]
        /// Counts removals: a read that was under way when one happened may hold what was just
        /// removed, and is not kept.
        var generation: UInt64 = 0
    }

    let ttlMs: Int64
    /// Entries held at most; past it expired entries go, and if none had, the cache starts over.
    let capacity: Int
    private let state = Mutex(State())

    init(ttlMs: Int64, capacity: Int = 10_000) {
        self.ttlMs = ttlMs
        self.capacity = capacity
    }

    /// The value stored under `key` less than `ttlMs` ago, else what `load` finds (kept when
    /// not nil, and when nothing was removed while it loaded).
    func value<Failure: Error>(_ key: String, load: () async throws(Failure) -> Value?) async throws(Failure) -> Value? {
        let now = NodeRegistry.nowMs()
        let (hit, generation) = state.withLock { state in (state.entries[key], state.generation) }
        if ttlMs > 0, let hit, now - hit.storedAtMs < ttlMs { return hit.value }
        guard let loaded = try await load() else { return nil }
        guard ttlMs > 0 else { return loaded }
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= capacity {
                state.entries = state.entries.filter { now - $0.value.storedAtMs < ttlMs }
                if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            }
            state.entries[key] = (loaded, now)
        }
        return loaded
    }

    /// Forgets the entries `matching` picks.
    func remove(where matching: (String, Value) -> Bool) {
        state.withLock { state in
            state.generation &+= 1
            for (key, entry) in state.entries where matching(key, entry.value) { state.entries[key] = nil }
        }
    }

    func remove(_ key: String) {
        state.withLock { state in
            state.generation &+= 1
            state.entries[key] = nil
        }
    }
}
