-- Part of the unwrap SQL cost breakdown (BENCHMARKS.md, "Issue 11"): v1-history-join.sql.
-- Run by BENCH_PARTS=1 scripts/bench-keyserver.sh; v4 is today's unwrap.sql.
SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash AND t.revoked_at IS NULL;
SELECT d.owner_id, d.key_id,         EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = :uid),         d.content_size, k.id, COALESCE(k.status, 'active'), k.expires_at, COALESCE(k.expires_at <= CURRENT_TIMESTAMP, false),         k.private_key, k.kms_key_id, k.kms_key_arn      FROM documents d      LEFT JOIN document_keys h ON h.document_id = d.id AND h.key_id = COALESCE(:kid, d.key_id)      LEFT JOIN encryption_keys k ON k.id = h.key_id WHERE d.id = :doc; 
INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason) VALUES (:doc, 'decrypt', :uid, '127.0.0.1', 'pgbench', :kid, 'allowed', NULL);
