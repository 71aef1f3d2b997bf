import CellaModel
import Foundation
import GRDB

extension SQLiteStore {
    static let nodeColumns = """
        id, address, memory_budget_bytes, memory_reserved_bytes, in_flight, warm, templates, bundles,
        draining, last_heartbeat_ms, registered_at_ms, instances
        """

    public func upsertNode(_ node: NodeRecord) async throws {
        let warm = try JSONColumn.encode(node.warm, column: "nodes.warm")
        let templates = try JSONColumn.encode(node.templates, column: "nodes.templates")
        let bundles = try JSONColumn.encode(node.bundles, column: "nodes.bundles")
        let instances = try JSONColumn.encode(node.instances, column: "nodes.instances")
        try await write("record node \(node.id)") { db in
            // `draining` is the operator's and `registered_at_ms` the first heartbeat's: an update
            // leaves both as stored.
            try db.execute(
                sql: """
                    INSERT INTO nodes (\(Self.nodeColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        address = excluded.address, memory_budget_bytes = excluded.memory_budget_bytes,
                        memory_reserved_bytes = excluded.memory_reserved_bytes, in_flight = excluded.in_flight,
                        warm = excluded.warm, templates = excluded.templates, bundles = excluded.bundles,
                        last_heartbeat_ms = excluded.last_heartbeat_ms, instances = excluded.instances
                    """,
                arguments: [
                    node.id, node.address, node.memoryBudgetBytes, node.memoryReservedBytes, node.inFlight,
                    warm, templates, bundles, node.draining, node.lastHeartbeatMs, node.registeredAtMs, instances,
                ]
            )
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await read("list nodes") { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.nodeColumns) FROM nodes ORDER BY id").map(Self.nodeRecord)
        }
    }

    public func node(_ id: String) async throws -> NodeRecord? {
        try await read("read node \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.nodeColumns) FROM nodes WHERE id = ?", arguments: [id])
                .map(Self.nodeRecord)
        }
    }

    public func setNodeDraining(_ id: String, draining: Bool) async throws {
        try await write("set node \(id) draining") { db in
            try db.execute(sql: "UPDATE nodes SET draining = ? WHERE id = ?", arguments: [draining, id])
            if db.changesCount == 0 { throw StoreError(.notFound, "node \(id) is not registered") }
        }
    }

    public func deleteNode(_ id: String) async throws -> Bool {
        try await write("delete node \(id)") { db in
            try db.execute(sql: "DELETE FROM nodes WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    static func nodeRecord(_ row: Row) throws -> NodeRecord {
        NodeRecord(
            id: row["id"], address: row["address"], memoryBudgetBytes: row["memory_budget_bytes"],
            memoryReservedBytes: row["memory_reserved_bytes"], inFlight: row["in_flight"],
            warm: try JSONColumn.decode([String].self, from: row["warm"], column: "nodes.warm"),
            templates: try JSONColumn.decode([String].self, from: row["templates"], column: "nodes.templates"),
            bundles: try JSONColumn.decode([String].self, from: row["bundles"], column: "nodes.bundles"),
            draining: row["draining"], lastHeartbeatMs: row["last_heartbeat_ms"], registeredAtMs: row["registered_at_ms"],
            instances: try JSONColumn.decode([InstanceCounts].self, from: row["instances"], column: "nodes.instances")
        )
    }
}
