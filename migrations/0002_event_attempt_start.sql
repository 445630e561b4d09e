-- 0002_event_attempt_start.sql - the 'running' state of an attempt is recorded on the event that
-- ends the attempt (its start time in started_at) instead of a row written at claim time: one
-- event row per attempt instead of two on the hot path. queue_events() shows both.

ALTER TABLE job_events ADD COLUMN started_at timestamptz;
COMMENT ON COLUMN job_events.started_at IS 'on an event that ends an attempt (succeeded, failed, retrying, cancelled, released, rescued): when that attempt started; queue_events() shows it as a running event';
