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
    collection text        NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    uri        text        NOT NULL,
    size       bigint,
    mtime_ns   bigint,
    etag       text,
    obs_id     text,
    product_id text,
    dataset    text,
    outcome    text        NOT NULL
               CHECK (outcome IN ('pending', 'queued', 'succeeded', 'failed', 'rejected', 'cancelled')),
    reason     text,
    def_hash   text        NOT NULL,
    run_id     uuid,
    child_id   uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, uri)
);
COMMENT ON TABLE collection_files IS 'what a collection''s runs made of each source entry: its signature (size, change time, ETag), its observation and plane, the last outcome';
COMMENT ON COLUMN collection_files.outcome IS 'pending: new or changed, no child yet; queued: its child runs; then the child''s end, or rejected (rule or a reject text)';

CREATE INDEX collection_files_pending ON collection_files (collection, obs_id) WHERE outcome = 'pending';
CREATE INDEX collection_files_obs ON collection_files (collection, obs_id);
CREATE INDEX collection_files_child ON collection_files (child_id) WHERE child_id IS NOT NULL;
CREATE INDEX collection_files_outcome ON collection_files (collection, outcome, uri);
