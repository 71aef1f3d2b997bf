import CellaController
import Testing

@Suite struct PlacementTests {
    static func nodes(_ n: Int, load: Int = 0, free: Int64 = 1 << 40) -> [Placement.Node] {
        (0..<n).map { Placement.Node(id: "node-\($0)", load: load, freeBytes: free) }
    }

    @Test func sameFunctionSameHomeAndVersionsShareIt() {
        let p = Placement(nodes: Self.nodes(5))
        let a = p.candidates(key: "t/fn:1", memoryBytes: 128 << 20)
        let b = p.candidates(key: "t/fn:1", memoryBytes: 128 << 20)
        let c = p.candidates(key: "t/fn:latest-r3", memoryBytes: 128 << 20)
        #expect(a == b)
        #expect(a.first == c.first)
        #expect(a.count == 3 && Set(a).count == 3)
    }

    @Test func functionsSpreadOverTheRing() {
        let p = Placement(nodes: Self.nodes(4))
        var homes: [String: Int] = [:]
        for i in 0..<4000 { homes[p.candidates(key: "t/f\(i):1", memoryBytes: 0, limit: 1)[0], default: 0] += 1 }
        #expect(homes.count == 4)
        // 64 virtual nodes each: every node's share within 40 % of the mean.
        for (_, count) in homes { #expect(count > 600 && count < 1400, "\(homes)") }
    }

    @Test func removingANodeMovesOnlyItsFunctions() {
        let before = Placement(nodes: Self.nodes(5))
        let after = Placement(nodes: Array(Self.nodes(5).dropLast()))
        var moved = 0, movedFromOthers = 0
        for i in 0..<2000 {
            let key = "t/f\(i):1"
            let a = before.candidates(key: key, memoryBytes: 0, limit: 1)[0]
            let b = after.candidates(key: key, memoryBytes: 0, limit: 1)[0]
            if a != b {
                moved += 1
                if a != "node-4" { movedFromOthers += 1 }
            }
        }
        #expect(movedFromOthers == 0)
        #expect(moved > 200 && moved < 700, "moved \(moved) of 2000")
    }

    @Test func warmNodesComeFirstThenTemplates() {
        var nodes = Self.nodes(5)
        nodes[3].load = 2
        let p = Placement(nodes: nodes)
        let home = p.candidates(key: "t/fn:1", memoryBytes: 0, limit: 1)[0]
        let warm = ["node-3", "node-1"].filter { $0 != home }
        let templ = ["node-2", "node-0", "node-4", "node-1", "node-3"].first { $0 != home && !warm.contains($0) }!
        let out = p.candidates(key: "t/fn:1", memoryBytes: 0, warm: warm, templates: [templ], limit: 5)
        // Least loaded warm node first.
        func load(_ id: String) -> Int { nodes.first { $0.id == id }!.load }
        #expect(Array(out.prefix(warm.count)) == warm.sorted { load($0) < load($1) })
        #expect(out[warm.count] == templ)
        #expect(out.contains(home))
    }

    @Test func boundedLoadSpillsAHotFunctionToTheNextNode() {
        var nodes = Self.nodes(4)
        let home = Placement(nodes: nodes).candidates(key: "t/hot:1", memoryBytes: 0, limit: 1)[0]
        let i = nodes.firstIndex { $0.id == home }!
        nodes[i].load = 10
        // Total 10 over 4 nodes: bound ceil(1.25 × 11 / 4) = 4; the home node is over it.
        let out = Placement(nodes: nodes).candidates(key: "t/hot:1", memoryBytes: 0, limit: 4)
        #expect(out.first != home)
        #expect(out.last == home, "an overloaded node is still a last resort")
    }

    @Test func unavailableAndFullNodesAreNeverCandidates() {
        var nodes = Self.nodes(3)
        nodes[0].unavailable = true
        nodes[1].freeBytes = 64 << 20
        let out = Placement(nodes: nodes).candidates(key: "t/fn:1", memoryBytes: 128 << 20, warm: ["node-0"], limit: 3)
        #expect(out == ["node-2"])
        // A warm instance needs no new memory: a node short of free memory still serves it warm.
        let warm = Placement(nodes: nodes).candidates(key: "t/fn:1", memoryBytes: 128 << 20, warm: ["node-1"], limit: 3)
        #expect(warm == ["node-1", "node-2"])
    }

    @Test func noNodesNoCandidates() {
        #expect(Placement(nodes: []).candidates(key: "t/fn:1", memoryBytes: 0).isEmpty)
    }
}
