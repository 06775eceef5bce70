-- Issue 5: key lifecycle, sharing and ciphertext storage.

-- A rotation ends `completed` (no document depends on the old key any more)
-- or `failed`, and then says why.
ALTER TABLE key_rotations
    ADD COLUMN reason TEXT,
    ADD CONSTRAINT key_rotations_status_check
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed'));

-- At most one open rotation per old key, whatever number of processes run
-- the rotation check at once (the check also locks candidates with
-- FOR UPDATE SKIP LOCKED; this index is the database's own guarantee).
CREATE UNIQUE INDEX idx_key_rotations_one_open_per_key
    ON key_rotations(old_key_id) WHERE status IN ('pending', 'in_progress');
CREATE INDEX idx_key_rotations_status ON key_rotations(status);

-- The owner's grants: a grantee may unwrap, rewrap and download.
CREATE TABLE document_grants (
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    granted_by INTEGER REFERENCES users(id),
    granted_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (document_id, user_id));
CREATE INDEX idx_document_grants_user_id ON document_grants(user_id);

-- Stored ciphertext (PUT /v1/documents/{id}/content): its size, NULL when
-- nothing is stored. The bytes live in a folder, not in the database.
ALTER TABLE documents
    ADD COLUMN content_size BIGINT,
    ADD COLUMN content_uploaded_at TIMESTAMP;

-- Filtered access-log queries by user and time.
CREATE INDEX idx_access_logs_user_id ON access_logs(user_id);
