-- Issue 12: every API token expires, and a user can be disabled.
--
-- Tokens made before this release get 90 days from the upgrade (the default
-- lifetime of a new token), so the upgrade locks nobody out and no token
-- stays valid for ever. `disabled_at` is set by `user disable`, which also
-- revokes every token of the user; a disabled user gets no new token.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
UPDATE api_tokens
   SET expires_at = GREATEST(created_at, now() AT TIME ZONE 'UTC') + interval '90 days';
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;
