-- A workspace's own S3-compatible buckets that exports are delivered to. The
-- credentials are sealed (AES-256-GCM under the operator's --secrets-key) and bound to
-- the workspace; `key_hint` is the access key's last characters, to tell keys apart.
-- `prefix` is a template (`{dataset}/{date}/`). Times are Unix seconds.
CREATE TABLE destinations (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    endpoint     TEXT,
    bucket       TEXT NOT NULL,
    region       TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    credentials  TEXT NOT NULL,
    key_hint     TEXT NOT NULL,
    sse          TEXT NOT NULL,
    kms_key_id   TEXT,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE INDEX destinations_workspace_idx ON destinations (workspace_id);

-- The moment a completed file's data is as of (the read's snapshot), for manifests.
ALTER TABLE export_jobs ADD COLUMN snapshot_at TEXT;
