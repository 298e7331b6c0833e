-- Retention per workspace (hours a finished file stays downloadable; NULL: the
-- operator's default, never more than the operator's maximum), and single-use
-- downloads: when a job's file was handed out (Unix seconds).
ALTER TABLE workspaces ADD COLUMN retention_hours DOUBLE PRECISION;
ALTER TABLE export_jobs ADD COLUMN handed_out_at BIGINT;
