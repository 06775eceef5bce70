-- Issue 11: tamper evidence for the audit log (keyserver/src/audit_chain).
--
-- Every row a key server writes carries a seal: a 16-byte nonce and its
-- HMAC-SHA-256 under the audit key, which only a server (through the KMS)
-- holds; a row inserted by hand has none.
ALTER TABLE access_logs ADD COLUMN seal BYTEA;

-- Rows written before this migration have no seal; they are chained as
-- they are. Their highest id is part of every signed checkpoint.
CREATE TABLE audit_chain_start (legacy_max_id BIGINT NOT NULL);
INSERT INTO audit_chain_start SELECT COALESCE(max(id), 0) FROM access_logs;

-- The audit key: public half in clear, the 64-byte seed only wrapped by the
-- KMS (purpose pqfile-keyserver/audit-signing-key).
CREATE TABLE audit_signing_keys (
    id INTEGER PRIMARY KEY,
    public_key BYTEA NOT NULL,
    private_key TEXT NOT NULL,
    kms_key_id TEXT,
    kms_key_arn TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);

-- The chain: one entry per row, in the order the sealer appended them.
CREATE TABLE audit_chain (
    position BIGINT PRIMARY KEY,
    log_id BIGINT NOT NULL UNIQUE,
    digest BYTEA NOT NULL,
    chain BYTEA NOT NULL);

-- Signed checkpoints: position and head of the chain, low watermark.
CREATE TABLE audit_checkpoints (
    id BIGSERIAL PRIMARY KEY,
    position BIGINT NOT NULL,
    chain BYTEA NOT NULL,
    low_watermark BIGINT NOT NULL,
    signing_key_id INTEGER NOT NULL REFERENCES audit_signing_keys(id),
    signature BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);

-- Append and read only, like access_logs.
GRANT SELECT ON audit_chain_start TO pqfile_runtime;
GRANT SELECT, INSERT ON audit_signing_keys, audit_chain, audit_checkpoints TO pqfile_runtime;
GRANT USAGE ON SEQUENCE audit_checkpoints_id_seq TO pqfile_runtime;
