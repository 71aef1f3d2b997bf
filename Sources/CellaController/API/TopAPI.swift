import CellaIAM
import CellaModel
import CellaStore
import Hummingbird

/// `GET /v1/top?window=SECONDS`: what `cella top` draws. Per function of the caller's tenant:
/// invocations, errors and starts by kind over the last `window` seconds (from the metering
/// records the agents ship about once a second, so the last second is still arriving), and the
/// instances and memory the nodes' last heartbeats report. The operator also gets one row per node.
/// Authorized as `cella:GetLogs` on every function of the tenant: the counts come from the same
/// records `GET .../records` gives.
enum TopAPI {
    struct FunctionRow: Encodable, Equatable {
        var function: String
        var invocations = 0
        var perSecond = 0.0
        var errors = 0
        var cold = 0
        var clone = 0
        var warm = 0
        var p50DurationMs: Double?
        var instances = 0
        var busy = 0
        var memoryBytes: Int64 = 0
    }

    struct NodeRow: Encodable, Equatable {
        var id: String
        var status: String
        var inFlight: Int
        var instances: Int
        var memoryReservedBytes: Int64
        var memoryBudgetBytes: Int64
    }

    struct View: Encodable {
        var tenant: String
        var windowSeconds: Int
        var atMs: Int64
        /// True when the window held more records than one answer reads: the counts cover only
        /// the newest `recordLimit`.
        var truncated: Bool
        var functions: [FunctionRow]
        var nodes: [NodeRow]?
    }

    static let recordLimit = 100_000

    /// Sums the records and the nodes' instance counts into rows, busiest function first.
    /// - Parameters:
    ///   - records: the tenant's records of the window (any order).
    ///   - nodes: the registry's view; only instances of `tenant`'s functions count.
    static func rows(tenant: String, windowSeconds: Int, records: [InvocationRecord],
                     nodes: [NodeRegistry.NodeView]) -> [FunctionRow] {
        var rows: [String: FunctionRow] = [:]
        var durations: [String: [Double]] = [:]
        for r in records where r.tenant == tenant {
            rows[r.function, default: FunctionRow(function: r.function)].invocations += 1
            if r.outcome != .success { rows[r.function]!.errors += 1 }
            switch r.start {
            case .cold: rows[r.function]!.cold += 1
            case .clone: rows[r.function]!.clone += 1
            case .warm: rows[r.function]!.warm += 1
            }
            durations[r.function, default: []].append(r.durationMs)
        }
        let prefix = tenant + "/"
        for node in nodes where node.live {
            for counts in node.record.instances where counts.function.hasPrefix(prefix) {
                // `tenant/name:version` → name.
                let rest = counts.function.dropFirst(prefix.count)
                let name = String(rest[..<(rest.lastIndex(of: ":") ?? rest.endIndex)])
                rows[name, default: FunctionRow(function: name)].instances += counts.idle + counts.busy + counts.starting
                rows[name]!.busy += counts.busy
                rows[name]!.memoryBytes += counts.memoryBytes
            }
        }
        for (name, list) in durations {
            let sorted = list.sorted()
            rows[name]!.p50DurationMs = sorted[(sorted.count - 1) / 2]
        }
        for name in rows.keys {
            rows[name]!.perSecond = Double(rows[name]!.invocations) / Double(max(1, windowSeconds))
        }
        return rows.values.sorted { ($0.invocations, $0.instances, $1.function) > ($1.invocations, $1.instances, $0.function) }
    }

    static func add(to router: Router<ControllerContext>, _ controller: Controller) {
        let auth = controller.authenticator
        router.get("/v1/top") { request, context in
            await Responses.respond(.cella) {
                var request = request
                let caller = try await auth.authenticate(&request, context)
                try await auth.authorize(caller, .getLogs, ControllerAPI.fn(caller, "*"))
                let window: Int
                if let text = request.uri.queryParameters["window"] {
                    guard let value = Int(text), (1...3600).contains(value) else {
                        throw ControllerError(.invalidRequest, "window: whole seconds, 1-3600")
                    }
                    window = value
                } else {
                    window = 10
                }
                let now = NodeRegistry.nowMs()
                let records = try await controller.store.records(InvocationQuery(
                    tenant: caller.tenant, sinceMs: now - Int64(window) * 1000, limit: recordLimit))
                let nodes = controller.registry.list(nowMs: now)
                let view = View(
                    tenant: caller.tenant, windowSeconds: window, atMs: now, truncated: records.count >= recordLimit,
                    functions: rows(tenant: caller.tenant, windowSeconds: window, records: records, nodes: nodes),
                    nodes: caller.isOperator ? nodes.map { v in
                        let node = NodeView(v)
                        return NodeRow(
                            id: node.id, status: node.status, inFlight: node.inFlight,
                            instances: v.record.instances.reduce(0) { $0 + $1.idle + $1.busy + $1.starting },
                            memoryReservedBytes: node.memoryReservedBytes, memoryBudgetBytes: node.memoryBudgetBytes)
                    } : nil)
                return try Responses.json(.ok, view)
            }
        }
    }
}
