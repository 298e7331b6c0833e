-- Export jobs are a durable queue: a worker claims a runnable row, holds it with a lease
-- that a heartbeat extends, and fences every later write on (id, attempts).
CREATE TABLE export_jobs (
    id               UUID PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id          BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    entity_type      TEXT NOT NULL,
    format           TEXT NOT NULL,
    filters          JSONB NOT NULL,
    options          JSONB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'expired')),
    total_rows       BIGINT,
    processed_rows   BIGINT NOT NULL DEFAULT 0,
    bytes            BIGINT,
    s3_bucket        TEXT,
    s3_key           TEXT,
    upload_id        TEXT,
    content_type     TEXT,
    file_name        TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    run_after        TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until      TIMESTAMPTZ,
    locked_by        TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    error_message    TEXT,
    email_sent_at    TIMESTAMPTZ,
    email_attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at       TIMESTAMPTZ,
    started_at       TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX export_jobs_workspace_idx ON export_jobs (workspace_id, created_at DESC);
CREATE INDEX export_jobs_runnable_idx ON export_jobs (run_after) WHERE status = 'pending';
CREATE INDEX export_jobs_leased_idx ON export_jobs (lease_until) WHERE status = 'processing';

CREATE TABLE export_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      UUID NOT NULL REFERENCES export_jobs(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    user_id     BIGINT,
    detail      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX export_events_job_idx ON export_events (job_id, id);
