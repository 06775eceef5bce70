-- Documents registered by POST /v1/documents: who owns them and which key
-- their stanza was made for. Also what tells a rotation (issue 5) which
-- documents still depend on a key.
CREATE TABLE documents (
    id TEXT PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    owner_id INTEGER NOT NULL REFERENCES users(id),
    key_id INTEGER NOT NULL REFERENCES encryption_keys(id),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_documents_owner_id ON documents(owner_id);
CREATE INDEX idx_documents_key_id ON documents(key_id);
