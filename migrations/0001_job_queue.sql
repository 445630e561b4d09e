-- 0001_job_queue.sql - the job queue: jobs, their events, idempotency keys and the heartbeat
-- rows of worker processes. Applied by db_migrate() in one transaction (lib/db).

CREATE TYPE job_state AS ENUM ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled');
COMMENT ON TYPE job_state IS 'lifecycle of a job: queued -> running -> succeeded | retrying (-> running ...) | failed; queued/retrying/running -> cancelled';

CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    state            job_state   NOT NULL DEFAULT 'queued',
    priority         smallint    NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at           timestamptz NOT NULL DEFAULT now(),
    queue            text        NOT NULL DEFAULT 'default' CHECK (length(queue) BETWEEN 1 AND 64),
    kind             text        NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    locked_by        uuid,
    cancel_requested boolean     NOT NULL DEFAULT false,
    parent_id        uuid        REFERENCES jobs (id) ON DELETE SET NULL,
    error_code       text,
    error_message    text,
    params           jsonb       NOT NULL DEFAULT '{}',
    result           jsonb,
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
ALTER TABLE jobs SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0,
                      autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
COMMENT ON TABLE jobs IS 'one row per job; finished rows are pruned after the retention period (queue_prune)';
COMMENT ON COLUMN jobs.id IS 'time-ordered UUID (version 7 layout) made by the enqueuing process; keyset order of listings';
COMMENT ON COLUMN jobs.state IS 'current state; only queued/retrying rows with run_at <= now() can be claimed';
COMMENT ON COLUMN jobs.priority IS '0 runs first, 9 last; default 5';
COMMENT ON COLUMN jobs.attempts IS 'attempts started so far (incremented at claim; not charged when a draining process releases the job)';
COMMENT ON COLUMN jobs.max_attempts IS 'after this many failed attempts the job ends failed';
COMMENT ON COLUMN jobs.run_at IS 'earliest start: the requested time, or the end of the retry backoff';
COMMENT ON COLUMN jobs.queue IS 'queue name chosen by the client (informational grouping and filter)';
COMMENT ON COLUMN jobs.kind IS 'job kind: noop, dataset, ingest, collection';
COMMENT ON COLUMN jobs.created_at IS 'when the job was enqueued';
COMMENT ON COLUMN jobs.started_at IS 'start of the latest attempt';
COMMENT ON COLUMN jobs.finished_at IS 'when the job reached a terminal state; set iff terminal';
COMMENT ON COLUMN jobs.locked_by IS 'boot UUID of the process running the job (queue_processes.id) while running';
COMMENT ON COLUMN jobs.cancel_requested IS 'cancellation asked while running; the worker stops cooperatively';
COMMENT ON COLUMN jobs.parent_id IS 'job that fanned this one out (collection jobs), or null';
COMMENT ON COLUMN jobs.error_code IS 'stable code of the last failure, or null';
COMMENT ON COLUMN jobs.error_message IS 'message of the last failure, or null';
COMMENT ON COLUMN jobs.params IS 'kind-specific parameters given at enqueue';
COMMENT ON COLUMN jobs.result IS 'kind-specific result of the successful attempt, or null';

CREATE INDEX jobs_fetch ON jobs (priority, run_at, id) WHERE state IN ('queued', 'retrying');
COMMENT ON INDEX jobs_fetch IS 'claim order (priority, run_at, id) over runnable rows only, so the hot index stays small';
CREATE INDEX jobs_running ON jobs (locked_by) WHERE state = 'running';
COMMENT ON INDEX jobs_running IS 'running jobs by owning process: heartbeat cancellation check and rescue';
CREATE INDEX jobs_parent ON jobs (parent_id, state) WHERE parent_id IS NOT NULL;
COMMENT ON INDEX jobs_parent IS 'children of a job and their counts by state';

CREATE TABLE job_events (
    seq     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  uuid        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    state   job_state   NOT NULL,
    attempt integer     NOT NULL,
    message text
);
COMMENT ON TABLE job_events IS 'every state change of every job (append-only; pruned with the job)';
COMMENT ON COLUMN job_events.seq IS 'global order of events';
COMMENT ON COLUMN job_events.job_id IS 'the job (no foreign key: events are written in bulk and pruned with their job)';
COMMENT ON COLUMN job_events.at IS 'when the change happened';
COMMENT ON COLUMN job_events.state IS 'state entered';
COMMENT ON COLUMN job_events.attempt IS 'attempt number at the change';
COMMENT ON COLUMN job_events.message IS 'why: error message, rescue reason, release, cancellation';
CREATE INDEX job_events_job ON job_events (job_id, seq);
COMMENT ON INDEX job_events_job IS 'events of one job in order';

CREATE TABLE idempotency_keys (
    key          text        PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text        NOT NULL,
    job_ids      uuid[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE idempotency_keys IS 'Idempotency-Key of POST /v1/jobs: the request it stood for and the jobs it created';
COMMENT ON COLUMN idempotency_keys.key IS 'the client''s key';
COMMENT ON COLUMN idempotency_keys.request_hash IS 'md5 of the canonical JSON of the request body; another body with the same key is refused';
COMMENT ON COLUMN idempotency_keys.job_ids IS 'jobs created by the request, in request order';
COMMENT ON COLUMN idempotency_keys.created_at IS 'first use; pruned after the retention of finished jobs';

CREATE UNLOGGED TABLE queue_processes (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE queue_processes IS 'live worker processes (UNLOGGED: liveness data, emptied by a crash; processes re-register on their next heartbeat)';
COMMENT ON COLUMN queue_processes.id IS 'boot UUID, new at every process start (a restarted pod with the same name is a new process)';
COMMENT ON COLUMN queue_processes.name IS 'host or pod name, for people';
COMMENT ON COLUMN queue_processes.started_at IS 'first registration of this process';
COMMENT ON COLUMN queue_processes.heartbeat_at IS 'last heartbeat; older than the lease means dead, and its running jobs are rescued';
