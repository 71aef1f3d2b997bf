import Foundation
import Logging
import PostgresNIO

/// One row of a result, read by column name: `try row("id")`, the type taken from the context.
struct PGRow {
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
        do {
            return try await client.query(query, logger: logger).collect().map(PGRow.init)
        } catch {
            throw Self.map(error, what: what, conflict: conflict, notFound: notFound)
        }
    }

    /// Runs `body` in one transaction (READ COMMITTED) on one pooled connection.
    func transaction<T: Sendable>(
        _ what: String, conflict: String? = nil, notFound: String? = nil,
        _ body: (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(connection, logger)
            }
        } catch {
            throw Self.map(error, what: what, conflict: conflict, notFound: notFound)
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
