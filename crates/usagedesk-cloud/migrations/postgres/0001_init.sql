-- Cloud reporting service on PostgreSQL, schema version 1: the whole schema of the SQLite
-- engine's migrations 0001–0005 (see migrations/*.sql for what each table holds).
-- Never edit once landed: add 0002_….sql beside it instead.
--
-- Dates and times are stored as the same fixed-width UTC text as on SQLite (`YYYY-MM-DD`,
-- `YYYY-MM-DDTHH:MM:SSZ`, `YYYY-MM-DDTHH:MM:SS.mmmZ`), so text order is time order and both
-- engines compare them alike. Text columns use the C collation: byte order, as on SQLite.

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE plans (
    id       TEXT COLLATE "C" PRIMARY KEY,
    name     TEXT NOT NULL,
    position BIGINT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    parent_id  TEXT COLLATE "C" REFERENCES accounts(id) DEFERRABLE INITIALLY DEFERRED,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX accounts_parent ON accounts(parent_id);

-- Every (ancestor, descendant) pair, each account its own ancestor at depth 0.
CREATE TABLE closure (
    ancestor   TEXT COLLATE "C" NOT NULL,
    descendant TEXT COLLATE "C" NOT NULL,
    depth      BIGINT NOT NULL,
    PRIMARY KEY (ancestor, descendant)
);
CREATE INDEX closure_descendant ON closure(descendant);

-- daily_usage, month_usage and instance_events, the large tables, name their account, plan or
-- instance without a foreign key: every writer checks the reference first (the load by the
-- service's rules, ingest and check-ins before they write), nothing deletes accounts or
-- instances, and a per-row constraint trigger would cost a bulk load more than its rows.
CREATE TABLE daily_usage (
    account_id          TEXT COLLATE "C" NOT NULL,
    date                TEXT COLLATE "C" NOT NULL,
    plan                TEXT COLLATE "C" NOT NULL,
    users_registered    BIGINT NOT NULL CHECK (users_registered >= 0),
    users_with_token    BIGINT NOT NULL CHECK (users_with_token >= 0),
    users_with_activity BIGINT NOT NULL CHECK (users_with_activity >= 0),
    PRIMARY KEY (account_id, date)
);

-- Derived: the last daily snapshot of each (account, month).
CREATE TABLE month_usage (
    account_id          TEXT COLLATE "C" NOT NULL,
    month               TEXT COLLATE "C" NOT NULL,
    plan                TEXT COLLATE "C" NOT NULL,
    snapshot_date       TEXT COLLATE "C" NOT NULL,
    users_registered    BIGINT NOT NULL,
    users_with_token    BIGINT NOT NULL,
    users_with_activity BIGINT NOT NULL,
    PRIMARY KEY (account_id, month)
);

-- The change feed: one row per entity, moved to a new seq whenever the entity changes.
-- Every transaction that writes it holds the engine's write lock (a transaction-level
-- advisory lock) from its start to its commit, so seq values become visible in order and a
-- reader paging on `seq > cursor` never skips a row that commits late.
CREATE SEQUENCE feed_seq AS BIGINT;
CREATE TABLE feed (
    seq        BIGINT PRIMARY KEY DEFAULT nextval('feed_seq'),
    kind       TEXT COLLATE "C" NOT NULL,
    account_id TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL DEFAULT '',
    UNIQUE (account_id, kind, key)
);
ALTER SEQUENCE feed_seq OWNED BY feed.seq;

-- Which scopes saw a tombstoned account (its ancestors when it left).
CREATE TABLE tombstone_scope (
    ancestor TEXT COLLATE "C" NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (ancestor, seq)
);

CREATE TABLE tokens (
    hash       BYTEA PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id TEXT COLLATE "C" REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('manager', 'ingest')),
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C",
    revoked_at TEXT COLLATE "C"
);

CREATE TABLE signing_keys (
    role        TEXT PRIMARY KEY CHECK (role IN ('vendor_root', 'cloud')),
    secret      TEXT NOT NULL,
    certificate TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE instances (
    id              TEXT COLLATE "C" PRIMARY KEY,
    license_id      TEXT COLLATE "C" NOT NULL,
    account_id      TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    airgapped       BOOLEAN NOT NULL,
    public_key      TEXT,
    high_water_mark BIGINT NOT NULL DEFAULT 0 CHECK (high_water_mark >= 0),
    last_report_at  TEXT
);
CREATE INDEX instances_account ON instances(account_id);
CREATE INDEX instances_license ON instances(license_id);

CREATE TABLE delegations (
    id                 BIGSERIAL PRIMARY KEY,
    public_key         TEXT NOT NULL,
    subject            TEXT NOT NULL,
    scope              TEXT NOT NULL,
    token_name         TEXT NOT NULL,
    issued_at          TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    token_id           TEXT COLLATE "C",
    certificate_sha256 TEXT COLLATE "C"
);
CREATE INDEX delegations_certificate ON delegations(certificate_sha256);

CREATE TABLE online_sync_keys (
    nonce       TEXT COLLATE "C" PRIMARY KEY,
    instance_id TEXT COLLATE "C" NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    sync_key    TEXT NOT NULL,
    issued_at   TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL,
    position    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX online_sync_keys_instance ON online_sync_keys(instance_id, expires_at);

CREATE TABLE daily_sources (
    account_id  TEXT COLLATE "C" NOT NULL,
    date        TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (account_id, date)
);

CREATE TABLE usage_files (
    sha256           TEXT COLLATE "C" PRIMARY KEY,
    nonce            TEXT COLLATE "C" NOT NULL UNIQUE,
    instance_id      TEXT COLLATE "C" NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    via              TEXT NOT NULL CHECK (via IN ('import', 'online')),
    accepted_by      TEXT NOT NULL,
    received         BIGINT NOT NULL,
    new              BIGINT NOT NULL,
    already_present  BIGINT NOT NULL,
    changed          BIGINT NOT NULL,
    high_water_mark  BIGINT NOT NULL,
    verification_key TEXT NOT NULL,
    accepted_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX usage_files_instance ON usage_files(instance_id, accepted_at);

CREATE TABLE licenses (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('prod', 'trial', 'dev', 'community')),
    channel    TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C",
    features   BIGINT NOT NULL CHECK (features BETWEEN 0 AND 15),
    seats      TEXT NOT NULL
);
CREATE INDEX licenses_account ON licenses(account_id);

CREATE TABLE instance_reports (
    instance_id        TEXT COLLATE "C" PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    status             TEXT NOT NULL
                       CHECK (status IN ('missing', 'unavailable', 'degraded', 'ready', 'updating')),
    app_version        TEXT NOT NULL,
    distribution       TEXT NOT NULL,
    kubernetes_version TEXT NOT NULL,
    embedded_cluster   BOOLEAN NOT NULL,
    nodes_ready        BIGINT CHECK (nodes_ready >= 0),
    nodes_total        BIGINT CHECK (nodes_total >= 0),
    agent_version      TEXT NOT NULL,
    cloud_provider     TEXT,
    region             TEXT,
    first_check_in     TEXT COLLATE "C" NOT NULL,
    last_check_in      TEXT COLLATE "C" NOT NULL,
    signed_at          TEXT COLLATE "C"
);

CREATE TABLE instance_events (
    id          BIGSERIAL PRIMARY KEY,
    instance_id TEXT COLLATE "C" NOT NULL,
    field       TEXT COLLATE "C" NOT NULL,
    previous    TEXT,
    new         TEXT NOT NULL,
    received_at TEXT COLLATE "C" NOT NULL,
    UNIQUE (instance_id, received_at, field)
);

CREATE TABLE install_attempts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    license_id  TEXT COLLATE "C" NOT NULL REFERENCES licenses(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'stalled', 'failed')),
    started_at  TEXT COLLATE "C" NOT NULL,
    user_email  TEXT NOT NULL,
    environment TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('online', 'airgap')),
    registry    TEXT NOT NULL CHECK (registry IN ('online', 'offline'))
);
CREATE INDEX install_attempts_license ON install_attempts(license_id);

CREATE TABLE install_steps (
    attempt_id TEXT COLLATE "C" NOT NULL REFERENCES install_attempts(id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    name       TEXT NOT NULL,
    at         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (attempt_id, position)
);

CREATE TABLE license_files (
    id             BIGSERIAL PRIMARY KEY,
    instance_id    TEXT COLLATE "C" NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    license_id     TEXT NOT NULL,
    enrollment_key TEXT NOT NULL UNIQUE,
    account_path   TEXT NOT NULL,
    airgapped      BOOLEAN NOT NULL,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT COLLATE "C" NOT NULL,
    issued_by      TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX license_files_instance ON license_files(instance_id);

CREATE TABLE instance_key_events (
    id          BIGSERIAL PRIMARY KEY,
    instance_id TEXT COLLATE "C" NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('license_file_issued', 'enrolled', 'registered',
                                               'reset', 'license_files_revoked')),
    actor       TEXT NOT NULL,
    public_key  TEXT,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX instance_key_events_instance ON instance_key_events(instance_id, id);
