@testable import CellaBundles
import CellaModel
import Foundation
import Testing

@testable import CellaAgent

/// The bundle store's disk budget: least recently used first, never a bundle a deployed version
/// uses or one just stored, and an evicted bundle comes back by being sent again.
extension AgentTests {
@Suite struct AgentBundleBudgetTests {
    /// A bundle of one `app.py`; the same text gives the same bytes (a fixed entry time, not the
    /// clock's, which would make two builds of one text differ across a zip time tick).
    static func bundle(_ text: String) throws -> [UInt8] {
        try AgentFixtures.craftedZip("""
            with zipfile.ZipFile(sys.argv[1], "w") as z:
                z.writestr(zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0)), '''\(text)''')
            """)
    }

    /// Sets a bundle's last use `secondsAgo` (the store keeps it as file times).
    static func age(_ agent: Agent, _ digest: String, secondsAgo: Int) throws {
        let d = try BundleDigest(parsing: digest)
        let t = timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0)
        for path in [agent.bundles.layout.blob(d), agent.bundles.layout.info(d)] {
            let times = [t, t]
            #expect(utimensat(AT_FDCWD, path, times, 0) == 0, "utimensat \(path): errno \(errno)")
        }
    }

    @Test func leastRecentlyUsedUnusedBundlesGoFirst() async throws {
        try await withAgent { running in
            let agent = running.agent
            let handler = "def handler(event, context):\n    return {'bundle': '%@'}\n"
            var digests: [String: String] = [:]
            var sizes: [String: Int64] = [:]
            for name in ["a", "b", "c", "d"] {
                let bytes = try Self.bundle(handler.replacingOccurrences(of: "%@", with: name))
                let stored = try await agent.putBundle(bytes, digest: nil)
                digests[name] = stored
            }
            #expect(try await running.deploy("fa", runtime: "python3.11", handler: "app.handler",
                                             bundle: try Self.bundle(handler.replacingOccurrences(of: "%@", with: "a"))).status == 200)
            // a (deployed) is the oldest, then b, then c; d was just stored.
            try Self.age(agent, digests["a"]!, secondsAgo: 3 * 3600)
            try Self.age(agent, digests["b"]!, secondsAgo: 2 * 3600)
            try Self.age(agent, digests["c"]!, secondsAgo: 3600)
            for entry in try await agent.bundles.list() {
                sizes[entry.digest.description] = (entry.archiveBytes ?? 0) + (entry.unpackedBytes ?? 0)
            }
            #expect(sizes.count == 4 && sizes.values.allSatisfy { $0 > 0 }, "\(sizes)")
            let all = sizes.values.reduce(0, +)

            // Room for all but b: b alone goes (a is deployed, d is being kept).
            let budget = all - sizes[digests["b"]!]!
            #expect(await agent.enforceBundleBudget(keeping: digests["d"], budget: budget) == [digests["b"]!])
            let bGone = await !agent.hasBundle(digests["b"]!)
            #expect(bGone)
            for name in ["a", "c", "d"] {
                let held = await agent.hasBundle(digests[name]!)
                #expect(held, "\(name) evicted")
            }

            // Nothing fits: c goes too; a (deployed) and d (kept) stay, over budget.
            #expect(await agent.enforceBundleBudget(keeping: digests["d"], budget: 1) == [digests["c"]!])
            let aHeld = await agent.hasBundle(digests["a"]!), dHeld = await agent.hasBundle(digests["d"]!)
            #expect(aHeld && dHeld)

            // A bundle inside its grace after use stays even when nothing is pinned.
            #expect(await agent.enforceBundleBudget(budget: 1) == [])

            // The deployed function still runs; the evicted bundle comes back by being sent again.
            #expect(try await running.invoke("fa").status == 200)
            let again = try await running.deploy("fb", runtime: "python3.11", handler: "app.handler",
                                                 bundle: try Self.bundle(handler.replacingOccurrences(of: "%@", with: "b")))
            #expect(again.status == 200, "\(again.body)")
            let answer = try await running.invoke("fb")
            #expect(answer.status == 200 && answer.body.contains("\"b\""), "\(answer.body)")
        }
    }
}
}
