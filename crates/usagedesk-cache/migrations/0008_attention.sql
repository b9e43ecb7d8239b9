-- UsageDesk local cache: the Attention list and its reminders (docs/attention.md).
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.
-- Depends only on migrations 0001-0006.

-- Licenses by expiry: "within 30 days of expiry" is a range over this index.
CREATE INDEX ent_licenses_by_expiry ON ent_licenses (expires_at);

-- Every occurrence of an attention item seen by a reminder check: an item is notified when its
-- occurrence is not here yet, then recorded, so it is never notified twice. Kept when the
-- synced data is cleared (a re-sync brings back the same occurrences, already seen).
--   overdue:    subject = instance id, occurrence = its last verified exchange ('' = never)
--   expiring:   subject = license id,  occurrence = its expires_at
--   over_seats: subject = license id,  plan = the plan, occurrence = the month (YYYY-MM)
CREATE TABLE attention_noticed (
    kind       TEXT NOT NULL CHECK (kind IN ('overdue', 'expiring', 'over_seats')),
    subject    TEXT NOT NULL,
    plan       TEXT NOT NULL DEFAULT '',
    occurrence TEXT NOT NULL,
    noticed_at TEXT NOT NULL,            -- RFC 3339: the check that first saw it
    notified   INTEGER NOT NULL,         -- 0: seen while reminders were off (never sent)
    PRIMARY KEY (kind, subject, plan, occurrence)
) WITHOUT ROWID;
