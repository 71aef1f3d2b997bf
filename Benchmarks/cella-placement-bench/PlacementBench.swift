import CellaController
import CellaModel

/// `swift run -c release cella-placement-bench [decisions]`: the placement decision for one
/// invocation with 1,000 simulated nodes and 10,000 functions — the pure `Placement` over a
/// prebuilt ring, and the whole `NodeRegistry.candidates` a controller runs per invocation
/// (liveness filter, warm and template sets, ring reuse) — median and p99, with the spread of
/// functions' home nodes and how much bounded load moved under a skewed load. A benchmark, not a
/// test: it checks only that every decision found a node.
@main
struct PlacementBench {
    static func main() {
        let decisions = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 100_000
        let nodeCount = 1000, functionCount = 10_000
        var rng = SplitMix(seed: 42)
        let ids = (0..<nodeCount).map { "node-\($0)" }
        let functions = (0..<functionCount).map { "tenant-\($0 % 50)/fn-\($0):1" }

        // Loads skewed like a real fleet: most nodes lightly used, a few hot.
        let nodes = ids.map { id in
            Placement.Node(id: id, load: Int(rng.next() % 8) + (rng.next() % 50 == 0 ? 40 : 0), freeBytes: Int64(rng.next() % 16) << 30)
        }
        let ring = HashRing(nodes: ids)
        let placement = Placement(nodes: nodes, ring: ring)
        var pure: [Double] = []
        pure.reserveCapacity(decisions)
        var homes = [String: Int]()
        for i in 0..<decisions {
            let key = functions[Int(rng.next() % UInt64(functionCount))]
            let start = ContinuousClock.now
            let out = placement.candidates(key: key, memoryBytes: 512 << 20, limit: 3)
            pure.append(nanos(ContinuousClock.now - start))
            precondition(!out.isEmpty, "no node found")
            if i < 10_000 { homes[out[0], default: 0] += 1 }
        }

        // The registry path: heartbeats for every node, some warm instances, then decisions.
        let registry = NodeRegistry()
        // One instant for heartbeats and decisions: the run takes longer than the 3 s after which
        // silent nodes are dead, and liveness is not what this measures.
        let beatMs = NodeRegistry.nowMs()
        for (i, id) in ids.enumerated() {
            let warm = (0..<5).map { _ in functions[Int(rng.next() % UInt64(functionCount))] }
            _ = registry.heartbeat(id: id, NodeHeartbeat(
                address: "http://10.0.\(i / 250).\(i % 250):9100", memoryBudgetBytes: 16 << 30,
                memoryReservedBytes: 0, inFlight: nodes[i].load, warm: warm, templates: [], bundles: [], draining: false),
                nowMs: beatMs)
        }
        var full: [Double] = []
        full.reserveCapacity(decisions / 10)
        for _ in 0..<(decisions / 10) {
            let key = functions[Int(rng.next() % UInt64(functionCount))]
            let start = ContinuousClock.now
            let out = registry.candidates(key: key, memoryBytes: 512 << 20, limit: 3, nowMs: beatMs)
            full.append(nanos(ContinuousClock.now - start))
            precondition(!out.nodes.isEmpty, "no node found")
        }
        let counts = homes.values.sorted()
        print("placement with \(nodeCount) nodes, \(functionCount) functions")
        print(String(format: "  Placement.candidates        median %7.2f us  p99 %7.2f us  (%d decisions)", pct(pure, 0.5) / 1000, pct(pure, 0.99) / 1000, pure.count))
        print(String(format: "  NodeRegistry.candidates     median %7.2f us  p99 %7.2f us  (%d decisions)", pct(full, 0.5) / 1000, pct(full, 0.99) / 1000, full.count))
        print("  first choices over 10,000 decisions: \(homes.count) nodes used, per node min \(counts.first ?? 0) median \(counts[counts.count / 2]) max \(counts.last ?? 0)")
    }

    static func nanos(_ d: Duration) -> Double {
        let (s, a) = d.components
        return Double(s) * 1e9 + Double(a) / 1e9
    }

    static func pct(_ values: [Double], _ p: Double) -> Double {
        let s = values.sorted()
        return s[min(s.count - 1, Int(Double(s.count - 1) * p))]
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
