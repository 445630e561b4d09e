/* profile.h - collection profiles: one YAML file per profile under
 * OBSFLOW_CONFIG_DIR/profiles/NAME.yaml, e.g.
 *   name: wallaby
 *   collection: WALLABY
 *   scheme: cadc
 *   blueprints: [wallaby.blueprint]   # under OBSFLOW_CONFIG_DIR/blueprints/
 *   compute: false
 *   queue: ingest
 * plus, for dataset profiles, instrument, dataset_rule (a POSIX extended regex the dataset
 * name must match), output (an output URI template holding {dataset}: the job's output when
 * it gives none), missing_reference (fail | skip), reference_catalog and expectations (file
 * names under <config>/references/ and <config>/expectations/, <config> being the blueprint
 * directory's parent; they must exist) and previews (true | false); any profile may name
 * registry_run (a registry RUN collection, {date} = the UTC day: "HST/runs/{date}").
 * Ground CCD profiles (docs/registry.md, "Calibration products") add
 *   ccd: {overscan: '[2050:2080,1:350]', trim: '[1:2048,1:350]', gain: 1.2, readnoise: 3.7,
 *         arithmetic: ccdproc}     # or calacs (the default); every key optional
 *   calibrations: [KAST/calib]    # registry collections searched, in order, for bias and flat
 *   file_template: '{run}/{dataset_type}/{instrument}/{dataset_type}_{instrument}_{id}.fits'
 * (sections checked for syntax, the template parsed and checked against every dataset type the
 * profile makes: raw and products [instrument, exposure], bias and flat masters [instrument]).
 * Required: name, collection. Unknown keys, wrong types, a missing blueprint file, a bad regex
 * and duplicate names are refused with "file:line: what is wrong" (the line of the key; line 1
 * for a missing key). A loaded set is read-only and may be shared between threads.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_PROFILE_PROFILE_H
#define OBSFLOW_PROFILE_PROFILE_H

#include "core/compiler.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define PROFILE_FILES_MAX      256 /* most profile files in a directory */
#define PROFILE_BLUEPRINTS_MAX 64  /* blueprints of one profile */
#define PROFILE_NAME_MAX       64  /* bytes of a profile name ([A-Za-z0-9._-]) */
#define PROFILE_RUN_MAX        129 /* bytes of an expanded registry_run, with its NUL */
#define PROFILE_CALIBS_MAX     16  /* collections of a profile's calibrations search path */

/* How a ground CCD profile calibrates its frames (lib/calib's plan): unset strings are NULL. */
struct profile_ccd {
    const char *overscan; /* FITS section of the overscan, or NULL */
    const char *trim;     /* FITS section kept, or NULL */
    bool has_gain;
    double gain;          /* e-/ADU */
    bool has_readnoise;
    double readnoise;     /* e- */
    bool ccdproc;         /* python3-ccdproc arithmetic (else calacs order) */
};

struct profile {
    const char *name;       /* required */
    const char *collection; /* required */
    const char *scheme;     /* NULL: not set */
    bool has_compute;
    bool compute;
    const char *queue;        /* NULL: not set */
    const char *instrument;   /* NULL: not set */
    const char *dataset_rule; /* NULL: not set */
    const char *output;       /* NULL: not set */
    /* dataset profiles: "fail" (a reference the dataset needs and cannot find fails it) or
     * "skip" (calibrate without it, with a warning); NULL: not set (= fail) */
    const char *missing_reference;
    const char *reference_catalog; /* a file of <config>/references/ (NULL: <instrument>.yaml) */
    const char *expectations;      /* a file of <config>/expectations/ (NULL: by instrument) */
    /* a RUN collection of the dataset registry ("HST/runs/{date}", {date} the UTC day the job
     * finishes) where dataset and ingest jobs register their inputs and products with
     * provenance (docs/registry.md); {job} = the job's id; NULL: not set (nothing is
     * registered) */
    const char *registry_run;
    bool has_previews;
    bool previews;                 /* false: no previews for the profile's datasets */
    /* ground CCD calibration of the profile's frames (dataset jobs: <name>_cal.fits; combine
     * jobs: the masters' preprocessing); has_ccd false: not set */
    bool has_ccd;
    struct profile_ccd ccd;
    /* the registry search path (CALIBRATION, CHAINED, RUN or TAGGED collections) for the
     * bias and flat of has_ccd runs; 0: none (a frame needing one fails, BESTREFS_ERROR) */
    size_t ncalibrations;
    const char *calibrations[PROFILE_CALIBS_MAX];
    /* a registry file template (lib/registry: reg_template) placing, under their output, the
     * masters of combine jobs and (with registry_run, file: outputs) the FITS products of
     * dataset jobs; NULL: not set (masters: the default template of docs/registry.md;
     * products: CALDP's data/<instrument>/<dataset>/) */
    const char *file_template;
    size_t nbp;
    const char *blueprints[PROFILE_BLUEPRINTS_MAX];
    const char *file; /* where it came from */
};

struct profile_set;

/**
 * Load every *.yaml / *.yml of @p dir. A missing @p dir is an empty set.
 * @param blueprint_dir where blueprint names are looked up (each must be a regular file there)
 * @return ERR_OK; ERR_INVALID / ERR_PARSE with "file:line: what is wrong" in ei->msg.
 */
NODISCARD enum err profile_set_load_dir(const char *dir,
                                        const char *blueprint_dir,
                                        struct profile_set **out,
                                        struct err_info *ei);

/** Parse one profile from YAML text (for tests and the fuzzer); @p name names it in messages.
 *  The result is a set of one. */
NODISCARD enum err profile_set_parse(const char *yaml,
                                     size_t len,
                                     const char *name,
                                     const char *blueprint_dir,
                                     struct profile_set **out,
                                     struct err_info *ei);

void profile_set_destroy(struct profile_set *s);
size_t profile_set_count(const struct profile_set *s);
/** The @p i-th profile in name order (borrowed), or NULL. */
const struct profile *profile_set_at(const struct profile_set *s, size_t i);
/** The profile called @p name, or NULL; @p s may be NULL. */
const struct profile *profile_set_find(const struct profile_set *s, const char *name);
/** The profile's registry_run with {date} replaced by the UTC day of @p now and {job} by
 * @p job (the job's id: a run per job, so that reprocessing a dataset the same day is not a
 * conflict), into @p out (@p cap bytes, PROFILE_RUN_MAX is enough). @return false when the
 * profile (NULL allowed) has none, names {job} without @p job, or does not make a
 * collection name (1..128 of [A-Za-z0-9._/-]). */
bool profile_registry_run(const struct profile *p, time_t now, const char *job, char *out,
                          size_t cap);

/** {"profiles":[{name, collection, ...}, ...]} (new reference; NULL when out of memory). */
json_t *profile_set_json(const struct profile_set *s);

#endif
