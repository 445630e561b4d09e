-- 0009_collections.sql - collection harvests (issue 10): the definitions (from the API or from
-- YAML files under the config directory), one row per run of a `collection` job with its
-- counts, and the file-state table that tells new and changed source entries from those seen
-- before. lib/harvest owns every statement on these tables.

CREATE TABLE collections (
    name        text        PRIMARY KEY,
    definition  jsonb       NOT NULL,
    def_hash    text        NOT NULL,
    origin      text        NOT NULL CHECK (origin IN ('api', 'file')),
    schedule_s  bigint      CHECK (schedule_s > 0),
    next_run_at timestamptz,
    bookmark_ns bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE collections IS 'collection definitions as given (lib/collection parses them), one per name';
COMMENT ON COLUMN collections.def_hash IS 'md5 of the canonical definition: entries rejected under another definition are looked at again';
COMMENT ON COLUMN collections.next_run_at IS 'the next schedule slot; the replica that locks the row first enqueues it and moves it past now';
COMMENT ON COLUMN collections.bookmark_ns IS 'newest source change time (ns since the epoch) of a listing handled to its end; older entries are not compared again';

CREATE INDEX collections_due ON collections (next_run_at) WHERE schedule_s IS NOT NULL;

CREATE TABLE collection_runs (
    job_id      uuid        PRIMARY KEY,
    collection  text        NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    slot        timestamptz,
    trigger     text        NOT NULL CHECK (trigger IN ('manual', 'schedule', 'retry', 'todo')),
    listed      bigint      NOT NULL DEFAULT 0,
    new         bigint      NOT NULL DEFAULT 0,
    changed     bigint      NOT NULL DEFAULT 0,
    skipped     bigint      NOT NULL DEFAULT 0,
    rejected    bigint      NOT NULL DEFAULT 0,
    children    bigint      NOT NULL DEFAULT 0,
    phase       text        NOT NULL DEFAULT 'queued'
                CHECK (phase IN ('queued', 'listing', 'fanout', 'waiting', 'done', 'failed')),
    report      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (collection, slot)
);
COMMENT ON TABLE collection_runs IS 'one row per collection job; (collection, slot) unique: a schedule slot runs once however many replicas tick';
CREATE INDEX collection_runs_recent ON collection_runs (collection, created_at DESC);

CREATE TABLE collection_files (
    collection text        NOT NULL,
    uri        text        NOT NULL,
    size       bigint,
    mtime_ns   bigint,
    etag       text,
    obs_id     text,
    product_id text,
    dataset    text,
    outcome    text        NOT NULL
               CHECK (outcome IN ('pending', 'succeeded', 'failed', 'rejected', 'cancelled')),
    reason     text,
    def_hash   text        NOT NULL,
    run_id     uuid,
    child_id   uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, uri)
);
COMMENT ON TABLE collection_files IS 'what a collection''s runs made of each source entry: its signature (size, change time, ETag), its observation and plane, the last outcome';
COMMENT ON COLUMN collection_files.outcome IS 'pending: new or changed, its observation''s child not ended (collection_obs says whether it has one: the API shows queued then); then the child''s end, or rejected (rule or a reject text)';

CREATE INDEX collection_files_obs ON collection_files (collection, obs_id);
CREATE INDEX collection_files_failing ON collection_files (collection, outcome, uri)
    WHERE outcome IN ('failed', 'rejected');
COMMENT ON INDEX collection_files_failing IS 'the failing entries an operator pages through; partial, so the outcome changes of a fan-out do not maintain it';
CREATE INDEX collection_files_run ON collection_files (run_id, outcome) WHERE run_id IS NOT NULL;

CREATE TABLE collection_obs (
    collection text        NOT NULL,
    obs_id     text        NOT NULL,
    state      text        NOT NULL CHECK (state IN ('pending', 'queued')),
    run_id     uuid        NOT NULL,
    child_id   uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, obs_id)
);
COMMENT ON TABLE collection_obs IS 'observations with new or changed entries whose child has not ended: pending (no child yet) or queued (its child enqueued); the row goes when the child''s end is written to the entries. One narrow row per observation, so a fan-out updates it rather than every entry';
COMMENT ON COLUMN collection_obs.collection IS 'the collection';
COMMENT ON COLUMN collection_obs.obs_id IS 'the observation (the rule''s obs_id group)';
COMMENT ON COLUMN collection_obs.state IS 'pending: no child yet; queued: child_id enqueued';
COMMENT ON COLUMN collection_obs.run_id IS 'the run that recorded it pending, then the run that fanned it out';
COMMENT ON COLUMN collection_obs.child_id IS 'the child job, once queued';
COMMENT ON COLUMN collection_obs.updated_at IS 'last change of this row';
CREATE INDEX collection_obs_pending ON collection_obs (collection, obs_id) WHERE state = 'pending';
CREATE INDEX collection_obs_run ON collection_obs (run_id) WHERE state = 'queued';

COMMENT ON COLUMN collections.name IS 'collection name ([A-Za-z0-9._-], 1..64)';
COMMENT ON COLUMN collections.definition IS 'the definition as given (JSON; YAML files are stored converted)';
COMMENT ON COLUMN collections.origin IS 'api: PUT /v1/collections/{name}; file: collections/NAME.yaml of the config directory (the API may not replace it)';
COMMENT ON COLUMN collections.schedule_s IS 'period of the schedule in seconds, null when the collection is not scheduled';
COMMENT ON COLUMN collections.created_at IS 'when the name was first defined';
COMMENT ON COLUMN collections.updated_at IS 'when the definition last changed';
COMMENT ON COLUMN collection_runs.job_id IS 'the collection job (no foreign key: finished jobs are pruned, the run stays)';
COMMENT ON COLUMN collection_runs.collection IS 'the collection run';
COMMENT ON COLUMN collection_runs.slot IS 'the schedule slot this run is, null for runs asked for';
COMMENT ON COLUMN collection_runs.trigger IS 'manual (POST .../run or /v1/jobs), schedule, retry (POST .../retry), todo (an explicit list)';
COMMENT ON COLUMN collection_runs.listed IS 'source entries listed';
COMMENT ON COLUMN collection_runs.new IS 'entries never seen before, fanned out';
COMMENT ON COLUMN collection_runs.changed IS 'entries whose size, change time or ETag changed, fanned out';
COMMENT ON COLUMN collection_runs.skipped IS 'entries unchanged, or covered by the bookmark';
COMMENT ON COLUMN collection_runs.rejected IS 'entries whose name the rule or the include globs refused';
COMMENT ON COLUMN collection_runs.children IS 'child jobs enqueued (one per observation)';
COMMENT ON COLUMN collection_runs.phase IS 'listing, fanout, waiting (for the children), done, failed';
COMMENT ON COLUMN collection_runs.report IS 'the runs report (counts by outcome) once done';
COMMENT ON COLUMN collection_runs.created_at IS 'when the run was enqueued';
COMMENT ON COLUMN collection_runs.finished_at IS 'when the report was written';
COMMENT ON COLUMN collection_files.collection IS 'the collection the entry belongs to (no foreign key: its check per row was a tenth of a listing''s cost; lib/harvest deletes a collection''s rows with it)';
COMMENT ON COLUMN collection_files.uri IS 'the entrys storage URI';
COMMENT ON COLUMN collection_files.size IS 'bytes, null when the source does not say (http lists)';
COMMENT ON COLUMN collection_files.mtime_ns IS 'change time in ns since the epoch (file: max of mtime and ctime; s3: LastModified)';
COMMENT ON COLUMN collection_files.etag IS 'S3 ETag without quotes, or null';
COMMENT ON COLUMN collection_files.obs_id IS 'observation ID from the rules obs_id group';
COMMENT ON COLUMN collection_files.product_id IS 'plane product ID from the rules product_id group, or null';
COMMENT ON COLUMN collection_files.dataset IS 'dataset name from the rules dataset group, or null';
COMMENT ON COLUMN collection_files.reason IS 'why it was rejected or failed (first line of the childs error)';
COMMENT ON COLUMN collection_files.def_hash IS 'definition hash the outcome was decided under';
COMMENT ON COLUMN collection_files.run_id IS 'the collection job that last recorded or fanned out the entry';
COMMENT ON COLUMN collection_files.child_id IS 'the child job whose end is the entry''s outcome';
COMMENT ON COLUMN collection_files.updated_at IS 'last change of this row';
