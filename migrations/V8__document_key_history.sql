-- Issue 11: a document's key history. Every key a document has been
-- wrapped to (at registration, then by each rewrap) stays in its history,
-- so a rewrap never strands another copy of the file: a stanza for any key
-- of the history that is neither revoked nor expired still unwraps.
-- `documents.key_id` stays the latest key (rotations count by it).
CREATE TABLE document_keys (
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    key_id INTEGER NOT NULL REFERENCES encryption_keys(id),
    -- Who added it: the owner at registration, the user whose rewrap added
    -- it, NULL for the server (rewrap of a stored ciphertext).
    added_by INTEGER REFERENCES users(id),
    added_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (document_id, key_id));
CREATE INDEX idx_document_keys_key_id ON document_keys(key_id);

-- Existing documents start their history with the key they have now.
INSERT INTO document_keys (document_id, key_id, added_by, added_at)
    SELECT id, key_id, owner_id, created_at FROM documents;

-- Keys are added, never removed (deny by default: no UPDATE, no DELETE).
GRANT SELECT, INSERT ON document_keys TO pqfile_runtime;
