import DequeModule
import Foundation
import Synchronization

/// One line of a function's log.
public struct LogLine: Codable, Sendable, Equatable {
    /// Unix epoch milliseconds when the agent read the line.
    public var timeMs: Int64
    /// The invocation the line belongs to; nil for lines written during init or between
    /// invocations.
    public var requestId: String?
    /// The instance (sandbox) that wrote it.
    public var instance: String
    public var text: String
}

/// Recent log lines of every function version on this node, in memory, a byte budget per function
/// (oldest lines dropped first). The node keeps logs only until they are collected: the controller
/// reads them by function and by request id.
public final class LogStore: Sendable {
    /// One line in the node-wide feed, numbered in order, for collection by the controller.
    public struct FeedEntry: Codable, Sendable {
        public var sequence: Int64
        /// `tenant/name:version`.
        public var function: String
        public var line: LogLine
    }

    public let bytesPerFunction: Int
    /// How many lines the node-wide feed keeps when nobody collects (oldest dropped first).
    public let feedCapacity: Int
    private let functions = Mutex<[String: Ring]>([:])
    private let feed = Mutex<(next: Int64, entries: Deque<FeedEntry>)>((1, []))

    struct Ring {
        var lines = Deque<LogLine>()
        var bytes = 0
    }

    public init(bytesPerFunction: Int = 1 << 20, feedCapacity: Int = 100_000) {
        self.bytesPerFunction = bytesPerFunction
        self.feedCapacity = feedCapacity
    }

    func append(function: String, _ line: LogLine) {
        let cost = line.text.utf8.count + 64
        functions.withLock { functions in
            var ring = functions.removeValue(forKey: function) ?? Ring()
            ring.lines.append(line)
            ring.bytes += cost
            while ring.bytes > bytesPerFunction, let first = ring.lines.popFirst() {
                ring.bytes -= first.text.utf8.count + 64
            }
            functions[function] = ring
        }
        feed.withLock { feed in
            feed.entries.append(FeedEntry(sequence: feed.next, function: function, line: line))
            feed.next += 1
            if feed.entries.count > feedCapacity { feed.entries.removeFirst() }
        }
    }

    /// Lines of every function numbered above `after`, oldest first, at most `limit`: what the
    /// controller collects into the store.
    public func feed(after: Int64 = 0, limit: Int = 1000) -> [FeedEntry] {
        feed.withLock { feed in
            guard let first = feed.entries.first?.sequence else { return [] }
            let start = max(0, Int(after - first + 1))
            guard start < feed.entries.count else { return [] }
            return Array(feed.entries[start..<min(feed.entries.count, start + limit)])
        }
    }

    /// Lines of `function`, oldest first: all of one invocation when `requestId` is given, else the
    /// last `limit` lines at or after `sinceMs`.
    public func lines(function: String, requestId: String? = nil, sinceMs: Int64 = 0, limit: Int = 1000) -> [LogLine] {
        functions.withLock { functions in
            guard let ring = functions[function] else { return [] }
            let matching = ring.lines.filter { line in
                line.timeMs >= sinceMs && (requestId == nil || line.requestId == requestId)
            }
            return Array(matching.suffix(limit))
        }
    }

    /// Forgets a function's lines (when it is removed from the node).
    func remove(function: String) {
        functions.withLock { _ = $0.removeValue(forKey: function) }
    }
}
