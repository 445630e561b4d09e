-- 0006_caom_repository.sql - the built-in CAOM repository (torkeep semantics, lib/repo):
-- observations with their served document, the entities below them (planes, artifacts,
-- parts, chunks) with their own checksums and timestamps, and deletion records.

CREATE TABLE caom_observations (
    id                uuid        PRIMARY KEY,
    collection        text        NOT NULL CHECK (length(collection) BETWEEN 1 AND 128),
    observation_id    text        NOT NULL CHECK (length(observation_id) BETWEEN 1 AND 256),
    derived           boolean     NOT NULL,
    meta_checksum     text        NOT NULL,
    acc_meta_checksum text        NOT NULL,
    last_modified     timestamptz NOT NULL,
    max_last_modified timestamptz NOT NULL,
    doc               text        NOT NULL,
    CONSTRAINT caom_observations_uri UNIQUE (collection, observation_id)
);
ALTER TABLE caom_observations ALTER COLUMN doc SET STORAGE EXTERNAL;
COMMENT ON TABLE caom_observations IS 'one row per stored CAOM observation (caom:collection/observationID)';
COMMENT ON COLUMN caom_observations.id IS 'the observation UUID (caom2:id); torkeep decides existence by it';
COMMENT ON COLUMN caom_observations.collection IS 'the collection of the observation URI caom:collection/observationID';
COMMENT ON COLUMN caom_observations.observation_id IS 'the observationID of the observation URI';
COMMENT ON COLUMN caom_observations.derived IS 'DerivedObservation (true) or SimpleObservation (false)';
COMMENT ON COLUMN caom_observations.meta_checksum IS 'md5:<hex> of the observation''s own state, computed by the server';
COMMENT ON COLUMN caom_observations.acc_meta_checksum IS 'md5:<hex> over the whole tree: the ETag and the If-Match value';
COMMENT ON COLUMN caom_observations.last_modified IS 'when the observation''s own metaChecksum last changed (database clock, ms)';
COMMENT ON COLUMN caom_observations.max_last_modified IS 'latest lastModified in the tree: the order and filter of lists';
COMMENT ON COLUMN caom_observations.doc IS 'the CAOM-2.4 document served by GET, written once per change (byte-stable)';

CREATE INDEX caom_observations_list ON caom_observations (collection, max_last_modified, observation_id)
    INCLUDE (acc_meta_checksum);
COMMENT ON INDEX caom_observations_list IS 'list pages by collection ordered by maxLastModified, an index-only scan';

CREATE TABLE caom_entities (
    id                uuid        PRIMARY KEY,
    observation       uuid        NOT NULL,
    parent            uuid        NOT NULL,
    level             smallint    NOT NULL CHECK (level BETWEEN 1 AND 4),
    name              text        NOT NULL,
    meta_checksum     text        NOT NULL,
    acc_meta_checksum text        NOT NULL,
    last_modified     timestamptz NOT NULL,
    max_last_modified timestamptz NOT NULL
);
COMMENT ON TABLE caom_entities IS 'planes (1), artifacts (2), parts (3) and chunks (4) of stored observations; their UUIDs are unique across the repository';
COMMENT ON COLUMN caom_entities.id IS 'the entity UUID (caom2:id), unique across the repository';
COMMENT ON COLUMN caom_entities.level IS '1 plane, 2 artifact, 3 part, 4 chunk';
COMMENT ON COLUMN caom_entities.meta_checksum IS 'md5:<hex> of the entity''s own state, computed by the server';
COMMENT ON COLUMN caom_entities.acc_meta_checksum IS 'md5:<hex> over the entity and its children';
COMMENT ON COLUMN caom_entities.max_last_modified IS 'when this entity''s accMetaChecksum last changed (its subtree''s latest change)';
COMMENT ON COLUMN caom_entities.observation IS 'the owning observation (no foreign key: a per-row check on every insert cost more than the rest of a create; lib/repo deletes the rows with their observation in one statement)';
COMMENT ON COLUMN caom_entities.parent IS 'UUID of the owning observation, plane, artifact or part';
COMMENT ON COLUMN caom_entities.name IS 'natural key: productID, artifact URI, part name, or the chunk''s position in its part';
COMMENT ON COLUMN caom_entities.last_modified IS 'when this entity''s own metaChecksum last changed';
CREATE INDEX caom_entities_observation ON caom_entities (observation);

CREATE TABLE caom_deletions (
    id             uuid        PRIMARY KEY,
    collection     text        NOT NULL,
    observation_id text        NOT NULL,
    last_modified  timestamptz NOT NULL
);
COMMENT ON TABLE caom_deletions IS 'DeletedObservation records: the UUID and URI of each deleted observation and when';
COMMENT ON COLUMN caom_deletions.id IS 'the UUID the deleted observation had';
COMMENT ON COLUMN caom_deletions.collection IS 'its collection';
COMMENT ON COLUMN caom_deletions.observation_id IS 'its observationID';
COMMENT ON COLUMN caom_deletions.last_modified IS 'when it was deleted (database clock, ms): the order and filter of /caom2/deletions';
CREATE INDEX caom_deletions_list ON caom_deletions (collection, last_modified, observation_id);
