-- Incremental schedules: each run exports only the rows changed since the previous
-- completed run. `increments` keeps, per completed run, where the next one starts: the
-- run's snapshot time and the rows it saw near it (JSON), written in the transaction
-- that completes the run's job.
ALTER TABLE schedules ADD COLUMN incremental INTEGER NOT NULL DEFAULT 0;

CREATE TABLE increments (
    job_id      TEXT PRIMARY KEY REFERENCES export_jobs(id) ON DELETE CASCADE,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX increments_schedule_idx ON increments (schedule_id, created_at);
