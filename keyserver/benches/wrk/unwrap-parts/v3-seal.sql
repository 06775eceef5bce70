-- Part of the unwrap SQL cost breakdown (BENCHMARKS.md, "Issue 11"): v3-seal.sql.
-- Run by BENCH_PARTS=1 scripts/bench-keyserver.sh; v4 is today's unwrap.sql.
SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :hash AND t.revoked_at IS NULL;
SELECT d.owner_id, d.key_id, k.status, k.private_key, k.kms_key_id, k.kms_key_arn, EXISTS (SELECT 1 FROM document_grants g WHERE g.document_id = d.id AND g.user_id = :uid), d.content_size FROM documents d JOIN encryption_keys k ON k.id = d.key_id WHERE d.id = :doc;
INSERT INTO access_logs (document_id, access_type, user_id, ip_address, user_agent, key_id, outcome, reason, seal) VALUES (:doc, 'decrypt', :uid, '127.0.0.1', 'pgbench', :kid, 'allowed', NULL, :seal::bytea);
