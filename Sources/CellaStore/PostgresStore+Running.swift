import Foundation
import Logging
import PostgresNIO

/// What finished first in `withDeadline`.
enum DeadlineOutcome<T: Sendable>: Sendable {
    case done(T)
    case timedOut
}

/// One row of a result, read by column name: `try row("id")`, the type taken from the context.
struct PGRow: Sendable {
    let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) {
        cells = row.makeRandomAccess()
    }

    func callAsFunction<T: PostgresDecodable>(_ column: String, _ type: T.Type = T.self) throws -> T {
        do {
            return try cells[column].decode(T.self)
        } catch {
            throw StoreError(.internal, "column \(column) does not decode as \(T.self)", underlying: error)
        }
    }
}

extension PostgresStore {
    /// Runs one statement on a pooled connection (one round trip) and returns its rows.
    /// - Parameters:
    ///   - what: the operation, for messages ("create tenant acme").
    ///   - conflict: the message when a unique key is violated.
    ///   - notFound: the message when a foreign key names a missing row.
    @discardableResult
    func query(
        _ what: String, conflict: String? = nil, notFound: String? = nil, _ query: PostgresQuery
    ) async throws -> [PGRow] {
        let client = self.client
        let logger = self.logger
        do {
            return try await withDeadline(what) {
                try await client.query(query, logger: logger).collect().map(PGRow.init)
            }
        } catch {
            throw Self.map(error, what: what, conflict: conflict, notFound: notFound)
        }
    }

    /// Runs `body` in one transaction (READ COMMITTED) on one pooled connection.
    /// - Parameter deadline: false for work with no natural bound (migrations).
    func transaction<T: Sendable>(
        _ what: String, conflict: String? = nil, notFound: String? = nil, deadline: Bool = true,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let client = self.client
        let logger = self.logger
        do {
            let run: @Sendable () async throws -> T = {
                try await client.withTransaction(logger: logger) { connection in
                    try await body(connection, logger)
                }
            }
            return try await deadline ? withDeadline(what, run) : run()
        } catch {
            throw Self.map(error, what: what, conflict: conflict, notFound: notFound)
        }
    }

    /// Runs `operation`, or fails with `.unavailable` once `operationTimeout` has passed; the
    /// operation is then cancelled, which withdraws a request still waiting for a connection.
    func withDeadline<T: Sendable>(
        _ what: String, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = operationTimeout
        return try await withThrowingTaskGroup(of: DeadlineOutcome<T>.self) { group in
            group.addTask { .done(try await operation()) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return .timedOut
            }
            defer { group.cancelAll() }
            switch try await group.next() {
            case .done(let value):
                return value
            case .timedOut, nil:
                throw StoreError(.unavailable, "\(what): PostgreSQL did not answer within \(timeout)")
            }
        }
    }

    /// Maps by SQLSTATE (PostgreSQL's stable error codes), never by message text. Messages carry
    /// the SQLSTATE and constraint name only: the server's own message and detail can quote the
    /// values of the row (`Key (id)=(...)`), which might be a credential.
    static func map(
        _ error: any Error, what: String, conflict: String?, notFound: String?, unreachable: Bool = false
    ) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.beginError ?? error.commitError {
                return map(inner, what: what, conflict: conflict, notFound: notFound, unreachable: unreachable)
            }
            return StoreError(.internal, "\(what): the transaction failed")
        }
        if error is CancellationError {
            return StoreError(.unavailable, "\(what): cancelled", underlying: error)
        }
        guard let error = error as? PSQLError else {
            if error is PostgresDecodingError {
                return StoreError(.internal, "\(what): a result did not decode", underlying: error)
            }
            // The pool's own errors (its circuit breaker after failed connection attempts) and
            // NIO's transport errors: the server could not be reached.
            return StoreError(.unavailable, "\(what): PostgreSQL could not be reached", underlying: error)
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let constraint = error.serverInfo?[.constraintName].map { ", constraint \($0)" } ?? ""
            switch state {
            case "23505":
                return StoreError(.conflict, conflict ?? "\(what): a row with the same key exists\(constraint)", underlying: error)
            case "23503":
                return StoreError(.notFound, notFound ?? "\(what): a row it refers to does not exist\(constraint)", underlying: error)
            case "40001", "40P01":
                return StoreError(.unavailable, "\(what): a concurrent transaction won (SQLSTATE \(state)); retry", underlying: error)
            case "3D000", "55000", "57P01", "57P02", "57P03", "53300", "53000", "53100", "53200":
                return StoreError(.unavailable, "\(what): PostgreSQL refused the work (SQLSTATE \(state))", underlying: error)
            case _ where state.hasPrefix("08") || state.hasPrefix("28"):
                return StoreError(.unavailable, "\(what): PostgreSQL refused the connection (SQLSTATE \(state))", underlying: error)
            default:
                return StoreError(.internal, "\(what) failed (SQLSTATE \(state)\(constraint))", underlying: error)
            }
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown,
             .sslUnsupported, .failedToAddSSLHandler, .unsupportedAuthMechanism, .authMechanismRequiresPassword,
             .saslError, .queryCancelled:
            return StoreError(.unavailable, "\(what): PostgreSQL could not be reached (\(error.code))", underlying: error)
        default:
            if unreachable {
                return StoreError(.unavailable, "\(what): PostgreSQL could not be reached (\(error.code))", underlying: error)
            }
            return StoreError(.internal, "\(what) failed (\(error.code))", underlying: error)
        }
    }
}
