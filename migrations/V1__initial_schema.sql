-- The documented schema of the original system, exactly (issue 4, "Schema
-- reference"). Everything the product adds lives in later migrations.
CREATE TABLE encryption_keys (
    id SERIAL PRIMARY KEY, public_key TEXT NOT NULL, private_key TEXT NOT NULL,
    kms_key_id TEXT, kms_key_arn TEXT, status VARCHAR(20) DEFAULT 'active',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, expires_at TIMESTAMP,
    usage_count INTEGER DEFAULT 0,
    CONSTRAINT status_check CHECK (status IN ('active', 'rotation_queued', 'expired', 'revoked')));
CREATE INDEX idx_encryption_keys_status ON encryption_keys(status);
CREATE INDEX idx_encryption_keys_usage_count ON encryption_keys(usage_count);
CREATE INDEX idx_encryption_keys_created_at ON encryption_keys(created_at);
CREATE TABLE access_logs (
    id SERIAL PRIMARY KEY, document_id TEXT, access_type VARCHAR(50),
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, user_id TEXT, ip_address INET,
    user_agent TEXT, key_id INTEGER REFERENCES encryption_keys(id));
CREATE INDEX idx_access_logs_timestamp ON access_logs(timestamp);
CREATE INDEX idx_access_logs_document_id ON access_logs(document_id);
CREATE INDEX idx_access_logs_access_type ON access_logs(access_type);
CREATE TABLE key_rotations (
    id SERIAL PRIMARY KEY, old_key_id INTEGER REFERENCES encryption_keys(id),
    new_key_id INTEGER REFERENCES encryption_keys(id), status VARCHAR(20) DEFAULT 'pending',
    initiated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, completed_at TIMESTAMP);
