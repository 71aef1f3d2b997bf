import CellaModel
import DequeModule
import Synchronization

/// The node's metering records, numbered in order, kept until collected (bounded: the oldest go
/// first when nobody collects). The controller reads them with `after: lastSequenceSeen`.
public final class RecordStore: Sendable {
    public struct Entry: Codable, Sendable {
        public var sequence: Int64
        public var record: InvocationRecord
    }

    public let capacity: Int
    private let state = Mutex<(next: Int64, entries: Deque<Entry>)>((1, []))

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func append(_ record: InvocationRecord) {
        state.withLock { state in
            state.entries.append(Entry(sequence: state.next, record: record))
            state.next += 1
            if state.entries.count > capacity { state.entries.removeFirst() }
        }
    }

    /// Records numbered above `after`, oldest first, at most `limit`.
    public func entries(after: Int64 = 0, limit: Int = 1000) -> [Entry] {
        state.withLock { state in
            guard let first = state.entries.first?.sequence else { return [] }
            let start = max(0, Int(after - first + 1))
            guard start < state.entries.count else { return [] }
            return Array(state.entries[start..<min(state.entries.count, start + limit)])
        }
    }
}
