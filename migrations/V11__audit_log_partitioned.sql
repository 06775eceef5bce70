-- Issue 11, the audit log at scale: access_logs and its chain are
-- partitioned by month (declarative range partitioning), so that retention
-- drops whole months instead of deleting rows one by one
-- (keyserver/src/audit_partitions.rs, keyserver/src/audit_chain/retention.rs).
--
-- access_logs keeps the seed's columns and indexes (and those added since).
-- A partitioned table's primary key must contain the partition key, and the
-- seed's `timestamp` may be NULL, so `id` loses its PRIMARY KEY and keeps an
-- index: ids come from the sequence, and `audit verify` names a row that
-- reuses one. A row whose month has no partition (or whose timestamp is
-- NULL) lands in the DEFAULT partition: an insert never fails for want of
-- a partition. The months are created ahead by maintenance (as the owner).
--
-- audit_chain gets `logged_at`, the timestamp of the row it chains
-- ('-infinity' when that row had none or was gone already), and the same
-- monthly partitions, so a month of rows and its chain entries go together.

ALTER TABLE access_logs RENAME TO access_logs_v10;
ALTER SEQUENCE access_logs_id_seq OWNED BY NONE;
ALTER TABLE audit_chain RENAME TO audit_chain_v10;

CREATE TABLE access_logs (
    id BIGINT NOT NULL DEFAULT nextval('access_logs_id_seq'),
    document_id TEXT,
    access_type VARCHAR(50),
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    user_id TEXT,
    ip_address INET,
    user_agent TEXT,
    key_id INTEGER REFERENCES encryption_keys(id),
    outcome VARCHAR(20) NOT NULL DEFAULT 'allowed'
        CONSTRAINT outcome_check CHECK (outcome IN ('allowed', 'refused')),
    reason TEXT,
    seal BYTEA
) PARTITION BY RANGE (timestamp);
ALTER SEQUENCE access_logs_id_seq OWNED BY access_logs.id;

CREATE TABLE audit_chain (
    position BIGINT NOT NULL,
    log_id BIGINT NOT NULL,
    digest BYTEA NOT NULL,
    chain BYTEA NOT NULL,
    logged_at TIMESTAMP NOT NULL
) PARTITION BY RANGE (logged_at);

-- One partition per month that holds rows, and the current month and the
-- three after it (keyserver/src/audit_partitions.rs keeps them ahead).
DO $$
DECLARE
    m timestamp;
BEGIN
    FOR m IN
        SELECT DISTINCT date_trunc('month', timestamp) FROM access_logs_v10 WHERE timestamp IS NOT NULL
        UNION
        SELECT date_trunc('month', CURRENT_TIMESTAMP::timestamp) + make_interval(months => n)
        FROM generate_series(0, 3) AS n
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF access_logs FOR VALUES FROM (%L) TO (%L)',
            'access_logs_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month');
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_chain FOR VALUES FROM (%L) TO (%L)',
            'audit_chain_' || to_char(m, 'YYYY_MM'), m, m + interval '1 month');
    END LOOP;
END
$$;
CREATE TABLE access_logs_default PARTITION OF access_logs DEFAULT;
CREATE TABLE audit_chain_default PARTITION OF audit_chain DEFAULT;

INSERT INTO access_logs (id, document_id, access_type, timestamp, user_id, ip_address,
                         user_agent, key_id, outcome, reason, seal)
SELECT id, document_id, access_type, timestamp, user_id, ip_address,
       user_agent, key_id, outcome, reason, seal
FROM access_logs_v10;

INSERT INTO audit_chain (position, log_id, digest, chain, logged_at)
SELECT c.position, c.log_id, c.digest, c.chain, COALESCE(a.timestamp, '-infinity')
FROM audit_chain_v10 c LEFT JOIN access_logs_v10 a ON a.id = c.log_id;

DROP TABLE audit_chain_v10;
DROP TABLE access_logs_v10;

-- The seed's indexes (and V5's), on every partition.
CREATE INDEX idx_access_logs_id ON access_logs(id);
CREATE INDEX idx_access_logs_timestamp ON access_logs(timestamp);
CREATE INDEX idx_access_logs_document_id ON access_logs(document_id);
CREATE INDEX idx_access_logs_access_type ON access_logs(access_type);
CREATE INDEX idx_access_logs_user_id ON access_logs(user_id);
CREATE INDEX idx_audit_chain_position ON audit_chain(position);
CREATE INDEX idx_audit_chain_log_id ON audit_chain(log_id);

-- The server's rights are on the parents (rows reach the partitions
-- through them); as in V7 and V9, append and read only.
GRANT SELECT, INSERT ON access_logs TO pqfile_runtime;
GRANT SELECT, INSERT ON audit_chain TO pqfile_runtime;
