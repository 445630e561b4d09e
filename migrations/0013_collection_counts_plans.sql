-- 0013_collection_counts_plans.sql - the collection_files triggers of 0012 plan their update of
-- collection_obs.pending_n at each call (EXECUTE) instead of once per connection. PL/pgSQL
-- keeps one generic plan of a statement without parameters for the life of the connection;
-- made while collection_obs was empty (a new database, or after its observations settled and
-- a vacuum found it empty) it walked the whole table for each row of a batch once the table
-- had grown within a run: 1,000-entry batches took minutes at 60,000 observations. Planned at
-- each call, the plan sees the table's current size and the batch's exact row count.
-- (The counts of collection_counts need no join and keep their cached plans.)

CREATE OR REPLACE FUNCTION collection_files_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, outcome, count(*) FROM cf_new GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    EXECUTE 'UPDATE collection_obs o SET pending_n = o.pending_n + x.d'
         ' FROM (SELECT collection, obs_id, count(*) AS d FROM cf_new'
         '  WHERE outcome = ''pending'' AND obs_id IS NOT NULL GROUP BY 1, 2) x'
         ' WHERE o.collection = x.collection AND o.obs_id = x.obs_id';
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_files_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, outcome, sum(d) FROM
        (SELECT collection, outcome, -1 AS d FROM cf_old
         UNION ALL SELECT collection, outcome, 1 FROM cf_new) x
    GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    EXECUTE 'UPDATE collection_obs o SET pending_n = o.pending_n + x.d'
         ' FROM (SELECT collection, obs_id, sum(d) AS d FROM'
         '  (SELECT collection, obs_id, -1 AS d FROM cf_old WHERE outcome = ''pending'''
         '   UNION ALL SELECT collection, obs_id, 1 FROM cf_new WHERE outcome = ''pending'') y'
         '  WHERE obs_id IS NOT NULL GROUP BY 1, 2 HAVING sum(d) <> 0) x'
         ' WHERE o.collection = x.collection AND o.obs_id = x.obs_id';
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION collection_files_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO collection_counts AS c (collection, outcome, n)
    SELECT collection, outcome, -count(*) FROM cf_old GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (collection, outcome) DO UPDATE SET n = c.n + EXCLUDED.n;
    EXECUTE 'UPDATE collection_obs o SET pending_n = o.pending_n - x.d'
         ' FROM (SELECT collection, obs_id, count(*) AS d FROM cf_old'
         '  WHERE outcome = ''pending'' AND obs_id IS NOT NULL GROUP BY 1, 2) x'
         ' WHERE o.collection = x.collection AND o.obs_id = x.obs_id';
    RETURN NULL;
END $$;
