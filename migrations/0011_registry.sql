-- 0011_registry.sql - the dataset registry (issue 13): a fixed dimension universe
-- (instrument, detector, exposure with a real time span, physical_filter), dataset types,
-- collections (RUN, TAGGED, CHAINED with ordered children, CALIBRATION), datasets with their
-- data ID and file records, certified calibrations with half-open validity ranges that may not
-- overlap per (collection, dataset type, data ID), and provenance. lib/registry owns every
-- statement on these tables. Times are UTC (tstzrange), begin inclusive, end exclusive, NULL
-- bound = unbounded.

CREATE EXTENSION IF NOT EXISTS btree_gist;  -- the EXCLUDE constraint mixes = (text) and && (range)

CREATE TABLE reg_instrument (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    class_name  text
);
COMMENT ON TABLE reg_instrument IS 'dimension instrument: the governor of every other dimension';

CREATE TABLE reg_detector (
    instrument  text NOT NULL REFERENCES reg_instrument (name),
    id          integer NOT NULL CHECK (id >= 0),
    full_name   text,
    PRIMARY KEY (instrument, id)
);
COMMENT ON TABLE reg_detector IS 'dimension detector, numbered per instrument';

CREATE TABLE reg_exposure (
    instrument      text NOT NULL REFERENCES reg_instrument (name),
    id              bigint NOT NULL CHECK (id >= 0),
    obs_id          text,
    obs_type        text,
    physical_filter text,
    day_obs         integer,
    timespan        tstzrange NOT NULL
                    CHECK (NOT isempty(timespan) AND NOT lower_inf(timespan)
                           AND NOT upper_inf(timespan)),
    PRIMARY KEY (instrument, id)
);
COMMENT ON TABLE reg_exposure IS 'dimension exposure: a real, bounded time span is required (calibration lookup overlaps it)';
CREATE INDEX reg_exposure_ts ON reg_exposure USING gist (instrument, timespan);

CREATE TABLE reg_dataset_type (
    id             serial PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z][A-Za-z0-9_]{0,63}$'),
    dimensions     text[] NOT NULL
                   CHECK (dimensions <@ ARRAY['instrument', 'detector', 'exposure',
                                              'physical_filter']::text[]),
    storage_class  text NOT NULL,
    is_calibration boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reg_dataset_type IS 'a name, the dimensions of its data IDs (sorted), a storage class, and whether it may be certified';

CREATE TABLE reg_collection (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._/-]{1,128}$'),
    type       text NOT NULL CHECK (type IN ('RUN', 'TAGGED', 'CHAINED', 'CALIBRATION')),
    doc        text,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reg_collection IS 'RUN: birth collection of its datasets; TAGGED: free membership; CHAINED: ordered search path; CALIBRATION: membership with validity ranges';

CREATE TABLE reg_collection_chain (
    parent   bigint NOT NULL REFERENCES reg_collection (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    child    bigint NOT NULL REFERENCES reg_collection (id) ON DELETE CASCADE,
    PRIMARY KEY (parent, position),
    UNIQUE (parent, child)
);
COMMENT ON TABLE reg_collection_chain IS 'children of a CHAINED collection in search order (cycles are refused when a chain is defined)';
CREATE INDEX reg_collection_chain_child ON reg_collection_chain (child);

CREATE TABLE reg_dataset (
    id              uuid PRIMARY KEY,
    dataset_type_id integer NOT NULL REFERENCES reg_dataset_type (id),
    run_id          bigint NOT NULL REFERENCES reg_collection (id),
    data_id         jsonb NOT NULL CHECK (jsonb_typeof(data_id) = 'object'),
    data_id_key     text GENERATED ALWAYS AS (data_id::text) STORED,
    instrument      text GENERATED ALWAYS AS (data_id ->> 'instrument') STORED,
    detector        integer GENERATED ALWAYS AS ((data_id ->> 'detector')::integer) STORED,
    exposure        bigint GENERATED ALWAYS AS ((data_id ->> 'exposure')::bigint) STORED,
    physical_filter text GENERATED ALWAYS AS (data_id ->> 'physical_filter') STORED,
    ingest_date     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (instrument) REFERENCES reg_instrument (name),
    FOREIGN KEY (instrument, detector) REFERENCES reg_detector (instrument, id),
    FOREIGN KEY (instrument, exposure) REFERENCES reg_exposure (instrument, id),
    UNIQUE (run_id, dataset_type_id, data_id_key)
);
COMMENT ON TABLE reg_dataset IS 'one stored thing: type + data ID + birth RUN; the data ID columns are generated from data_id so they carry foreign keys to the dimensions';
COMMENT ON COLUMN reg_dataset.data_id_key IS 'canonical text of the data ID (jsonb output is key-sorted): the key of the uniqueness and exclusion constraints';
CREATE INDEX reg_dataset_by_type ON reg_dataset (dataset_type_id, instrument, exposure, detector);
CREATE INDEX reg_dataset_by_exposure ON reg_dataset (instrument, exposure) WHERE exposure IS NOT NULL;

CREATE TABLE reg_file (
    dataset_id uuid NOT NULL REFERENCES reg_dataset (id) ON DELETE CASCADE,
    component  text NOT NULL DEFAULT '',
    uri        text NOT NULL,
    size       bigint CHECK (size >= 0),
    checksum   text,
    PRIMARY KEY (dataset_id, component)
);
COMMENT ON TABLE reg_file IS 'the file records of a dataset (one per component): where it is, its size and checksum';
CREATE INDEX reg_file_uri ON reg_file (uri);

CREATE TABLE reg_dataset_tag (
    collection_id   bigint NOT NULL REFERENCES reg_collection (id) ON DELETE CASCADE,
    dataset_id      uuid NOT NULL REFERENCES reg_dataset (id) ON DELETE CASCADE,
    dataset_type_id integer NOT NULL,
    data_id_key     text NOT NULL,
    PRIMARY KEY (collection_id, dataset_id),
    UNIQUE (collection_id, dataset_type_id, data_id_key)
);
COMMENT ON TABLE reg_dataset_tag IS 'membership of TAGGED collections (one dataset per type and data ID)';

CREATE TABLE reg_calib (
    id              bigserial PRIMARY KEY,
    collection_id   bigint NOT NULL REFERENCES reg_collection (id) ON DELETE CASCADE,
    dataset_id      uuid NOT NULL REFERENCES reg_dataset (id) ON DELETE CASCADE,
    dataset_type_id integer NOT NULL REFERENCES reg_dataset_type (id),
    data_id_key     text NOT NULL,
    validity        tstzrange NOT NULL CHECK (NOT isempty(validity)),
    CONSTRAINT reg_calib_no_overlap EXCLUDE USING gist (
        collection_id WITH =, dataset_type_id WITH =, data_id_key WITH =, validity WITH &&)
);
COMMENT ON TABLE reg_calib IS 'certifications: a calibration dataset valid in a CALIBRATION collection over [begin, end); ranges of one (collection, type, data ID) never overlap';
CREATE INDEX reg_calib_dataset ON reg_calib (dataset_id);

CREATE TABLE reg_provenance (
    dataset_id        uuid PRIMARY KEY REFERENCES reg_dataset (id) ON DELETE CASCADE,
    job_id            text,
    software_version  text,
    parameters_digest text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reg_provenance IS 'how a dataset was produced: the job, the software version and a digest of its parameters';

CREATE TABLE reg_provenance_input (
    dataset_id uuid NOT NULL REFERENCES reg_dataset (id) ON DELETE CASCADE,
    input_id   uuid NOT NULL REFERENCES reg_dataset (id),
    role       text NOT NULL CHECK (role IN ('input', 'reference')),
    PRIMARY KEY (dataset_id, input_id)
);
COMMENT ON TABLE reg_provenance_input IS 'the datasets (inputs, and references such as master calibrations) a dataset was made from; an input cannot vanish while an output names it (remove-runs --force drops the links first)';
CREATE INDEX reg_provenance_input_up ON reg_provenance_input (input_id);
