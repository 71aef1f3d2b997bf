import CellaModel
import CellaStore
import Foundation
import Synchronization

/// A function version as an invocation runs it: config and code fixed, and the key agents know it
/// by.
public struct ResolvedFunction: Sendable, Equatable {
    public var tenant: String
    public var name: String
    /// What the client is told ran: `$LATEST` or a version number.
    public var executedVersion: String
    /// The version name on agents. `$LATEST` changes in place, so each revision of it is deployed
    /// under its own name (`latest-r7`): an agent never runs code older than the head it was sent,
    /// and no deploy has to replace a version under a running instance.
    public var agentVersion: String
    public var config: FunctionConfig
    public var codeDigest: String
    public var asyncRetries: Int
    /// The function's tags (its head's), for `cella:FunctionTag/<key>` conditions.
    public var tags: [String: String] = [:]

    /// `tenant/name:agentVersion`, the agents' key for it.
    public var key: String { "\(tenant)/\(name):\(agentVersion)" }
    /// The prefix every `$LATEST` revision of the function shares on agents.
    public var latestPrefix: String { "\(tenant)/\(name):latest-r" }
    public var memoryBytes: Int64 { Int64(config.memoryMB) << 20 }
}

/// Turns (tenant, name, qualifier) into a `ResolvedFunction`, with a short cache
/// (`ExpiringCache`): an invocation should not cost a store round trip.
public final class FunctionResolver: Sendable {
    let store: any Store
    private let cache: ExpiringCache<ResolvedFunction>

    public init(store: any Store, ttlMs: Int64 = 1000) {
        self.store = store
        cache = ExpiringCache(ttlMs: ttlMs, capacity: 100_000)
    }

    /// - Throws: `ControllerError.notFound` naming what is missing.
    public func resolve(tenant: String, name: String, qualifier: String?) async throws(ControllerError) -> ResolvedFunction {
        let qualifier = qualifier.flatMap { $0.isEmpty ? nil : $0 } ?? "$LATEST"
        // lookup throws rather than returning nil, so the value is always there.
        return try await cache.value("\(tenant)/\(name)/\(qualifier)") { () async throws(ControllerError) -> ResolvedFunction? in
            try await lookup(tenant: tenant, name: name, qualifier: qualifier)
        }!
    }

    /// Forgets everything cached of a function (after it changes here).
    public func invalidate(tenant: String, name: String) {
        let prefix = "\(tenant)/\(name)/"
        cache.remove { key, _ in key.hasPrefix(prefix) }
    }

    private func lookup(tenant: String, name: String, qualifier: String) async throws(ControllerError) -> ResolvedFunction {
        do {
            guard let head = try await store.function(tenant: tenant, name: name) else {
                throw ControllerError(.notFound, "Function not found: \(name)")
            }
            var version = qualifier
            if qualifier != "$LATEST", !qualifier.allSatisfy(\.isNumber) {
                guard let alias = try await store.alias(tenant: tenant, function: name, name: qualifier) else {
                    throw ControllerError(.notFound, "Function not found: \(name):\(qualifier)")
                }
                version = alias.version
            }
            if version == "$LATEST" {
                return ResolvedFunction(
                    tenant: tenant, name: name, executedVersion: "$LATEST", agentVersion: "latest-r\(head.revision)",
                    config: head.config, codeDigest: head.codeDigest, asyncRetries: head.asyncRetries, tags: head.tags)
            }
            guard let published = try await store.version(tenant: tenant, name: name, version: version) else {
                throw ControllerError(.notFound, "Function not found: \(name):\(qualifier)")
            }
            return ResolvedFunction(
                tenant: tenant, name: name, executedVersion: published.version, agentVersion: published.version,
                config: published.config, codeDigest: published.codeDigest, asyncRetries: published.asyncRetries,
                tags: head.tags)
        } catch let error as ControllerError {
            throw error
        } catch let error as StoreError {
            throw ControllerError.store(error)
        } catch {
            throw ControllerError(.internal, "\(error)")
        }
    }
}
