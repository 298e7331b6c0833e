-- Sessions in Egress's own table (they were tower-sessions' schema): a save only updates
-- a session that still exists, so a request in flight during logout cannot bring it back.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     BIGINT,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);
DROP TABLE IF EXISTS tower_sessions.session;
DROP SCHEMA IF EXISTS tower_sessions;

-- Failed sign-ins, by account and by client address, for the login throttle.
CREATE TABLE login_failures (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key  TEXT NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (key, at);

-- Deleted exports stay (hidden) so their audit trail outlives them; cells that XLSX had to
-- shorten are counted; an email is claimed before it is sent, so one node sends it.
ALTER TABLE export_jobs
    ADD COLUMN deleted_at TIMESTAMPTZ,
    ADD COLUMN shortened_cells BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN email_claimed_until TIMESTAMPTZ;
