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
    public let bytesPerFunction: Int
    private let functions = Mutex<[String: Ring]>([:])

    struct Ring {
        var lines = Deque<LogLine>()
        var bytes = 0
    }

    public init(bytesPerFunction: Int = 1 << 20) {
        self.bytesPerFunction = bytesPerFunction
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
