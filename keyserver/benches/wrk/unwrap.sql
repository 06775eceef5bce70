-- pgbench twin of POST /v1/documents/{id}/unwrap: the token lookup
-- (store/users.rs TOKEN_SQL), the document + history key + grant lookup
-- (store/documents.rs DOCUMENT_ACCESS_SQL) and the audit row written only
-- while the key still unwraps, with its 48-byte seal (store/access_logs.rs
-- INSERT_IF_KEY_USABLE_SQL),
-- with pgbench variables for the server's parameters. A keyserver unit test
-- (bench_twin_matches_the_server_sql) keeps this file identical to them.
SELECT u.id, u.name, u.role, t.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL, t.expires_at <= LOCALTIMESTAMP FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash;
SELECT d.owner_id, d.key_id,
        EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = :uid),
        d.content_size, k.id, COALESCE(k.status, 'active'), k.expires_at, COALESCE(k.expires_at <= CURRENT_TIMESTAMP, false),
        k.private_key, k.kms_key_id, k.kms_key_arn
     FROM documents d
     LEFT JOIN document_keys h ON h.document_id = d.id AND h.key_id = COALESCE(:kid, d.key_id)
     LEFT JOIN encryption_keys k ON k.id = h.key_id WHERE d.id = :doc;
INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason, seal)
             SELECT :doc::text, 'decrypt'::text, :uid::text, '127.0.0.1'::inet, 'pgbench'::text, :kid::int4, 'allowed'::text, NULL::text, :seal::bytea
             WHERE EXISTS (SELECT 1 FROM encryption_keys k WHERE k.id = :kid::int4
                 AND COALESCE(k.status, 'active') IN ('active', 'rotation_queued')
                 AND (k.expires_at IS NULL OR k.expires_at > CURRENT_TIMESTAMP));
