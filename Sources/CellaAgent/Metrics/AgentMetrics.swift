import CellaModel
import Metrics

/// The agent's metrics, through swift-metrics (the daemon bootstraps a Prometheus backend). Labels
/// are bounded: outcome, start kind, instance state, eviction reason; never function names or
/// request ids, which are unbounded.
final class AgentMetrics: Sendable {
    private let invocations: [InvocationOutcome: [StartKind: Counter]]
    private let coldStarts: [StartKind: Counter]
    private let evictions: [String: Counter]
    private let instanceGauges: [String: Gauge]
    private let memoryInUse = Gauge(label: "cella_agent_memory_reserved_bytes")
    private let memoryBudget = Gauge(label: "cella_agent_memory_budget_bytes")
    private let spawnLatency = Timer(label: "cella_agent_spawn_duration_seconds", preferredDisplayUnit: .seconds)
    private let invokeLatency: [StartKind: Timer]
    private let templateHits = Counter(label: "cella_agent_template_hits_total")
    private let templateMisses = Counter(label: "cella_agent_template_misses_total")
    private let templateEvictions: [String: Counter]
    private let templateBytes = Gauge(label: "cella_agent_template_bytes")
    private let templateCount = Gauge(label: "cella_agent_templates")
    private let cloneLatency = Timer(label: "cella_agent_clone_duration_seconds", preferredDisplayUnit: .seconds)
    private let bundleEvictions = Counter(label: "cella_agent_bundle_evictions_total")
    private let bundleBytes = Gauge(label: "cella_agent_bundle_bytes")

    init(memoryBudgetBytes: UInt64) {
        var invocations: [InvocationOutcome: [StartKind: Counter]] = [:]
        for outcome in InvocationOutcome.allCases {
            for start in StartKind.allCases {
                invocations[outcome, default: [:]][start] = Counter(
                    label: "cella_agent_invocations_total",
                    dimensions: [("outcome", outcome.rawValue), ("start", start.rawValue)])
            }
        }
        self.invocations = invocations
        var cold: [StartKind: Counter] = [:]
        for kind in StartKind.allCases where kind != .warm {
            cold[kind] = Counter(label: "cella_agent_cold_starts_total", dimensions: [("kind", kind.rawValue)])
        }
        coldStarts = cold
        var evictions: [String: Counter] = [:]
        for reason in ["idle", "memory"] {
            evictions[reason] = Counter(label: "cella_agent_evictions_total", dimensions: [("reason", reason)])
        }
        self.evictions = evictions
        var templateEvictions: [String: Counter] = [:]
        for reason in Self.templateEvictionReasons {
            templateEvictions[reason] = Counter(label: "cella_agent_template_evictions_total", dimensions: [("reason", reason)])
        }
        self.templateEvictions = templateEvictions
        var gauges: [String: Gauge] = [:]
        for state in ["idle", "busy", "starting"] {
            gauges[state] = Gauge(label: "cella_agent_instances", dimensions: [("state", state)])
        }
        instanceGauges = gauges
        var latency: [StartKind: Timer] = [:]
        for start in StartKind.allCases {
            latency[start] = Timer(label: "cella_agent_invoke_duration_seconds", dimensions: [("start", start.rawValue)],
                                   preferredDisplayUnit: .seconds)
        }
        invokeLatency = latency
        memoryBudget.record(Double(memoryBudgetBytes))
    }

    func invoked(_ outcome: InvocationOutcome, start: StartKind, seconds: Double) {
        invocations[outcome]?[start]?.increment()
        invokeLatency[start]?.recordNanoseconds(Int64(seconds * 1e9))
    }

    func coldStart(kind: StartKind) { coldStarts[kind]?.increment() }

    func spawned(seconds: Double) { spawnLatency.recordNanoseconds(Int64(seconds * 1e9)) }

    func evicted(reason: String) { evictions[reason]?.increment() }

    func bundleEvicted() { bundleEvictions.increment() }

    func bundles(bytes: Int64) { bundleBytes.record(Double(bytes)) }

    /// Why a template was dropped: the budget (`memory`), disuse (`idle`), a new deploy or a
    /// removal of its version (`replaced`), its death (`died`), a failed clone (`failed`).
    static let templateEvictionReasons = ["memory", "idle", "replaced", "died", "failed"]

    /// A new instance was cloned from a template that was ready (hit) or had to be built (miss).
    func template(hit: Bool) { (hit ? templateHits : templateMisses).increment() }

    func templateEvicted(reason: String) { templateEvictions[reason]?.increment() }

    func templates(count: Int, bytes: UInt64) {
        templateCount.record(count)
        templateBytes.record(Double(bytes))
    }

    /// From the clone request to the clone's first `/next`.
    func cloned(seconds: Double) { cloneLatency.recordNanoseconds(Int64(seconds * 1e9)) }

    func instances(idle: Int, busy: Int, starting: Int, memoryInUse bytes: UInt64) {
        instanceGauges["idle"]?.record(idle)
        instanceGauges["busy"]?.record(busy)
        instanceGauges["starting"]?.record(starting)
        memoryInUse.record(Double(bytes))
    }
}
