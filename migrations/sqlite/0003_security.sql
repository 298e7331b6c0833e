-- See the Postgres migration of the same name.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER,
    data        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);
DROP TABLE IF EXISTS tower_sessions;

CREATE TABLE login_failures (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (key, at);

ALTER TABLE export_jobs ADD COLUMN deleted_at TEXT;
ALTER TABLE export_jobs ADD COLUMN shortened_cells INTEGER NOT NULL DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN email_claimed_until TEXT;
