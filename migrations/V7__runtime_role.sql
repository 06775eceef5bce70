-- Issue 11: the key server runs as a role that may append to the audit log
-- but never change or delete it. The tables stay owned by the role that runs
-- the migrations (the owner); the running server connects as a LOGIN role
-- (`pqfile_app`, created by whoever deploys: scripts/lib/stack.sh, the test
-- harness, docker-compose) that is a member of the NOLOGIN group role
-- `pqfile_runtime`, which holds exactly the rights the server uses.
--
-- Deny by default: no ALTER DEFAULT PRIVILEGES. Every later migration that
-- creates a table or sequence grants what the server needs on it, here, in
-- the open (the privilege test in keyserver/tests/api/schema.rs lists them).

-- Roles are cluster-wide while migrations run per database: several
-- databases of one cluster may migrate at once, so a concurrent CREATE ROLE
-- that lost the race (unique_violation, or duplicate_object) is success.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pqfile_runtime') THEN
        CREATE ROLE pqfile_runtime NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO pqfile_runtime;

-- The audit log: append and read only. No UPDATE, DELETE or TRUNCATE:
-- retention runs as the owner.
GRANT SELECT, INSERT ON access_logs TO pqfile_runtime;
GRANT USAGE ON SEQUENCE access_logs_id_seq TO pqfile_runtime;

-- The key pool: keys are generated (with an id reserved by nextval before
-- the KMS wraps them), taken (usage_count), rotated, expired and revoked
-- (status); never deleted.
GRANT SELECT, INSERT, UPDATE ON encryption_keys TO pqfile_runtime;
GRANT USAGE ON SEQUENCE encryption_keys_id_seq TO pqfile_runtime;

-- Rotations are opened and moved on; never deleted.
GRANT SELECT, INSERT, UPDATE ON key_rotations TO pqfile_runtime;
GRANT USAGE ON SEQUENCE key_rotations_id_seq TO pqfile_runtime;

-- Documents are registered, rewrapped (key_id) and get stored content
-- (content_size); never deleted.
GRANT SELECT, INSERT, UPDATE ON documents TO pqfile_runtime;

-- Grants are given (INSERT ... ON CONFLICT DO UPDATE) and revoked (DELETE).
GRANT SELECT, INSERT, UPDATE, DELETE ON document_grants TO pqfile_runtime;

-- Accounts are read (token check, grantee lookup); the operator commands
-- `pqfile-keyserver user add` and `token create` write them as the owner.
GRANT SELECT ON users TO pqfile_runtime;
GRANT SELECT ON api_tokens TO pqfile_runtime;
