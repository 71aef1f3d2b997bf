import Logging

/// Opens the store an operator names with one string, so `cella up` and `cella controller`
/// share one `--store` flag.
public enum StoreFactory {
    /// - Parameters:
    ///   - url: `sqlite:/path/to/file.db`, `sqlite:///path/to/file.db`, a bare path (SQLite), or
    ///     `postgres://user:password@host:port/database` (also `postgresql://`, with optional
    ///     `?sslmode=disable|prefer|require` and `?host=/socket/dir`).
    /// - Returns: the store, not yet migrated: call `migrate()`.
    /// - Throws: `.invalidConfiguration` for a malformed or unsupported URL, `.unavailable` when
    ///   the database cannot be opened or reached. Messages never contain the password.
    public static func open(url: String, logger: Logger) async throws -> any Store {
        switch try StoreLocation(parsing: url) {
        case .sqlite(let path):
            return try SQLiteStore(path: path, logger: logger)
        case .postgres(let target):
            return try await PostgresStore.connect(to: target, logger: logger)
        }
    }
}
