-- Cloud reporting service, schema version 3: customer reporting (licenses, instance reports
-- and events, install attempts; docs/load-format.md, docs/agent.md "Check-ins").
-- Never edit once landed: add 0004_….sql instead.
--
-- New kinds on the feed, each with the owning account in account_id (for scoping):
-- 'license' (key = license id), 'report' (key = instance id), 'event' (key = the event's id
-- in decimal), 'attempt' (key = install attempt id).
--
-- Times in these tables are UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ` (fixed width, so text order is
-- time order).

CREATE TABLE licenses (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('prod', 'trial', 'dev', 'community')),
    channel    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    -- Bit set: 1 gitops, 2 airgap, 4 identity, 8 snapshots.
    features   INTEGER NOT NULL CHECK (features BETWEEN 0 AND 15),
    -- `plan=N;plan=N`, plans in id order ('' for none).
    seats      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX licenses_account ON licenses(account_id);

CREATE INDEX instances_license ON instances(license_id);

-- What each instance last reported (one row per instance that ever checked in or was loaded
-- with a report).
CREATE TABLE instance_reports (
    instance_id        TEXT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    status             TEXT NOT NULL
                       CHECK (status IN ('missing', 'unavailable', 'degraded', 'ready', 'updating')),
    app_version        TEXT NOT NULL,
    distribution       TEXT NOT NULL,
    kubernetes_version TEXT NOT NULL,
    embedded_cluster   INTEGER NOT NULL CHECK (embedded_cluster IN (0, 1)),
    nodes_ready        INTEGER CHECK (nodes_ready >= 0),
    nodes_total        INTEGER CHECK (nodes_total >= 0),
    agent_version      TEXT NOT NULL,
    cloud_provider     TEXT,
    region             TEXT,
    first_check_in     TEXT NOT NULL,
    last_check_in      TEXT NOT NULL,
    -- The timestamp the instance signed its last check-in with: a check-in must be signed
    -- later (replays are refused). NULL until the first signed check-in.
    signed_at          TEXT
) WITHOUT ROWID;

-- One row per change of a reported field. Never updated by check-ins; a load may rewrite the
-- values of an event it names again (same instance, time and field).
CREATE TABLE instance_events (
    id          INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    previous    TEXT,
    new         TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (instance_id, received_at, field)
);

CREATE TABLE install_attempts (
    id          TEXT PRIMARY KEY,
    license_id  TEXT NOT NULL REFERENCES licenses(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'stalled', 'failed')),
    started_at  TEXT NOT NULL,
    user_email  TEXT NOT NULL,
    environment TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('online', 'airgap')),
    registry    TEXT NOT NULL CHECK (registry IN ('online', 'offline'))
) WITHOUT ROWID;
CREATE INDEX install_attempts_license ON install_attempts(license_id);

-- The progress steps of an attempt, in order.
CREATE TABLE install_steps (
    attempt_id TEXT NOT NULL REFERENCES install_attempts(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (attempt_id, position)
) WITHOUT ROWID;
