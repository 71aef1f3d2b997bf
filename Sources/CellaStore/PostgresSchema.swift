/// The PostgreSQL schema, as migrations: the same tables as `SQLiteSchema`, in PostgreSQL's
/// types (BIGINT milliseconds, BYTEA, JSONB for nested values, BOOLEAN). Policy documents stay
/// TEXT: they are kept exactly as the tenant wrote them, which JSONB would not do.
enum PostgresSchema {
    static let migrations: [Migration] = [
        Migration(version: 1, summary: "initial schema", statements: [
            """
            CREATE TABLE tenants (
                id TEXT PRIMARY KEY NOT NULL,
                created_at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE bundles (
                digest TEXT PRIMARY KEY NOT NULL,
                bytes BYTEA NOT NULL,
                size BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE functions (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                config JSONB NOT NULL,
                code_digest TEXT NOT NULL REFERENCES bundles(digest),
                async_retries BIGINT NOT NULL,
                tags JSONB NOT NULL,
                revision BIGINT NOT NULL,
                last_version BIGINT NOT NULL DEFAULT 0,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant, name)
            )
            """,
            "CREATE INDEX functions_code_digest ON functions(code_digest)",
            """
            CREATE TABLE function_versions (
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                number BIGINT NOT NULL,
                config JSONB NOT NULL,
                code_digest TEXT NOT NULL REFERENCES bundles(digest),
                async_retries BIGINT NOT NULL,
                description TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant, function, number),
                FOREIGN KEY (tenant, function) REFERENCES functions(tenant, name) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX function_versions_code_digest ON function_versions(code_digest)",
            """
            CREATE TABLE aliases (
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                name TEXT NOT NULL,
                version TEXT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant, function, name),
                FOREIGN KEY (tenant, function) REFERENCES functions(tenant, name) ON DELETE CASCADE
            )
            """,
            """
            CREATE TABLE nodes (
                id TEXT PRIMARY KEY NOT NULL,
                address TEXT NOT NULL,
                memory_budget_bytes BIGINT NOT NULL,
                memory_reserved_bytes BIGINT NOT NULL,
                in_flight BIGINT NOT NULL,
                warm JSONB NOT NULL,
                templates JSONB NOT NULL,
                bundles JSONB NOT NULL,
                draining BOOLEAN NOT NULL,
                last_heartbeat_ms BIGINT NOT NULL,
                registered_at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE invocations (
                id TEXT PRIMARY KEY NOT NULL,
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                function TEXT NOT NULL,
                qualifier TEXT NOT NULL,
                payload BYTEA NOT NULL,
                idempotency_key TEXT,
                status TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                max_attempts BIGINT NOT NULL,
                next_attempt_at_ms BIGINT NOT NULL,
                lease_owner TEXT,
                lease_expires_at_ms BIGINT,
                result BYTEA,
                last_error TEXT,
                last_request_id TEXT,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                UNIQUE (tenant, function, idempotency_key)
            )
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
                start_ms BIGINT NOT NULL,
                duration_ms DOUBLE PRECISION NOT NULL,
                billed_duration_ms BIGINT NOT NULL,
                init_duration_ms DOUBLE PRECISION,
                start_kind TEXT NOT NULL,
                memory_mb BIGINT NOT NULL,
                max_memory_used_bytes BIGINT NOT NULL,
                outcome TEXT NOT NULL,
                error_type TEXT
            )
            """,
            "CREATE INDEX invocation_records_tenant ON invocation_records(tenant, start_ms)",
            "CREATE INDEX invocation_records_function ON invocation_records(tenant, function, start_ms)",
            "CREATE INDEX invocation_records_start ON invocation_records(start_ms)",
            """
            CREATE TABLE log_lines (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant TEXT NOT NULL,
                function TEXT NOT NULL,
                version TEXT NOT NULL,
                request_id TEXT NOT NULL,
                time_ms BIGINT NOT NULL,
                text TEXT NOT NULL
            )
            """,
            "CREATE INDEX log_lines_function ON log_lines(tenant, function, seq)",
            "CREATE INDEX log_lines_request ON log_lines(tenant, request_id, seq)",
            "CREATE INDEX log_lines_time ON log_lines(time_ms)",
            """
            CREATE TABLE principals (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                tags JSONB NOT NULL,
                is_admin BOOLEAN NOT NULL,
                created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant, name)
            )
            """,
            """
            CREATE TABLE credentials (
                id TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL,
                tenant TEXT NOT NULL,
                principal TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT,
                revoked_at_ms BIGINT,
                FOREIGN KEY (tenant, principal) REFERENCES principals(tenant, name) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX credentials_principal ON credentials(tenant, principal)",
            """
            CREATE TABLE policies (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                document TEXT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (tenant, name)
            )
            """,
            """
            CREATE TABLE policy_attachments (
                tenant TEXT NOT NULL,
                policy TEXT NOT NULL,
                principal TEXT NOT NULL,
                PRIMARY KEY (tenant, policy, principal),
                FOREIGN KEY (tenant, policy) REFERENCES policies(tenant, name) ON DELETE CASCADE,
                FOREIGN KEY (tenant, principal) REFERENCES principals(tenant, name) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX policy_attachments_principal ON policy_attachments(tenant, principal)",
        ]),
        Migration(version: 2, summary: "nodes.instances: instances per function version", statements: [
            "ALTER TABLE nodes ADD COLUMN instances JSONB NOT NULL DEFAULT '[]'::jsonb",
        ]),
    ]
}
