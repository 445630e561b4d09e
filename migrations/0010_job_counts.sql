-- 0010_job_counts.sql - jobs by state without counting the jobs table. queue_stats (/metrics,
-- the dashboard) counted every row (GROUP BY state): 1,000,000 jobs cost a scan per poll.
-- Now statement-level triggers with transition tables append, per statement that changes
-- states, one row per state with the change (+n, -n) to job_count_deltas; nothing is updated
-- in place, so concurrent claims and completions never wait on a counter row. queue_stats
-- reads job_counts + job_count_deltas (a few rows) and folds the deltas into job_counts in the
-- same statement; queue_prune folds them too, so they stay few when nobody reads the figures.
-- The counts are transactional: they are exactly the committed rows' states.
-- And the dashboard's list of recent failures (GET /v1/jobs?state=failed, newest first) gets
-- an index of its own: without it, a history of 1,000,000 jobs whose failures are old is read
-- backwards in full (0.4 s). Only rows that fail enter it. (Running jobs have jobs_running.)

CREATE TABLE job_counts (
    state job_state PRIMARY KEY,
    n     bigint    NOT NULL
);
COMMENT ON TABLE job_counts IS 'jobs by state as of the last fold of job_count_deltas; the count is this plus the deltas';
COMMENT ON COLUMN job_counts.state IS 'the state counted (one row per job_state)';
COMMENT ON COLUMN job_counts.n IS 'jobs in this state as of the last fold';

CREATE TABLE job_count_deltas (
    state job_state NOT NULL,
    n     bigint    NOT NULL
);
ALTER TABLE job_count_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
COMMENT ON COLUMN job_count_deltas.state IS 'the state whose count changed';
COMMENT ON COLUMN job_count_deltas.n IS 'the change of its count made by one statement on jobs (negative: jobs left the state)';
COMMENT ON TABLE job_count_deltas IS 'changes of job_counts appended by the jobs triggers (one row per state and statement), folded and deleted by queue_stats and queue_prune; no index: only appended and emptied';

CREATE FUNCTION job_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (state, n) SELECT state, count(*) FROM job_counts_new GROUP BY state;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a statement that changes no state (progress, heartbeat, cancel request) writes nothing
    INSERT INTO job_count_deltas (state, n)
    SELECT state, sum(d) FROM (SELECT state, -1 AS d FROM job_counts_old
                               UNION ALL SELECT state, 1 FROM job_counts_new) x
    GROUP BY state HAVING sum(d) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (state, n) SELECT state, -count(*) FROM job_counts_old GROUP BY state;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_count_deltas;
    UPDATE job_counts SET n = 0;
    RETURN NULL;
END $$;

-- no writer may change jobs between the count below and the triggers
LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO job_counts (state, n)
SELECT s.state, coalesce(c.n, 0)
FROM unnest(enum_range(NULL::job_state)) AS s(state)
LEFT JOIN (SELECT state, count(*) AS n FROM jobs GROUP BY state) c USING (state);

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS job_counts_new
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_insert();
CREATE TRIGGER job_counts_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS job_counts_old NEW TABLE AS job_counts_new
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_update();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS job_counts_old
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_delete();
CREATE TRIGGER job_counts_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_counts_truncate();

CREATE INDEX jobs_failed ON jobs (id) WHERE state = 'failed';
COMMENT ON INDEX jobs_failed IS 'failed jobs newest first (the dashboard''s recent failures); only failed rows enter it';
