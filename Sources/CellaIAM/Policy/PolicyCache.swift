import Synchronization

/// Compiled policies by policy id and revision, so that each stored document is parsed once.
///
/// The key is `(id, revision)` rather than the document text: hashing a 6 KB text on every
/// request would cost more than evaluating it. A revision is whatever the store changes on each
/// update (a counter, an etag). The cache holds at most ``capacity`` entries; when full, an
/// arbitrary entry is dropped (policies are few and recompiling one costs microseconds).
public final class PolicyCache: Sendable {
    private struct Key: Hashable {
        let id: String
        let revision: String
    }

    public let capacity: Int
    public let options: PolicyOptions
    private let entries = Mutex<[Key: CompiledPolicy]>([:])

    /// Creates an empty cache.
    /// - Parameters:
    ///   - capacity: The most compiled policies kept.
    ///   - options: The limits documents are compiled with.
    public init(capacity: Int = 10_000, options: PolicyOptions = PolicyOptions()) {
        self.capacity = max(1, capacity)
        self.options = options
    }

    /// The compiled policy for `id` at `revision`, compiling `document()` on a miss.
    /// - Parameters:
    ///   - id: The policy's identifier.
    ///   - revision: Its revision; a new revision compiles anew.
    ///   - document: Produces the JSON text; called only on a miss, outside the lock.
    /// - Throws: `IAMError` when the document does not compile (nothing is cached then).
    public func policy(id: String, revision: String, document: () -> String) throws(IAMError) -> CompiledPolicy {
        let key = Key(id: id, revision: revision)
        if let cached = entries.withLock({ $0[key] }) { return cached }
        let compiled = try CompiledPolicy(id: id, document: document(), options: options)
        entries.withLock { table in
            if table.count >= capacity, table[key] == nil {
                table.remove(at: table.startIndex)
            }
            table[key] = compiled
        }
        return compiled
    }

    /// Forgets every revision of `id` (after the policy is deleted or replaced).
    public func remove(id: String) {
        entries.withLock { table in
            table = table.filter { $0.key.id != id }
        }
    }

    /// The number of compiled policies held.
    public var count: Int { entries.withLock { $0.count } }
}
