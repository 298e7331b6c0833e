-- Export jobs are a durable queue; see the Postgres migration for the design.
-- UUIDs are TEXT; timestamps are fixed-width RFC 3339 TEXT; JSON is TEXT.
CREATE TABLE export_jobs (
    id               TEXT PRIMARY KEY,
    workspace_id     INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    entity_type      TEXT NOT NULL,
    format           TEXT NOT NULL,
    filters          TEXT NOT NULL,
    options          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'expired')),
    total_rows       INTEGER,
    processed_rows   INTEGER NOT NULL DEFAULT 0,
    bytes            INTEGER,
    s3_bucket        TEXT,
    s3_key           TEXT,
    upload_id        TEXT,
    content_type     TEXT,
    file_name        TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    run_after        TEXT NOT NULL,
    lease_until      TEXT,
    locked_by        TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error_message    TEXT,
    email_sent_at    TEXT,
    email_attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at       TEXT,
    started_at       TEXT,
    completed_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX export_jobs_workspace_idx ON export_jobs (workspace_id, created_at DESC);
CREATE INDEX export_jobs_status_idx ON export_jobs (status, run_after);

CREATE TABLE export_events (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES export_jobs(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    user_id     INTEGER,
    detail      TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX export_events_job_idx ON export_events (job_id, id);
