-- Cloud reporting service, schema version 4: tokens that expire and can be revoked,
-- certificates that remember the token they were issued to, and the order in which online
-- sync keys were issued (only the newest few are kept per instance).
-- Never edit once landed: add 0005_….sql instead.

-- A token's public id (`tok-` and 12 hex digits, safe to print and to revoke by), when its
-- validity ends (NULL: never) and when it was revoked (NULL: not revoked). The token itself
-- is still stored only as its SHA-256 hash.
ALTER TABLE tokens ADD COLUMN id TEXT;
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
UPDATE tokens SET id = 'tok-' || lower(hex(randomblob(6))) WHERE id IS NULL;
CREATE UNIQUE INDEX tokens_id ON tokens(id);

-- The token a manager's certificate was issued to, and the certificate's SHA-256 (of its
-- compact JSON), so uploads of files signed under it can be refused once the token is revoked.
-- Certificates issued before this version have neither.
ALTER TABLE delegations ADD COLUMN token_id TEXT;
ALTER TABLE delegations ADD COLUMN certificate_sha256 TEXT;
CREATE INDEX delegations_certificate ON delegations(certificate_sha256);

-- Per instance, 1, 2, 3, … in the order the sync keys were issued (0 for keys issued
-- before this version); several can be issued within one second.
ALTER TABLE online_sync_keys ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
