-- Incremental schedules: each run exports only the rows changed since the previous
-- completed run. `increments` keeps, per completed run, where the next one starts: the
-- run's snapshot time and the rows it saw near it (JSON), written in the transaction
-- that completes the run's job.
ALTER TABLE schedules ADD COLUMN incremental BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE increments (
    job_id      UUID PRIMARY KEY REFERENCES export_jobs(id) ON DELETE CASCADE,
    schedule_id BIGINT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX increments_schedule_idx ON increments (schedule_id, created_at);
