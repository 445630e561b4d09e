-- 0012_collection_counts.sql - a collection's entries by outcome without counting them.
-- GET /v1/collections/{name} counted every entry of the collection (count(*) FILTER over
-- collection_files, and a join for the queued ones) on each call: a dashboard polling a
-- 1,000,000-entry collection scanned it each time. Now statement-level triggers with
-- transition tables keep collection_counts, one row per collection and outcome, as the
-- entries change: exact and transactional (the committed rows' outcomes), one aggregate per
-- statement. The writers of one collection's entries hold its advisory lock (lib/harvest), so
-- the counter rows are updated in place without contention between collections.
-- "queued" (pending entries whose observation's child is enqueued) needs each observation's
-- number of pending entries: collection_obs.pending_n, kept by the same triggers, so that an
-- observation marked queued (or settled, or pending again) moves its entries in one row.

ALTER TABLE collection_obs ADD COLUMN pending_n bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN collection_obs.pending_n IS 'entries of this observation whose outcome is pending (set by the statement that inserts the row, then kept by the collection_files triggers): they count as queued while the row is queued';

CREATE TABLE collection_counts (
    collection text   NOT NULL,
    outcome    text   NOT NULL
               CHECK (outcome IN ('pending', 'queued', 'succeeded', 'failed', 'rejected',
                                  'cancelled')),
    n          bigint NOT NULL,
    PRIMARY KEY (collection, outcome)
);
COMMENT ON TABLE collection_counts IS 'entries of collection_files by collection and outcome, kept by triggers (GET /v1/collections/{name} reads these instead of counting); queued is the part of pending whose observation is queued';
COMMENT ON COLUMN collection_counts.collection IS 'the collection';
COMMENT ON COLUMN collection_counts.outcome IS 'an outcome of collection_files, or queued (pending entries of queued observations, included in pending)';
COMMENT ON COLUMN collection_counts.n IS 'entries with this outcome';

-- the entries: outcome counts, and the pending entries of each observation
CREATE FUNCTION collection_files_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, outcome, count(*) FROM cf_new GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    UPDATE collection_obs o SET pending_n = o.pending_n + x.d
    FROM (SELECT collection, obs_id, count(*) AS d FROM cf_new
          WHERE outcome = 'pending' AND obs_id IS NOT NULL GROUP BY 1, 2) x
    WHERE o.collection = x.collection AND o.obs_id = x.obs_id;
    RETURN NULL;
END $$;

CREATE FUNCTION collection_files_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, outcome, sum(d) FROM
        (SELECT collection, outcome, -1 AS d FROM cf_old
         UNION ALL SELECT collection, outcome, 1 FROM cf_new) x
    GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    UPDATE collection_obs o SET pending_n = o.pending_n + x.d
    FROM (SELECT collection, obs_id, sum(d) AS d FROM
              (SELECT collection, obs_id, -1 AS d FROM cf_old WHERE outcome = 'pending'
               UNION ALL SELECT collection, obs_id, 1 FROM cf_new WHERE outcome = 'pending') y
          WHERE obs_id IS NOT NULL GROUP BY 1, 2 HAVING sum(d) <> 0) x
    WHERE o.collection = x.collection AND o.obs_id = x.obs_id;
    RETURN NULL;
END $$;

CREATE FUNCTION collection_files_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, outcome, -count(*) FROM cf_old GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    UPDATE collection_obs o SET pending_n = o.pending_n - x.d
    FROM (SELECT collection, obs_id, count(*) AS d FROM cf_old
          WHERE outcome = 'pending' AND obs_id IS NOT NULL GROUP BY 1, 2) x
    WHERE o.collection = x.collection AND o.obs_id = x.obs_id;
    RETURN NULL;
END $$;

-- the observations: a row entering or leaving queued moves its pending_n. The statements that
-- insert rows set pending_n from the entries they see (lib/harvest: the entries' upsert is an
-- earlier statement, or a data-modifying WITH whose changes the files trigger adds after)
CREATE FUNCTION collection_obs_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, 'queued', sum(pending_n) FROM co_new WHERE state = 'queued'
    GROUP BY 1 HAVING sum(pending_n) <> 0 ORDER BY 1
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION collection_obs_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, 'queued', sum(d) FROM
        (SELECT collection, -pending_n AS d FROM co_old WHERE state = 'queued'
         UNION ALL SELECT collection, pending_n FROM co_new WHERE state = 'queued') x
    GROUP BY 1 HAVING sum(d) <> 0 ORDER BY 1
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION collection_obs_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, 'queued', -sum(pending_n) FROM co_old WHERE state = 'queued'
    GROUP BY 1 HAVING sum(pending_n) <> 0 ORDER BY 1
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- no writer may change the entries or the observations between the counts below and the
-- triggers
LOCK TABLE collection_files, collection_obs IN SHARE ROW EXCLUSIVE MODE;

UPDATE collection_obs o SET pending_n = x.n
FROM (SELECT collection, obs_id, count(*) AS n FROM collection_files
      WHERE outcome = 'pending' AND obs_id IS NOT NULL GROUP BY 1, 2) x
WHERE o.collection = x.collection AND o.obs_id = x.obs_id;

INSERT INTO collection_counts (collection, outcome, n)
SELECT collection, outcome, count(*) FROM collection_files GROUP BY 1, 2;
INSERT INTO collection_counts (collection, outcome, n)
SELECT collection, 'queued', sum(pending_n) FROM collection_obs WHERE state = 'queued'
GROUP BY 1 HAVING sum(pending_n) <> 0;

CREATE TRIGGER collection_files_counts_insert AFTER INSERT ON collection_files
    REFERENCING NEW TABLE AS cf_new
    FOR EACH STATEMENT EXECUTE FUNCTION collection_files_counts_insert();
CREATE TRIGGER collection_files_counts_update AFTER UPDATE ON collection_files
    REFERENCING OLD TABLE AS cf_old NEW TABLE AS cf_new
    FOR EACH STATEMENT EXECUTE FUNCTION collection_files_counts_update();
CREATE TRIGGER collection_files_counts_delete AFTER DELETE ON collection_files
    REFERENCING OLD TABLE AS cf_old
    FOR EACH STATEMENT EXECUTE FUNCTION collection_files_counts_delete();
CREATE TRIGGER collection_obs_counts_insert AFTER INSERT ON collection_obs
    REFERENCING NEW TABLE AS co_new
    FOR EACH STATEMENT EXECUTE FUNCTION collection_obs_counts_insert();
CREATE TRIGGER collection_obs_counts_update AFTER UPDATE ON collection_obs
    REFERENCING OLD TABLE AS co_old NEW TABLE AS co_new
    FOR EACH STATEMENT EXECUTE FUNCTION collection_obs_counts_update();
CREATE TRIGGER collection_obs_counts_delete AFTER DELETE ON collection_obs
    REFERENCING OLD TABLE AS co_old
    FOR EACH STATEMENT EXECUTE FUNCTION collection_obs_counts_delete();
