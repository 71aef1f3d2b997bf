import CellaModel
import Foundation

/// `swift run -c release cella-json-bench`: Cella's own JSON paths beside Foundation's, in the same
/// run, medians and p99s of each call:
/// - the controller's check that an event is JSON (`JSONLexer.validate`) against
///   `JSONSerialization.jsonObject`, which it replaced, for `{}` and for a 3.5 MB event;
/// - an agent's telemetry shipment (1,000 records, 4,000 log lines) written with `jsonBytes()`
///   against `JSONEncoder`, and read with `NodeTelemetry.decodeJSON` against `JSONDecoder`.
/// A benchmark, not a test: it checks only that both sides agree.
@main
struct CellaJSONBench {
    static func main() throws {
        let scale = CommandLine.arguments.dropFirst().first.flatMap(Double.init) ?? 1
        let small = Array("{}".utf8)
        var items: [[String: Any]] = []
        for i in 0..<40_000 {
            items.append(["id": i, "name": "item-\(i) é", "tags": ["a", "b\n"], "price": Double(i) / 7, "ok": true])
        }
        let big = Array(try JSONSerialization.data(withJSONObject: ["Records": items]))
        for (name, event, runs) in [("{}", small, 20_000), ("a \(big.count / 1000) kB event", big, 15)] {
            let n = max(3, Int(Double(runs) * scale))
            let foundation = try time(n) { _ = try JSONSerialization.jsonObject(with: Data(event), options: [.fragmentsAllowed]) }
            let cella = try time(n) { try event.withUnsafeBytes { try JSONLexer.validate($0) } }
            report("event check, \(name)", "JSONSerialization", foundation, "JSONLexer.validate", cella)
        }

        let shipment = sampleShipment()
        let n = max(3, Int(50 * scale))
        let encoder = JSONEncoder()
        let foundationBytes = try encoder.encode(shipment)
        let cellaBytes = shipment.jsonBytes()
        guard try JSONDecoder().decode(NodeTelemetry.self, from: Data(cellaBytes)) == shipment,
              try foundationBytes.withUnsafeBytes({ try NodeTelemetry.decodeJSON($0) }) == shipment else {
            throw CocoaError(.coderInvalidValue)
        }
        let label = "telemetry, \(shipment.records.count) records and \(shipment.logs.count) lines (\(cellaBytes.count / 1000) kB)"
        report("\(label), write", "JSONEncoder", try time(n) { _ = try encoder.encode(shipment) },
               "jsonBytes", time(n) { _ = shipment.jsonBytes() })
        report("\(label), read", "JSONDecoder", try time(n) { _ = try JSONDecoder().decode(NodeTelemetry.self, from: foundationBytes) },
               "decodeJSON", try time(n) { _ = try cellaBytes.withUnsafeBytes { try NodeTelemetry.decodeJSON($0) } })
    }

    /// What an agent ships for 1,000 warm invocations of a function that logs one line each.
    static func sampleShipment() -> NodeTelemetry {
        var records: [InvocationRecord] = []
        var logs: [NodeTelemetry.Line] = []
        for i in 0..<1000 {
            let id = UUID().uuidString.lowercased()
            records.append(InvocationRecord(
                requestId: id, tenant: "default", function: "noop", version: "latest-r1", startMs: 1_764_650_000_000 + Int64(i),
                durationMs: 0.731 + Double(i % 17) / 100, billedDurationMs: 1, initDurationMs: nil, start: .warm, memoryMB: 128,
                maxMemoryUsedBytes: 9_437_184, outcome: .success, errorType: nil))
            for text in ["START RequestId: \(id) Version: $LATEST", "handled event \(i): {\"ok\": true}", "END RequestId: \(id)",
                         "REPORT RequestId: \(id)\tDuration: 0.73 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB"] {
                logs.append(.init(function: "default/noop:latest-r1", timeMs: 1_764_650_000_000 + Int64(i), requestId: id, text: text))
            }
        }
        return NodeTelemetry(records: records, logs: logs)
    }

    /// Microseconds of each of `n` calls, sorted.
    static func time(_ n: Int, _ body: () throws -> Void) rethrows -> [Double] {
        try body()  // warm-up
        var samples: [Double] = []
        samples.reserveCapacity(n)
        let clock = ContinuousClock()
        for _ in 0..<n {
            let elapsed = try clock.measure(body)
            samples.append(Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
        }
        return samples.sorted()
    }

    static func report(_ what: String, _ peer: String, _ peerSamples: [Double], _ ours: String, _ oursSamples: [Double]) {
        func median(_ s: [Double]) -> Double { s[s.count / 2] }
        func p99(_ s: [Double]) -> Double { s[min(s.count - 1, s.count * 99 / 100)] }
        func f(_ v: Double) -> String { String(format: v < 10 ? "%.2f" : "%.0f", v) }
        print("\(what) (n=\(oursSamples.count)): \(peer) median \(f(median(peerSamples))) µs, p99 \(f(p99(peerSamples))) µs; "
              + "\(ours) median \(f(median(oursSamples))) µs, p99 \(f(p99(oursSamples))) µs; "
              + "\(peer) ÷ \(ours) \(String(format: "%.1f", median(peerSamples) / median(oursSamples)))×")
    }
}
