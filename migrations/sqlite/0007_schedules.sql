-- Saved exports that run on a schedule. The export's request (dataset, format, filters,
-- columns, options) is kept as the API takes it; `cadence` is its JSON form
-- (`schedules::Cadence`), read in `time_zone`. `next_run_at` is the due time a scheduler
-- fires: it moves forward in the same transaction that creates the run's job, fenced on
-- its old value, so each due time fires once however many nodes tick. Times are Unix
-- seconds.
CREATE TABLE schedules (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    request      TEXT NOT NULL,
    cadence      TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    paused       INTEGER NOT NULL DEFAULT 0,
    next_run_at  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE paused = 0 AND deleted_at IS NULL;
CREATE INDEX schedules_workspace_idx ON schedules (workspace_id);

-- What each due time (or "run now") did: started a job, or was skipped and why.
CREATE TABLE schedule_runs (
    id          INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    due_at      INTEGER NOT NULL,
    job_id      TEXT REFERENCES export_jobs(id) ON DELETE SET NULL,
    outcome     TEXT NOT NULL,
    note        TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX schedule_runs_schedule_idx ON schedule_runs (schedule_id, id);
CREATE INDEX schedule_runs_job_idx ON schedule_runs (job_id);
