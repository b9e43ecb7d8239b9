-- PostgreSQL schema version 3: request budgets shared by every `serve` process on this
-- database (per client address and per instance; see src/storage/rates.rs). One row per key:
-- `full_at`, when the key's budget is full again (the generic cell rate algorithm). Rows
-- whose budget is full are deleted from time to time. Not logged: a crash may lose budgets,
-- which only gives clients their full budget again.
-- Never edit a released migration: add migrations/postgres/000N_*.sql and list it in
-- src/storage/postgres/migrate.rs.

CREATE UNLOGGED TABLE rate_budgets (
    key TEXT PRIMARY KEY,
    full_at TIMESTAMPTZ NOT NULL
);
