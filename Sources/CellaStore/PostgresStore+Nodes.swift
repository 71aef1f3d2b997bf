import CellaModel
import Foundation
import PostgresNIO

extension PostgresStore {
    static let nodeColumns = """
        id, address, memory_budget_bytes, memory_reserved_bytes, in_flight, warm::text AS warm,
        templates::text AS templates, bundles::text AS bundles, draining, last_heartbeat_ms, registered_at_ms,
        instances::text AS instances
        """

    public func upsertNode(_ node: NodeRecord) async throws {
        let n = node
        let warm = try JSONColumn.encode(n.warm, column: "nodes.warm")
        let templates = try JSONColumn.encode(n.templates, column: "nodes.templates")
        let bundles = try JSONColumn.encode(n.bundles, column: "nodes.bundles")
        let instances = try JSONColumn.encode(n.instances, column: "nodes.instances")
        // `draining` is the operator's and `registered_at_ms` the first heartbeat's: an update
        // leaves both as stored.
        try await query(
            "record node \(n.id)",
            """
            INSERT INTO nodes (id, address, memory_budget_bytes, memory_reserved_bytes, in_flight, warm, templates,
                               bundles, draining, last_heartbeat_ms, registered_at_ms, instances)
            VALUES (\(n.id), \(n.address), \(n.memoryBudgetBytes), \(n.memoryReservedBytes), \(n.inFlight),
                    \(warm)::jsonb, \(templates)::jsonb, \(bundles)::jsonb, \(n.draining), \(n.lastHeartbeatMs),
                    \(n.registeredAtMs), \(instances)::jsonb)
            ON CONFLICT (id) DO UPDATE SET
                address = EXCLUDED.address, memory_budget_bytes = EXCLUDED.memory_budget_bytes,
                memory_reserved_bytes = EXCLUDED.memory_reserved_bytes, in_flight = EXCLUDED.in_flight,
                warm = EXCLUDED.warm, templates = EXCLUDED.templates, bundles = EXCLUDED.bundles,
                last_heartbeat_ms = EXCLUDED.last_heartbeat_ms, instances = EXCLUDED.instances
            """
        )
    }

    public func nodes() async throws -> [NodeRecord] {
        try await query("list nodes", "SELECT \(unescaped: Self.nodeColumns) FROM nodes ORDER BY id").map(Self.nodeRecord)
    }

    public func node(_ id: String) async throws -> NodeRecord? {
        try await query("read node \(id)", "SELECT \(unescaped: Self.nodeColumns) FROM nodes WHERE id = \(id)")
            .first.map(Self.nodeRecord)
    }

    public func setNodeDraining(_ id: String, draining: Bool) async throws {
        let rows = try await query(
            "set node \(id) draining", "UPDATE nodes SET draining = \(draining) WHERE id = \(id) RETURNING 1"
        )
        if rows.isEmpty { throw StoreError(.notFound, "node \(id) is not registered") }
    }

    public func deleteNode(_ id: String) async throws -> Bool {
        try await !query("delete node \(id)", "DELETE FROM nodes WHERE id = \(id) RETURNING 1").isEmpty
    }

    static func nodeRecord(_ row: PGRow) throws -> NodeRecord {
        NodeRecord(
            id: try row("id"), address: try row("address"), memoryBudgetBytes: try row("memory_budget_bytes"),
            memoryReservedBytes: try row("memory_reserved_bytes"), inFlight: try row("in_flight"),
            warm: try JSONColumn.decode([String].self, from: row("warm"), column: "nodes.warm"),
            templates: try JSONColumn.decode([String].self, from: row("templates"), column: "nodes.templates"),
            bundles: try JSONColumn.decode([String].self, from: row("bundles"), column: "nodes.bundles"),
            draining: try row("draining"), lastHeartbeatMs: try row("last_heartbeat_ms"),
            registeredAtMs: try row("registered_at_ms"),
            instances: try JSONColumn.decode([InstanceCounts].self, from: row("instances"), column: "nodes.instances")
        )
    }
}
