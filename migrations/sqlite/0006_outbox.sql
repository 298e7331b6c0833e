-- Side effects of a job's transitions (emails, webhook calls) are rows written in the
-- same transaction as the transition; a sender claims due rows, sends them, and records
-- every attempt. Times are Unix seconds.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    job_id          TEXT REFERENCES export_jobs(id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    delivered_at    INTEGER,
    given_up_at     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX outbox_target_idx ON outbox (channel, target, id);

CREATE TABLE outbox_attempts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX outbox_attempts_idx ON outbox_attempts (outbox_id, id);

CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  INTEGER,
    created_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    deleted_at      INTEGER
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id);

INSERT INTO outbox (channel, event, workspace_id, job_id, target, payload, attempts, next_attempt_at, created_at)
SELECT 'email', 'export.completed', j.workspace_id, j.id, u.email, '{}', j.email_attempts,
       CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)
FROM export_jobs j JOIN users u ON u.id = j.user_id
WHERE j.status = 'completed' AND j.email_sent_at IS NULL AND j.email_attempts < 10 AND j.deleted_at IS NULL;
ALTER TABLE export_jobs DROP COLUMN email_sent_at;
ALTER TABLE export_jobs DROP COLUMN email_attempts;
ALTER TABLE export_jobs DROP COLUMN email_claimed_until;
