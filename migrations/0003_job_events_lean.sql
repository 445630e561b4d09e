-- 0003_job_events_lean.sql - job_events is an append-only log read only per job (index
-- job_events_job) and deleted per job: its primary key index on seq served no query and cost an
-- index insert per event on the hot path. seq stays (identity: unique and ordered by itself).

ALTER TABLE job_events DROP CONSTRAINT job_events_pkey;
COMMENT ON COLUMN job_events.seq IS 'global order of events (identity; no index of its own: events are read per job through job_events_job)';
