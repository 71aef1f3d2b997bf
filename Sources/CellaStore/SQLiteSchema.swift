/// The SQLite schema, as migrations. Tables are STRICT so a wrong type is an error, not a silent
/// conversion. Times are Int64 milliseconds since the epoch; nested values are JSON text; booleans
/// are 0/1. Everything a tenant owns references `tenants` with ON DELETE CASCADE, except metering
/// records and log lines, which outlive nothing but are deleted with the tenant explicitly (they
/// arrive in batches from agents, and one deleted tenant must not make a whole batch fail).
enum SQLiteSchema {
    static let migrations: [Migration] = [
        Migration(version: 1, summary: "initial schema", statements: [
            """
            CREATE TABLE tenants (
                id TEXT PRIMARY KEY NOT NULL,
                created_at_ms INTEGER NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE bundles (
                digest TEXT PRIMARY KEY NOT NULL,
                bytes BLOB NOT NULL,
                size INTEGER NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE functions (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                config TEXT NOT NULL,
                code_digest TEXT NOT NULL REFERENCES bundles(digest),
                async_retries INTEGER NOT NULL,
                tags TEXT NOT NULL,
                revision INTEGER NOT NULL,
                last_version INTEGER NOT NULL DEFAULT 0,
                created_at_ms INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (tenant, name)
            ) STRICT
            """,
            "CREATE INDEX functions_code_digest ON functions(code_digest)",
            """
            CREATE TABLE function_versions (
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                number INTEGER NOT NULL,
                config TEXT NOT NULL,
                code_digest TEXT NOT NULL REFERENCES bundles(digest),
                async_retries INTEGER NOT NULL,
                description TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL,
                PRIMARY KEY (tenant, function, number),
                FOREIGN KEY (tenant, function) REFERENCES functions(tenant, name) ON DELETE CASCADE
            ) STRICT
            """,
            "CREATE INDEX function_versions_code_digest ON function_versions(code_digest)",
            """
            CREATE TABLE aliases (
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                name TEXT NOT NULL,
                version TEXT NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (tenant, function, name),
                FOREIGN KEY (tenant, function) REFERENCES functions(tenant, name) ON DELETE CASCADE
            ) STRICT
            """,
            """
            CREATE TABLE nodes (
                id TEXT PRIMARY KEY NOT NULL,
                address TEXT NOT NULL,
                memory_budget_bytes INTEGER NOT NULL,
                memory_reserved_bytes INTEGER NOT NULL,
                in_flight INTEGER NOT NULL,
                warm TEXT NOT NULL,
                templates TEXT NOT NULL,
                bundles TEXT NOT NULL,
                draining INTEGER NOT NULL,
                last_heartbeat_ms INTEGER NOT NULL,
                registered_at_ms INTEGER NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE invocations (
                id TEXT PRIMARY KEY NOT NULL,
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                function TEXT NOT NULL,
                qualifier TEXT NOT NULL,
                payload BLOB NOT NULL,
                idempotency_key TEXT,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                max_attempts INTEGER NOT NULL,
                next_attempt_at_ms INTEGER NOT NULL,
                lease_owner TEXT,
                lease_expires_at_ms INTEGER,
                result BLOB,
                last_error TEXT,
                last_request_id TEXT,
                created_at_ms INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                UNIQUE (tenant, function, idempotency_key)
            ) STRICT
            """,
            "CREATE INDEX invocations_due ON invocations(next_attempt_at_ms) WHERE status = 'queued'",
            "CREATE INDEX invocations_leased ON invocations(lease_expires_at_ms) WHERE status = 'running'",
            "CREATE INDEX invocations_dead ON invocations(tenant, updated_at_ms) WHERE status = 'dead'",
            """
            CREATE TABLE invocation_records (
                request_id TEXT PRIMARY KEY NOT NULL,
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                version TEXT NOT NULL,
                start_ms INTEGER NOT NULL,
                duration_ms REAL NOT NULL,
                billed_duration_ms INTEGER NOT NULL,
                init_duration_ms REAL,
                start_kind TEXT NOT NULL,
                memory_mb INTEGER NOT NULL,
                max_memory_used_bytes INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                error_type TEXT
            ) STRICT
            """,
            "CREATE INDEX invocation_records_tenant ON invocation_records(tenant, start_ms)",
            "CREATE INDEX invocation_records_function ON invocation_records(tenant, function, start_ms)",
            "CREATE INDEX invocation_records_start ON invocation_records(start_ms)",
            """
            CREATE TABLE log_lines (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                version TEXT NOT NULL,
                request_id TEXT NOT NULL,
                time_ms INTEGER NOT NULL,
                text TEXT NOT NULL
            ) STRICT
            """,
            "CREATE INDEX log_lines_function ON log_lines(tenant, function, seq)",
            "CREATE INDEX log_lines_request ON log_lines(tenant, request_id, seq)",
            "CREATE INDEX log_lines_time ON log_lines(time_ms)",
            """
            CREATE TABLE principals (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                tags TEXT NOT NULL,
                is_admin INTEGER NOT NULL,
                created_at_ms INTEGER NOT NULL,
                PRIMARY KEY (tenant, name)
            ) STRICT
            """,
            """
            CREATE TABLE credentials (
                id TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL,
                tenant TEXT NOT NULL,
                principal TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL,
                expires_at_ms INTEGER,
                revoked_at_ms INTEGER,
                FOREIGN KEY (tenant, principal) REFERENCES principals(tenant, name) ON DELETE CASCADE
            ) STRICT
            """,
            "CREATE INDEX credentials_principal ON credentials(tenant, principal)",
            """
            CREATE TABLE policies (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                document TEXT NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (tenant, name)
            ) STRICT
            """,
            """
            CREATE TABLE policy_attachments (
                tenant TEXT NOT NULL,
                policy TEXT NOT NULL,
                principal TEXT NOT NULL,
                PRIMARY KEY (tenant, policy, principal),
                FOREIGN KEY (tenant, policy) REFERENCES policies(tenant, name) ON DELETE CASCADE,
                FOREIGN KEY (tenant, principal) REFERENCES principals(tenant, name) ON DELETE CASCADE
            ) STRICT
            """,
            "CREATE INDEX policy_attachments_principal ON policy_attachments(tenant, principal)",
        ]),
        Migration(version: 2, summary: "nodes.instances: instances per function version", statements: [
            "ALTER TABLE nodes ADD COLUMN instances TEXT NOT NULL DEFAULT '[]'",
        ]),
    ]
}
