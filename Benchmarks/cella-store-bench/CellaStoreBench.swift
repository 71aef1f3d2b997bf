import CellaStore
import Foundation
import Logging

/// `swift run -c release cella-store-bench <store-url>... [--count N]`: for each store, the
/// median and p99 latency of the queue's hot path as one controller sees it — enqueue, claim one,
/// complete — then queue throughput with 4 controllers (4 stores on the same database) each
/// claiming and completing in batches of 10 until the queue is dry. Each store URL should name an
/// empty database (it is migrated, and a tenant "bench" is created). A benchmark, not a test: it
/// asserts only that every invocation was completed exactly once.
@main
struct CellaStoreBench {
    static func main() async throws {
        var urls: [String] = []
        var count = 2_000
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            if argument == "--count", let value = arguments.popFirst().flatMap(Int.init) { count = value } else { urls.append(argument) }
        }
        guard !urls.isEmpty else {
            FileHandle.standardError.write(Data("usage: cella-store-bench <store-url>... [--count N]\n".utf8))
            exit(2)
        }
        var logger = Logger(label: "cella.store.bench")
        logger.logLevel = .warning
        for url in urls {
            try await run(url: url, count: count, logger: logger)
        }
    }

    static func run(url: String, count: Int, logger: Logger) async throws {
        let store = try await StoreFactory.open(url: url, logger: logger)
        do {
            try await measure(store, url: url, count: count, logger: logger)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    static func measure(_ store: any Store, url: String, count: Int, logger: Logger) async throws {
        try await store.migrate()
        try await store.createTenant(TenantRecord(id: "bench", createdAtMs: 0))
        let name = (try? StoreLocation(parsing: url)).map { location -> String in
            switch location {
            case .sqlite: "sqlite"
            case .postgres: "postgres"
            }
        } ?? url
        let clock = ContinuousClock()
        var enqueue = Samples(), claim = Samples(), complete = Samples()
        let payload = Array(repeating: UInt8(ascii: "x"), count: 256)
        for i in 0..<count {
            let id = "lat-\(i)"
            let invocation = QueuedInvocation(
                id: id, tenant: "bench", function: "fn", qualifier: "$LATEST", payload: payload,
                idempotencyKey: "key-\(i)", maxAttempts: 3, nextAttemptAtMs: 0, createdAtMs: 0, updatedAtMs: 0)
            let t0 = clock.now
            _ = try await store.enqueue(invocation)
            let t1 = clock.now
            let claimed = try await store.claimInvocations(owner: "c", limit: 1, nowMs: 1, leaseMs: 60_000)
            let t2 = clock.now
            guard let first = claimed.first else { fatalError("claim found nothing after an enqueue") }
            guard try await store.completeInvocation(id: first.id, owner: "c", requestId: "r", result: [1], nowMs: 2) else {
                fatalError("complete lost a lease nobody else could take")
            }
            let t3 = clock.now
            enqueue.add(t1 - t0)
            claim.add(t2 - t1)
            complete.add(t3 - t2)
        }
        print("\(name): \(count) sequential round trips, one controller")
        print("  enqueue   median \(enqueue.median) p99 \(enqueue.p99)")
        print("  claim(1)  median \(claim.median) p99 \(claim.p99)")
        print("  complete  median \(complete.median) p99 \(complete.p99)")

        // Throughput: fill, then 4 controllers drain.
        for i in 0..<count {
            _ = try await store.enqueue(QueuedInvocation(
                id: "tp-\(i)", tenant: "bench", function: "fn", qualifier: "$LATEST", payload: payload,
                maxAttempts: 3, nextAttemptAtMs: 10, createdAtMs: 10, updatedAtMs: 10))
        }
        var controllers: [any Store] = []
        for _ in 0..<4 { controllers.append(try await StoreFactory.open(url: url, logger: logger)) }
        let start = clock.now
        let done = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, controller) in controllers.enumerated() {
                group.addTask {
                    var completed = 0
                    while true {
                        let batch = try await controller.claimInvocations(owner: "w\(index)", limit: 10, nowMs: 20, leaseMs: 60_000)
                        if batch.isEmpty { return completed }
                        for invocation in batch {
                            if try await controller.completeInvocation(id: invocation.id, owner: "w\(index)", requestId: "r", result: [], nowMs: 21) {
                                completed += 1
                            }
                        }
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        for controller in controllers { await controller.close() }
        guard done == count else { fatalError("\(done) of \(count) invocations completed") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("  4 controllers claimed+completed \(count) in \(String(format: "%.2f", seconds)) s: \(Int(Double(count) / seconds)) invocations/s")
    }
}

struct Samples {
    private var values: [Duration] = []
    mutating func add(_ value: Duration) { values.append(value) }
    private func at(_ fraction: Double) -> String {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return "-" }
        let d = sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
        let micros = Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
        return String(format: "%.0f µs", micros)
    }
    var median: String { at(0.5) }
    var p99: String { at(0.99) }
}
