-- 0004_jobs_hot_completion.sql - completions as HOT updates. PostgreSQL 15 makes an update HOT
-- (no new index entries, the new row version on the same page) only when no column that an
-- index uses, in its keys or its predicate, changes. A completion changes state, locked_by and
-- finished_at, and 0001's indexes all mentioned state or locked_by, so every completion wrote a
-- new primary-key entry (0 HOT updates of 100,000 in tests/bench/bench_queue.sh).
--   * jobs_fetch now selects rows by the generated column runnable (state IN queued, retrying):
--     a completion to a terminal state leaves it false, so the index does not see the update;
--     claims, retries and releases change it and stay ordinary updates.
--   * jobs_running is gone: it cost a btree insert per claim and served only statements that
--     run every few seconds (rescue of dead processes, lost claims), which now scan the table
--     (bounded by retention pruning). The completion finds its rows by primary key.
--   * the cancellation check of the heartbeat gets jobs_cancel, entered only by rows with a
--     pending cancellation; children counts use jobs_parent without the state column.
--   * fillfactor 70 leaves room on each page for the completed version of a claimed row.

ALTER TABLE jobs ADD COLUMN runnable boolean GENERATED ALWAYS AS (state IN ('queued', 'retrying')) STORED;
COMMENT ON COLUMN jobs.runnable IS 'state is queued or retrying (generated): the predicate of jobs_fetch, so completions to a terminal state are HOT updates';

DROP INDEX jobs_fetch;
CREATE INDEX jobs_fetch ON jobs (priority, run_at, id) WHERE runnable;
COMMENT ON INDEX jobs_fetch IS 'claim order (priority, run_at, id) over runnable rows only (queued, retrying), so the hot index stays small; its predicate is the generated column so that completions do not touch it';

DROP INDEX jobs_running;

CREATE INDEX jobs_cancel ON jobs (id) WHERE cancel_requested;
COMMENT ON INDEX jobs_cancel IS 'jobs whose cancellation was requested (only such rows enter it): the heartbeat''s check for running ones';

DROP INDEX jobs_parent;
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
COMMENT ON INDEX jobs_parent IS 'children of a job (counts by state read the rows); no state column, so completions of children stay HOT';

ALTER TABLE jobs SET (fillfactor = 70);
