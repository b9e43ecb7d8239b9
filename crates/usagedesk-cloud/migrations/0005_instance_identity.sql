-- Cloud reporting service: instance identity (docs/airgap-format.md "License file",
-- docs/security.md). Never edit once landed: add a new migration instead.
--
-- Times in these tables are UTC, `YYYY-MM-DDTHH:MM:SSZ` (as in the air-gapped tables).

-- Every license file the vendor issued. Only the enrollment *public* key is kept: the secret
-- is in the file the customer holds, so this database alone cannot enroll an instance. An
-- enrollment is accepted while its key is here for the instance, not revoked, and the license
-- in force.
CREATE TABLE license_files (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id    TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    license_id     TEXT NOT NULL,
    enrollment_key TEXT NOT NULL UNIQUE,   -- ed25519:…
    account_path   TEXT NOT NULL,          -- JSON array of account ids, root first
    airgapped      INTEGER NOT NULL CHECK (airgapped IN (0, 1)),
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    issued_by      TEXT NOT NULL,
    revoked_at     TEXT                    -- set by `instance reset-key --revoke-license-files`
);
CREATE INDEX license_files_instance ON license_files(instance_id);

-- The history of each instance's key: license files issued, keys enrolled (first contact
-- online or by file), registered (instances.csv), reset, license files revoked. Who and when.
CREATE TABLE instance_key_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('license_file_issued', 'enrolled', 'registered',
                                               'reset', 'license_files_revoked')),
    actor       TEXT NOT NULL,
    -- The instance key enrolled, registered or reset; the enrollment key of a license file.
    public_key  TEXT,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX instance_key_events_instance ON instance_key_events(instance_id, id);
