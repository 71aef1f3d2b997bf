/// The placement decision, pure so it can be tested and measured alone: given the live nodes'
/// load and what they hold, the nodes to try for one invocation, best first.
///
/// Order: nodes with an idle warm instance of the version (least loaded first), then nodes holding
/// its snapshot template, then the function's nodes on the consistent-hash ring walked clockwise,
/// skipping any whose load is above the bound `ceil(c × (total load + 1) / nodes)` (bounded-load
/// consistent hashing, Mirrokni et al.): a function's instances stay together on its home nodes,
/// but a hot function spills to the next node on the ring instead of piling onto one (the hot spot
/// that made OpenWhisk move away from plain home-invoker hashing). Nodes above the bound come last,
/// so a request is placed whenever any node has room; full nodes are never candidates.
public struct Placement: Sendable {
    public struct Node: Sendable {
        public var id: String
        /// Invocations in flight on the node now.
        public var load: Int
        /// Bytes of instance memory still free for busy instances.
        public var freeBytes: Int64
        /// Answered NodeFull recently, or draining: not a candidate.
        public var unavailable: Bool
        public init(id: String, load: Int, freeBytes: Int64, unavailable: Bool = false) {
            self.id = id
            self.load = load
            self.freeBytes = freeBytes
            self.unavailable = unavailable
        }
    }

    /// The load bound factor `c` (> 1): 1.25 keeps every node within 25 % of the mean.
    public var balance: Double
    public var ring: HashRing
    public var nodes: [Node]
    private let index: [String: Int]

    public init(nodes: [Node], balance: Double = 1.25, virtualNodes: Int = 64, ring: HashRing? = nil) {
        let ring = ring ?? HashRing(nodes: nodes.map(\.id), virtualNodes: virtualNodes)
        var byRing = [Node](repeating: Node(id: "", load: 0, freeBytes: 0, unavailable: true), count: ring.nodes.count)
        let index = ring.index
        for node in nodes { if let i = index[node.id] { byRing[i] = node } }
        self.ring = ring
        self.nodes = byRing
        self.index = index
        self.balance = balance
    }

    /// The nodes to try, best first, at most `limit`.
    /// - Parameters:
    ///   - key: the function version (`tenant/name:version`), hashed onto the ring by its function
    ///     (`tenant/name`) so versions of one function share home nodes.
    ///   - memoryBytes: the memory one instance needs; nodes with less free are skipped.
    ///   - warm: nodes with an idle instance of the version.
    ///   - templates: nodes holding its snapshot template.
    public func candidates(
        key: String, memoryBytes: Int64, warm: [String] = [], templates: [String] = [], limit: Int = 3
    ) -> [String] {
        var out: [String] = []
        out.reserveCapacity(limit)
        var taken = [Bool](repeating: false, count: nodes.count)
        func usable(_ i: Int) -> Bool { !taken[i] && !nodes[i].unavailable && nodes[i].freeBytes >= memoryBytes }

        // Warm first (an idle instance needs no new memory), least loaded first.
        let warmIdx = warm.compactMap { index[$0] }.filter { !taken[$0] && !nodes[$0].unavailable }
            .sorted { nodes[$0].load < nodes[$1].load }
        for i in warmIdx where out.count < limit {
            taken[i] = true
            out.append(nodes[i].id)
        }
        for i in templates.compactMap({ index[$0] }) where out.count < limit && usable(i) {
            taken[i] = true
            out.append(nodes[i].id)
        }
        guard out.count < limit else { return out }

        var total = 0, live = 0
        for node in nodes where !node.unavailable {
            total += node.load
            live += 1
        }
        guard live > 0 else { return out }
        let bound = Int((balance * Double(total + 1) / Double(live)).rounded(.up))
        var overloaded: [Int] = []
        let function = key.split(separator: ":", maxSplits: 1).first.map(String.init) ?? key
        ring.walk(from: function) { i in
            guard usable(i) else { return true }
            if nodes[i].load < bound {
                taken[i] = true
                out.append(nodes[i].id)
            } else {
                overloaded.append(i)
            }
            return out.count < limit
        }
        for i in overloaded.sorted(by: { nodes[$0].load < nodes[$1].load }) where out.count < limit {
            out.append(nodes[i].id)
        }
        return out
    }
}
