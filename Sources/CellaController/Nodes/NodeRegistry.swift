import CellaModel
import CellaStore
import Foundation
import Synchronization

/// This controller's view of the nodes: what their heartbeats said (here or, through the store, at
/// another controller) plus what this controller itself knows between beats — invocations it has
/// in flight on each node, instances it has just seen go idle, versions it has deployed there.
///
/// A node is live while its last sign of life — its last heartbeat, or the last answer this
/// controller had from it — is at most `deadAfterMs` old (3 s); after that it gets no placements
/// and what was known of its instances is forgotten. Answers count because a node busy answering
/// invocations is alive even when its heartbeats queue behind that load (on a saturated
/// machine they did, and a serving node was declared dead). Liveness compares heartbeat
/// times written by whichever controller heard the beat, so controllers need clocks in sync (NTP).
public final class NodeRegistry: Sendable {
    public struct Entry: Sendable {
        public var record: NodeRecord
        /// Invocations this controller has sent to the node and not yet seen answered.
        public var localInFlight = 0
        /// Memory of those invocations' instances, bytes.
        public var localBusyBytes: Int64 = 0
        /// Idle instances per version key this controller saw finish there, with when.
        var idle: [String: (count: Int, touchedMs: Int64)] = [:]
        /// Until when the node answered NodeFull (or failed to connect): skipped by placement.
        var unavailableUntilMs: Int64 = 0
        /// Version keys deployed there by this controller.
        var deployed: Set<String> = []
        var dead = false
        /// When this controller last had an answer from the node's agent (any status).
        var lastAnsweredMs: Int64 = 0
        /// The agent itself said it is shutting down.
        var agentDraining = false
        /// `record.warm` and `record.templates` as sets, for placement's lookups.
        var warmSet: Set<String> = []
        var templateSet: Set<String> = []

        /// Its last heartbeat or answer, whichever is newer.
        var lastSignMs: Int64 { max(record.lastHeartbeatMs, lastAnsweredMs) }

        func isLive(nowMs: Int64, deadAfterMs: Int64) -> Bool { !dead && nowMs - lastSignMs <= deadAfterMs }

        /// Live and taking placements.
        func isPlaceable(nowMs: Int64, deadAfterMs: Int64) -> Bool {
            isLive(nowMs: nowMs, deadAfterMs: deadAfterMs) && !record.draining && !agentDraining
        }

        mutating func indexRecord() {
            warmSet = Set(record.warm)
            templateSet = Set(record.templates)
        }

        init(record: NodeRecord) { self.record = record }
    }

    public let deadAfterMs: Int64
    private let state = Mutex<State>(State())

    struct State {
        var nodes: [String: Entry] = [:]
        /// The ring of the live, undrained node ids it was built from.
        var ring: HashRing?
        var ringSignature: UInt64 = 0
    }

    public init(deadAfterMs: Int64 = 3000) {
        self.deadAfterMs = deadAfterMs
    }

    public static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: Heartbeats and the store

    /// Records a heartbeat heard by this controller. - Returns: the node record to persist.
    public func heartbeat(id: String, _ beat: NodeHeartbeat, nowMs: Int64 = nowMs()) -> NodeRecord {
        state.withLock { state in
            var entry = state.nodes[id] ?? Entry(record: NodeRecord(
                id: id, address: beat.address, memoryBudgetBytes: beat.memoryBudgetBytes,
                lastHeartbeatMs: nowMs, registeredAtMs: nowMs))
            let draining = entry.record.draining
            entry.record = NodeRecord(
                id: id, address: beat.address, memoryBudgetBytes: beat.memoryBudgetBytes,
                memoryReservedBytes: beat.memoryReservedBytes, inFlight: beat.inFlight, warm: beat.warm,
                templates: beat.templates, bundles: beat.bundles,
                // An agent that is shutting down says so; an operator's drain stays until undone.
                draining: draining, lastHeartbeatMs: nowMs, registeredAtMs: entry.record.registeredAtMs,
                instances: beat.instances ?? [])
            entry.agentDraining = beat.draining
            entry.indexRecord()
            if entry.dead { entry.dead = false }
            // Heartbeats are the truth about idle instances; keep only what this controller saw
            // finish since the beat was taken.
            let warm = Set(beat.warm)
            entry.idle = entry.idle.filter { warm.contains($0.key) || nowMs - $0.value.touchedMs < 1000 }
            state.nodes[id] = entry
            return entry.record
        }
    }

    /// Merges the nodes in the store: heartbeats other controllers heard, and operators' drains.
    public func merge(_ records: [NodeRecord], nowMs: Int64 = nowMs()) {
        state.withLock { state in
            for record in records {
                if var entry = state.nodes[record.id] {
                    entry.record.draining = record.draining
                    if record.lastHeartbeatMs > entry.record.lastHeartbeatMs {
                        let draining = entry.record.draining
                        entry.record = record
                        entry.record.draining = draining
                        entry.indexRecord()
                        // A fresh beat heard by another controller revives a node this one
                        // had declared dead, as a beat heard here does.
                        if entry.dead, nowMs - record.lastHeartbeatMs <= deadAfterMs { entry.dead = false }
                    }
                    state.nodes[record.id] = entry
                } else {
                    var entry = Entry(record: record)
                    entry.indexRecord()
                    state.nodes[record.id] = entry
                }
            }
            let known = Set(records.map(\.id))
            // A node deleted from the store (`cella nodes rm`) is gone here too once it is dead.
            state.nodes = state.nodes.filter { known.contains($0.key) || !$0.value.dead }
        }
    }

    public func setDraining(_ id: String, _ draining: Bool) {
        state.withLock { $0.nodes[id]?.record.draining = draining }
    }

    /// Marks nodes silent for longer than `deadAfterMs` dead and forgets their instances.
    /// - Returns: the ids that died since the last call.
    public func reap(nowMs: Int64 = nowMs()) -> [String] {
        state.withLock { state in
            var died: [String] = []
            for (id, entry) in state.nodes where !entry.dead && nowMs - entry.lastSignMs > deadAfterMs {
                var entry = entry
                entry.dead = true
                entry.idle = [:]
                entry.deployed = []
                entry.localInFlight = 0
                entry.localBusyBytes = 0
                state.nodes[id] = entry
                died.append(id)
            }
            return died.sorted()
        }
    }

    // MARK: Placement

    public struct NodeView: Sendable, Equatable {
        public var record: NodeRecord
        public var live: Bool
        public var agentDraining: Bool
        public var localInFlight: Int
    }

    /// Every known node, live or not, by id.
    public func list(nowMs: Int64 = nowMs()) -> [NodeView] {
        state.withLock { state in
            state.nodes.values.map { entry in
                NodeView(record: entry.record, live: entry.isLive(nowMs: nowMs, deadAfterMs: deadAfterMs),
                         agentDraining: entry.agentDraining, localInFlight: entry.localInFlight)
            }.sorted { $0.record.id < $1.record.id }
        }
    }

    /// Whether any node could take an invocation now (live, not draining).
    public func hasLiveNode(nowMs: Int64 = nowMs()) -> Bool {
        state.withLock { state in
            state.nodes.values.contains { $0.isPlaceable(nowMs: nowMs, deadAfterMs: deadAfterMs) }
        }
    }

    public func address(of id: String) -> String? {
        state.withLock { $0.nodes[id]?.record.address }
    }

    /// The nodes to try for one invocation of `key`, best first (see `Placement`).
    /// - Returns: the candidates and whether any node is live at all.
    public func candidates(key: String, memoryBytes: Int64, limit: Int = 3, nowMs: Int64 = nowMs()) -> (nodes: [String], anyLive: Bool) {
        state.withLock { state in
            var live: [Placement.Node] = []
            var warm: [String] = []
            var templates: [String] = []
            for (id, entry) in state.nodes {
                guard entry.isPlaceable(nowMs: nowMs, deadAfterMs: deadAfterMs) else { continue }
                let load = max(entry.localInFlight, entry.record.inFlight)
                let free = entry.record.memoryBudgetBytes - entry.localBusyBytes
                live.append(Placement.Node(id: id, load: load, freeBytes: free, unavailable: entry.unavailableUntilMs > nowMs))
                if (entry.idle[key]?.count ?? 0) > 0 || entry.warmSet.contains(key) { warm.append(id) }
                if entry.templateSet.contains(key) { templates.append(id) }
            }
            guard !live.isEmpty else { return ([], false) }
            // The ring changes only with membership: a signature of the live ids (count and a sum
            // of their hashes, order-free) says when to rebuild it, without sorting per call.
            var signature: UInt64 = UInt64(live.count)
            for node in live { signature = signature &+ HashRing.hash(node.id) }
            if state.ring == nil || state.ringSignature != signature {
                state.ring = HashRing(nodes: live.map(\.id))
                state.ringSignature = signature
            }
            let placement = Placement(nodes: live, ring: state.ring)
            return (placement.candidates(key: key, memoryBytes: memoryBytes, warm: warm, templates: templates, limit: limit), true)
        }
    }

    /// An invocation of `key` is being sent to `node`.
    public func begin(node: String, key: String, bytes: Int64) {
        state.withLock { state in
            guard var entry = state.nodes[node] else { return }
            entry.localInFlight += 1
            entry.localBusyBytes += bytes
            if let idle = entry.idle[key], idle.count > 0 { entry.idle[key] = (idle.count - 1, idle.touchedMs) }
            state.nodes[node] = entry
        }
    }

    /// The invocation sent by `begin` is over; `idleAfter` when its instance is idle again;
    /// `answered` when the agent answered it (a sign of life, like a heartbeat).
    public func end(node: String, key: String, bytes: Int64, idleAfter: Bool, answered: Bool = true, nowMs: Int64 = nowMs()) {
        state.withLock { state in
            guard var entry = state.nodes[node] else { return }
            if answered { entry.lastAnsweredMs = max(entry.lastAnsweredMs, nowMs) }
            entry.localInFlight = max(0, entry.localInFlight - 1)
            entry.localBusyBytes = max(0, entry.localBusyBytes - bytes)
            if idleAfter { entry.idle[key] = ((entry.idle[key]?.count ?? 0) + 1, nowMs) }
            state.nodes[node] = entry
        }
    }

    /// Skips `node` in placement for `ms` (it answered NodeFull or could not be reached).
    public func markUnavailable(_ node: String, forMs ms: Int64, nowMs: Int64 = nowMs()) {
        state.withLock { $0.nodes[node]?.unavailableUntilMs = nowMs + ms }
    }

    public func isDeployed(node: String, key: String) -> Bool {
        state.withLock { $0.nodes[node]?.deployed.contains(key) ?? false }
    }

    /// Records a deployment. - Returns: older `$LATEST` revisions of the same function this
    /// controller had deployed on the node, which the caller removes there.
    public func setDeployed(node: String, key: String, replacing prefix: String?) -> [String] {
        state.withLock { state in
            guard var entry = state.nodes[node] else { return [] }
            var stale: [String] = []
            if let prefix {
                stale = entry.deployed.filter { $0.hasPrefix(prefix) && $0 != key }
                entry.deployed.subtract(stale)
                for k in stale { entry.idle[k] = nil }
            }
            entry.deployed.insert(key)
            state.nodes[node] = entry
            return stale
        }
    }

    /// Forgets a deployment (the agent answered that it does not have it).
    public func forgetDeployed(node: String, key: String) {
        state.withLock { state in
            state.nodes[node]?.deployed.remove(key)
            state.nodes[node]?.idle[key] = nil
        }
    }

    /// Nodes where this controller deployed versions of a function (`tenant/name:` prefix).
    public func deployments(prefix: String) -> [(node: String, key: String)] {
        state.withLock { state in
            state.nodes.flatMap { id, entry in entry.deployed.filter { $0.hasPrefix(prefix) }.map { (id, $0) } }
        }
    }
}
