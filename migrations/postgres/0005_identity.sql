-- Users who arrive from the host product carry its id for them (the token's `sub`).
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id_idx ON users (external_id);

-- Each sign-in token can be used once: its id is kept until it expires.
CREATE TABLE jwt_uses (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);

-- API tokens for machines: only a hash of the secret is kept.
CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_workspace_idx ON api_tokens (workspace_id);

-- `Idempotency-Key` of POST /api/exports: a retried request gets the first job.
CREATE TABLE idempotency_keys (
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    job_id        TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
