-- 0005_jobs_running_index_back.sql - undoes 0004. Completions as HOT updates need that no
-- index can tell a running row from a finished one (a completion may change no indexed column),
-- so the rescue of dead processes' jobs and the requeue of lost claims, which run every few
-- seconds in every process, had to scan the whole table: 0.8 s per call at 200,000 rows on the
-- bench machine, against a gain of 0 to 5 us of server CPU per job (about 22 % of completions
-- became HOT; WAL per job -10 %). The indexes of 0001 come back unchanged.

DROP INDEX jobs_cancel;

DROP INDEX jobs_fetch;
CREATE INDEX jobs_fetch ON jobs (priority, run_at, id) WHERE state IN ('queued', 'retrying');
COMMENT ON INDEX jobs_fetch IS 'claim order (priority, run_at, id) over runnable rows only, so the hot index stays small';

CREATE INDEX jobs_running ON jobs (locked_by) WHERE state = 'running';
COMMENT ON INDEX jobs_running IS 'running jobs by owning process: heartbeat cancellation check and rescue';

DROP INDEX jobs_parent;
CREATE INDEX jobs_parent ON jobs (parent_id, state) WHERE parent_id IS NOT NULL;
COMMENT ON INDEX jobs_parent IS 'children of a job and their counts by state';

ALTER TABLE jobs DROP COLUMN runnable;
ALTER TABLE jobs SET (fillfactor = 90);
