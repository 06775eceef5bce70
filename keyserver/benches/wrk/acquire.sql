-- pgbench twin of POST /v1/documents: the token lookup (store/users.rs
-- TOKEN_SQL) and the registration statement (store/documents.rs
-- CREATE_DOCUMENT_SQL), with the
-- document id made in SQL instead of passed in.
SELECT u.id, u.name, u.role, t.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL, t.expires_at <= LOCALTIMESTAMP
 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash;
WITH p AS (SELECT md5(random()::text) AS doc),
k AS (
    UPDATE encryption_keys SET usage_count = COALESCE(usage_count, 0) + 1
    WHERE id = (SELECT id FROM encryption_keys
                WHERE status = 'active' AND (expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)
                ORDER BY usage_count, id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, public_key, algorithm),
d AS (INSERT INTO documents (id, owner_id, key_id) SELECT p.doc, :uid, k.id FROM k, p),
h AS (INSERT INTO document_keys (document_id, key_id, added_by) SELECT p.doc, k.id, :uid FROM k, p),
a AS (INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, seal)
      SELECT p.doc, 'encrypt', :uid, '127.0.0.1', 'pgbench', k.id, 'allowed', :seal::bytea FROM k, p)
SELECT id, public_key, algorithm FROM k;
