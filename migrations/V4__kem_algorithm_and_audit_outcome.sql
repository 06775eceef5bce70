-- Which KEM a key pair belongs to (FORMAT.md §3.1), so a second KEM can join
-- the pool without a schema change.
ALTER TABLE encryption_keys
    ADD COLUMN algorithm VARCHAR(32) NOT NULL DEFAULT 'ML-KEM-768'
    CONSTRAINT algorithm_check CHECK (algorithm IN ('ML-KEM-768'));

-- Least-used selection scans only active keys, in (usage_count, id) order.
CREATE INDEX idx_encryption_keys_active_usage
    ON encryption_keys(usage_count, id) WHERE status = 'active';

-- Refusals are audited too: outcome says whether access was granted, reason
-- names the refusal (a stable error code).
ALTER TABLE access_logs
    ADD COLUMN outcome VARCHAR(20) NOT NULL DEFAULT 'allowed'
    CONSTRAINT outcome_check CHECK (outcome IN ('allowed', 'refused')),
    ADD COLUMN reason TEXT;
