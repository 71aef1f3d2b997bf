import Foundation

/// Where a store lives, parsed from the one string an operator gives (`--store`): a SQLite file
/// (`sqlite:/path/to/file.db`, `sqlite:///path`, or a bare path) or a PostgreSQL server
/// (`postgres://user:pass@host:port/db?sslmode=...`, also `postgresql://`).
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresTarget)

    /// - Throws: `.invalidConfiguration` naming what is wrong; the message never repeats a password.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw StoreError(.invalidConfiguration, "the store URL is empty; \(Self.forms)")
        }
        let lower = trimmed.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            self = .postgres(try PostgresTarget(url: trimmed))
            return
        }
        if lower.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            // sqlite:///abs/path is the URL spelling of sqlite:/abs/path.
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else {
                throw StoreError(.invalidConfiguration, "the sqlite: URL names no file; \(Self.forms)")
            }
            self = .sqlite(path: path)
            return
        }
        if let scheme = Self.scheme(of: trimmed) {
            throw StoreError(
                .invalidConfiguration,
                "unsupported store URL scheme \"\(scheme):\"; \(Self.forms)"
            )
        }
        self = .sqlite(path: trimmed)
    }

    static let forms = "use sqlite:/path/to/file.db, a bare file path, or postgres://user:password@host:port/database"

    /// The scheme of `text` when it starts like a URL (`letter (letter|digit|+|-|.)* :`).
    private static func scheme(of text: String) -> String? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let candidate = text[..<colon]
        guard let first = candidate.first, first.isASCII, first.isLetter,
              candidate.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        return String(candidate)
    }
}

/// A PostgreSQL server and database, from a `postgres://` URL.
public struct PostgresTarget: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable {
        /// Plain TCP (loopback, or a private network the operator trusts).
        case disable
        /// TLS when the server offers it (libpq's default).
        case prefer
        /// TLS or no connection.
        case require
    }

    public var host: String
    public var port: Int
    /// A directory holding the server's socket (`?host=/run/postgresql`), instead of TCP.
    public var unixSocketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(
        host: String, port: Int = 5432, unixSocketDirectory: String? = nil, username: String, password: String?,
        database: String, tls: TLSMode = .prefer
    ) {
        self.host = host
        self.port = port
        self.unixSocketDirectory = unixSocketDirectory
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// - Throws: `.invalidConfiguration`.
    public init(url: String) throws {
        guard let components = URLComponents(string: url) else {
            throw StoreError(.invalidConfiguration, "the PostgreSQL URL is not a valid URL; \(StoreLocation.forms)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError(.invalidConfiguration, "the PostgreSQL URL names no user; \(StoreLocation.forms)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreError(.invalidConfiguration, "the PostgreSQL URL names no database (or more than one path segment); \(StoreLocation.forms)")
        }
        var tls = TLSMode.prefer
        var socketDirectory: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default:
                    throw StoreError(.invalidConfiguration, "sslmode \"\(item.value ?? "")\" is not one of disable, prefer, require")
                }
            case "host":
                guard let value = item.value, value.hasPrefix("/") else {
                    throw StoreError(.invalidConfiguration, "the host parameter must be a socket directory (an absolute path)")
                }
                socketDirectory = value
            default:
                throw StoreError(.invalidConfiguration, "unsupported PostgreSQL URL parameter \"\(item.name)\" (known: sslmode, host)")
            }
        }
        let host = components.host ?? ""
        guard !host.isEmpty || socketDirectory != nil else {
            throw StoreError(.invalidConfiguration, "the PostgreSQL URL names no host; \(StoreLocation.forms)")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw StoreError(.invalidConfiguration, "port \(port) is outside 1...65535")
        }
        self.init(
            host: host.isEmpty ? "localhost" : host, port: components.port ?? 5432,
            unixSocketDirectory: socketDirectory, username: user, password: components.password,
            database: database, tls: tls
        )
    }

    /// `postgres://user@host:port/db`: the password is left out, so this can be logged.
    public var description: String {
        if let unixSocketDirectory {
            return "postgres://\(username)@/\(database)?host=\(unixSocketDirectory)"
        }
        return "postgres://\(username)@\(host):\(port)/\(database)"
    }

    /// The socket file libpq would use in `unixSocketDirectory`.
    var unixSocketPath: String? {
        unixSocketDirectory.map { "\($0)/.s.PGSQL.\(port)" }
    }
}
