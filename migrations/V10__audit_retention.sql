-- Issue 11: retention keeps the audit log verifiable. Each run that deletes
-- rows first records the chain position up to which rows may be missing,
-- the chain value there and the cut-off, signed with the audit key
-- (keyserver/src/audit_chain/retention.rs). Written by the owner, which
-- runs retention; the server's role only reads it.
CREATE TABLE audit_retention (
    id BIGSERIAL PRIMARY KEY,
    cut_position BIGINT NOT NULL,
    chain BYTEA NOT NULL,
    cutoff TIMESTAMP NOT NULL,
    older_than_days INTEGER NOT NULL,
    rows_deleted BIGINT NOT NULL,
    signing_key_id INTEGER NOT NULL REFERENCES audit_signing_keys(id),
    signature BYTEA NOT NULL,
    run_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);

GRANT SELECT ON audit_retention TO pqfile_runtime;
