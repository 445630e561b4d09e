-- 0008_job_progress.sql - where a running job is: the step it reports (lib/pipeline's step hook,
-- lib/ingest's phases) as jobs.progress, shown by GET /v1/jobs/{id} and the job lists; and one
-- job event per step start, carrying the step and the measured duration of the step before it,
-- so that the events timeline shows every step with its duration. The worker writes progress
-- at most every 250 ms per job unless the step changes (one HOT update: no index covers it).

ALTER TABLE jobs ADD COLUMN progress jsonb;
COMMENT ON COLUMN jobs.progress IS 'last progress reported by the running attempt: {"step","index","nsteps","detail","attempt","updated_at"}; kept when the attempt ends (where it stopped), replaced by the next attempt''s first report';

ALTER TABLE job_events ADD COLUMN step jsonb;
COMMENT ON COLUMN job_events.step IS 'on a step event (state running): {"name","index","nsteps"} of the step that starts, and "previous": {"name","duration_ms"} of the step that ended (NULL name: the steps are over)';
