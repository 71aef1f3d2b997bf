/// A consistent-hash ring of node ids: each node appears at `virtualNodes` points, so removing one
/// node moves only its share of functions, spread over the others.
public struct HashRing: Sendable {
    /// (point, index into `nodes`), sorted by point.
    private let points: [(UInt64, Int32)]
    public let nodes: [String]
    /// Node id → its index in `nodes`, made once with the ring.
    public let index: [String: Int]

    public init(nodes: [String], virtualNodes: Int = 64) {
        let nodes = nodes.sorted()
        var points: [(UInt64, Int32)] = []
        points.reserveCapacity(nodes.count * virtualNodes)
        for (index, node) in nodes.enumerated() {
            let base = Self.hash(node)
            for replica in 0..<virtualNodes {
                points.append((Self.mix(base &+ UInt64(replica) &* 0x9E37_79B9_7F4A_7C15), Int32(index)))
            }
        }
        points.sort { $0.0 < $1.0 }
        self.points = points
        self.nodes = nodes
        var index: [String: Int] = [:]
        for (i, id) in nodes.enumerated() { index[id] = i }
        self.index = index
    }

    /// Node indices in ring order from the key's point clockwise, each node once.
    public func walk(from key: String, body: (Int) -> Bool) {
        guard !points.isEmpty else { return }
        let h = Self.hash(key)
        var lo = 0, hi = points.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if points[mid].0 < h { lo = mid + 1 } else { hi = mid }
        }
        var seen = [Bool](repeating: false, count: nodes.count)
        var remaining = nodes.count
        var i = lo
        for _ in 0..<points.count {
            let node = Int(points[i == points.count ? 0 : i].1)
            i = (i == points.count ? 0 : i) + 1
            if !seen[node] {
                seen[node] = true
                remaining -= 1
                if !body(node) || remaining == 0 { return }
            }
        }
    }

    /// FNV-1a, then a splitmix64 finalizer so nearby strings land far apart. Stable across
    /// processes and machines (Swift's `Hasher` is seeded per process, which would give every
    /// controller a different ring).
    public static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in s.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return mix(h)
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
