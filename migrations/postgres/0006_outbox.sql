-- Side effects of a job's transitions (emails, webhook calls) are rows written in the
-- same transaction as the transition; any node claims due rows (FOR UPDATE SKIP LOCKED),
-- sends them, and records every attempt. Times are Unix seconds.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    job_id          UUID REFERENCES export_jobs(id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    delivered_at    BIGINT,
    given_up_at     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX outbox_target_idx ON outbox (channel, target, id);

CREATE TABLE outbox_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   BIGINT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    status_code INTEGER,
    latency_ms  BIGINT NOT NULL,
    error       TEXT
);
CREATE INDEX outbox_attempts_idx ON outbox_attempts (outbox_id, id);

-- A workspace's webhook endpoints. The secret signs deliveries; after a rotation the
-- previous one signs too until `previous_until`, so receivers can switch without a gap.
CREATE TABLE webhook_endpoints (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  BIGINT,
    created_by      BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at      BIGINT NOT NULL,
    deleted_at      BIGINT
);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id);

-- Emails not sent yet move to the outbox; the job's own email columns go.
INSERT INTO outbox (channel, event, workspace_id, job_id, target, payload, attempts, next_attempt_at, created_at)
SELECT 'email', 'export.completed', j.workspace_id, j.id, u.email, '{}', j.email_attempts,
       extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint
FROM export_jobs j JOIN users u ON u.id = j.user_id
WHERE j.status = 'completed' AND j.email_sent_at IS NULL AND j.email_attempts < 10 AND j.deleted_at IS NULL;
ALTER TABLE export_jobs DROP COLUMN email_sent_at, DROP COLUMN email_attempts, DROP COLUMN email_claimed_until;
