-- PostgreSQL schema version 2: each plan's seat metric (plans.csv's optional `seat_metric`),
-- the count a license's seats for the plan are compared with (SQLite: migration 0006).
-- Never edit a released migration: add migrations/postgres/000N_*.sql and list it in
-- src/storage/postgres/migrate.rs.

ALTER TABLE plans ADD COLUMN seat_metric TEXT NOT NULL DEFAULT 'users_registered'
    CHECK (seat_metric IN ('users_registered', 'users_with_token', 'users_with_activity'));
