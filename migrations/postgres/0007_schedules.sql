-- Saved exports that run on a schedule. The export's request (dataset, format, filters,
-- columns, options) is kept as the API takes it; `cadence` is its JSON form
-- (`schedules::Cadence`), read in `time_zone`. `next_run_at` is the due time a scheduler
-- fires: it moves forward in the same transaction that creates the run's job, fenced on
-- its old value, so each due time fires once however many nodes tick. Times are Unix
-- seconds.
CREATE TABLE schedules (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    request      TEXT NOT NULL,
    cadence      TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    paused       BOOLEAN NOT NULL DEFAULT FALSE,
    next_run_at  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE paused = FALSE AND deleted_at IS NULL;
CREATE INDEX schedules_workspace_idx ON schedules (workspace_id);

-- What each due time (or "run now") did: started a job, or was skipped and why.
CREATE TABLE schedule_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id BIGINT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    due_at      BIGINT NOT NULL,
    job_id      UUID REFERENCES export_jobs(id) ON DELETE SET NULL,
    outcome     TEXT NOT NULL,
    note        TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX schedule_runs_schedule_idx ON schedule_runs (schedule_id, id);
CREATE INDEX schedule_runs_job_idx ON schedule_runs (job_id);
