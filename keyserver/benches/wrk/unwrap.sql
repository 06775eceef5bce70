-- pgbench twin of POST /v1/documents/{id}/unwrap: the token lookup
-- (store/users.rs TOKEN_SQL), the document + key + grant lookup
-- (store/documents.rs DOCUMENT_ACCESS_SQL) and the audit row
-- (store/access_logs.rs INSERT_SQL), with pgbench
-- variables for the server's parameters. A keyserver unit test
-- (bench_twin_matches_the_server_sql) keeps this file identical to them.
SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash AND t.revoked_at IS NULL;
SELECT d.owner_id, d.key_id, k.status, k.private_key, k.kms_key_id, k.kms_key_arn,
        EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = :uid),
        d.content_size
     FROM documents d JOIN encryption_keys k ON k.id = d.key_id WHERE d.id = :doc;
INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason)
             VALUES (:doc, 'decrypt', :uid, '127.0.0.1', 'pgbench', :kid, 'allowed', NULL);
