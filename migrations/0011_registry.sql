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

-- every column says what it holds (test_queue_pg checks that none is left without a comment)
COMMENT ON COLUMN reg_instrument.name IS 'instrument name, the governor value of data IDs';
COMMENT ON COLUMN reg_instrument.class_name IS 'the instrument''s class or description, free text';
COMMENT ON COLUMN reg_detector.instrument IS 'the instrument the detector belongs to';
COMMENT ON COLUMN reg_detector.id IS 'detector number within its instrument';
COMMENT ON COLUMN reg_detector.full_name IS 'the detector''s own name (e.g. WFC1), free text';
COMMENT ON COLUMN reg_exposure.instrument IS 'the instrument that took the exposure';
COMMENT ON COLUMN reg_exposure.id IS 'exposure number within its instrument';
COMMENT ON COLUMN reg_exposure.obs_id IS 'the observation ID the exposure belongs to, if any';
COMMENT ON COLUMN reg_exposure.obs_type IS 'kind of exposure (science, bias, flat, dark, arc, ...)';
COMMENT ON COLUMN reg_exposure.physical_filter IS 'the filter in the beam';
COMMENT ON COLUMN reg_exposure.day_obs IS 'observing day as YYYYMMDD';
COMMENT ON COLUMN reg_exposure.timespan IS 'when the shutter was open: [begin, end) in UTC, bounded';
COMMENT ON COLUMN reg_dataset_type.id IS 'surrogate key';
COMMENT ON COLUMN reg_dataset_type.name IS 'dataset type name (raw, bias, flat, calexp, ...)';
COMMENT ON COLUMN reg_dataset_type.dimensions IS 'the dimensions a data ID of this type names, sorted';
COMMENT ON COLUMN reg_dataset_type.storage_class IS 'how its files are read (e.g. ExposureF, FITS)';
COMMENT ON COLUMN reg_dataset_type.is_calibration IS 'true: datasets of this type may be certified into CALIBRATION collections';
COMMENT ON COLUMN reg_dataset_type.created_at IS 'when the type was registered';
COMMENT ON COLUMN reg_collection.id IS 'surrogate key';
COMMENT ON COLUMN reg_collection.name IS 'collection name (slashes allowed: HST/runs/2026-12-07)';
COMMENT ON COLUMN reg_collection.type IS 'RUN, TAGGED, CHAINED or CALIBRATION';
COMMENT ON COLUMN reg_collection.doc IS 'what the collection is for, free text';
COMMENT ON COLUMN reg_collection.created_at IS 'when the collection was registered';
COMMENT ON COLUMN reg_collection_chain.parent IS 'the CHAINED collection';
COMMENT ON COLUMN reg_collection_chain.position IS 'search order within the chain, 0 first';
COMMENT ON COLUMN reg_collection_chain.child IS 'the collection searched at that position';
COMMENT ON COLUMN reg_dataset.id IS 'dataset UUID';
COMMENT ON COLUMN reg_dataset.dataset_type_id IS 'its dataset type';
COMMENT ON COLUMN reg_dataset.run_id IS 'its birth RUN collection';
COMMENT ON COLUMN reg_dataset.data_id IS 'the data ID: one value per dimension of its type';
COMMENT ON COLUMN reg_dataset.instrument IS 'data_id.instrument, generated (foreign key to the dimension)';
COMMENT ON COLUMN reg_dataset.detector IS 'data_id.detector, generated (foreign key to the dimension)';
COMMENT ON COLUMN reg_dataset.exposure IS 'data_id.exposure, generated (foreign key to the dimension)';
COMMENT ON COLUMN reg_dataset.physical_filter IS 'data_id.physical_filter, generated';
COMMENT ON COLUMN reg_dataset.ingest_date IS 'when the dataset was registered';
COMMENT ON COLUMN reg_file.dataset_id IS 'the dataset the file belongs to';
COMMENT ON COLUMN reg_file.component IS 'the component the file holds ('''' = the whole dataset)';
COMMENT ON COLUMN reg_file.uri IS 'where the file is (file:, s3://, http(s)://)';
COMMENT ON COLUMN reg_file.size IS 'bytes, when known';
COMMENT ON COLUMN reg_file.checksum IS 'checksum URI (md5:..., sha256:...), when known';
COMMENT ON COLUMN reg_dataset_tag.collection_id IS 'the TAGGED collection';
COMMENT ON COLUMN reg_dataset_tag.dataset_id IS 'the dataset tagged';
COMMENT ON COLUMN reg_dataset_tag.dataset_type_id IS 'its dataset type (copied: one dataset per type and data ID)';
COMMENT ON COLUMN reg_dataset_tag.data_id_key IS 'its data ID key (copied: one dataset per type and data ID)';
COMMENT ON COLUMN reg_calib.id IS 'surrogate key';
COMMENT ON COLUMN reg_calib.collection_id IS 'the CALIBRATION collection';
COMMENT ON COLUMN reg_calib.dataset_id IS 'the certified calibration dataset';
COMMENT ON COLUMN reg_calib.dataset_type_id IS 'its dataset type (copied for the exclusion constraint)';
COMMENT ON COLUMN reg_calib.data_id_key IS 'its data ID key (copied for the exclusion constraint)';
COMMENT ON COLUMN reg_calib.validity IS 'validity range [begin, end) in UTC; NULL bounds are unbounded';
COMMENT ON COLUMN reg_provenance.dataset_id IS 'the dataset produced';
COMMENT ON COLUMN reg_provenance.job_id IS 'the obsflow job that produced it';
COMMENT ON COLUMN reg_provenance.software_version IS 'obsflow version that produced it';
COMMENT ON COLUMN reg_provenance.parameters_digest IS 'digest of the parameters it was produced with';
COMMENT ON COLUMN reg_provenance.created_at IS 'when the provenance was recorded';
COMMENT ON COLUMN reg_provenance_input.dataset_id IS 'the dataset produced';
COMMENT ON COLUMN reg_provenance_input.input_id IS 'a dataset it was made from';
COMMENT ON COLUMN reg_provenance_input.role IS 'input (a raw or intermediate product) or reference (a calibration it used)';
