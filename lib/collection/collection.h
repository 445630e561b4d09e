/* collection.h - collection definitions (issue 10): a source of files, which of them count, a
 * PCRE2 rule whose named groups give each file's observation and plane (obs_id, product_id,
 * and dataset for dataset jobs: several files to one plane, several planes to one
 * observation), the child job each observation becomes, an optional schedule, retries and
 * the error texts that count as rejections. The same fields come as JSON (PUT
 * /v1/collections/{name}) or YAML (files under OBSFLOW_CONFIG_DIR/collections/, through
 * lib/yaml), e.g.
 *   {"source": "file:/data/omm/raw", "include": ["*.fits", "*.fits.gz"], "recursive": true,
 *    "rule": "^(?<obs_id>C\\d{6}_[^_]+)_(?<product_id>SCIRED|SCI|CAL)\\.fits(\\.gz)?$",
 *    "job": {"kind": "ingest", "profile": "omm", "queue": "ingest"},
 *    "schedule": "every 15m", "retry": {"max_attempts": 3},
 *    "reject": ["missing END card", "rule did not match"]}
 * A definition is immutable once parsed and may be shared between threads (each match uses
 * its own PCRE2 match data). SPDX-License-Identifier: Apache-2.0 */
#ifndef OBSFLOW_COLLECTION_COLLECTION_H
#define OBSFLOW_COLLECTION_COLLECTION_H

#include "core/compiler.h"
#include "core/err.h"
#include "profile/profile.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLL_NAME_MAX     64   /* bytes of a collection definition's name ([A-Za-z0-9._-]) */
#define COLL_SOURCE_MAX   1024 /* bytes of a source URI */
#define COLL_INCLUDE_MAX  32   /* include globs */
#define COLL_REJECT_MAX   32   /* reject texts */
#define COLL_RULE_MAX     2048 /* bytes of the rule */
#define COLL_ID_MAX       256  /* bytes of a matched obs_id / product_id / dataset */
#define COLL_YAML_MAX     (64 * 1024) /* bytes of a YAML definition */
#define COLL_SCHEDULE_MIN_S 1        /* shortest schedule period */
#define COLL_SCHEDULE_MAX_S 2678400  /* longest: 31 days */

enum coll_source { COLL_SOURCE_FILE, COLL_SOURCE_S3, COLL_SOURCE_HTTP };

/** True if @p s is a valid collection definition name: 1..COLL_NAME_MAX of [A-Za-z0-9._-], not
 * starting with '.' (the rule coll_def_parse applies; NULL is not). */
bool coll_name_valid(const char *s);

struct coll_def;

/** What a definition may name, checked when it is parsed. Everything borrowed; any may be
 * NULL (then that check is skipped). */
struct coll_env {
    const struct profile_set *profiles;                 /* job.profile must name one */
    bool (*kind_known)(const char *kind, void *ud);     /* job.kind must be runnable */
    void *kind_ud;
};

/**
 * Parse and check a definition (a JSON object). Unknown keys, wrong types, a source that is
 * none of file:/ABS/DIR, s3://bucket[/prefix], http(s)://..., an include glob list that is
 * empty or too long, a rule PCRE2 refuses (its message and offset), a rule without the named
 * group obs_id (or dataset, for dataset jobs), an unknown job kind or profile, a bad schedule
 * ("every N[smhd]") and bad retries are refused with ERR_INVALID naming the field
 * (ei->field "source", "rule", "job.kind", ...).
 */
NODISCARD enum err coll_def_parse(const char *name, const json_t *doc, const struct coll_env *env,
                                  struct coll_def **out, struct err_info *ei);
/**
 * coll_def_parse of a YAML definition (lib/yaml; one document, at most COLL_YAML_MAX bytes).
 * Errors say where: "<file>:<line>: <what is wrong>" with the line of the offending key or
 * value (the field stays in ei->field); YAML syntax errors as lib/yaml gives them.
 */
NODISCARD enum err coll_def_parse_yaml(const char *name, const char *file, const char *text,
                                       size_t len, const struct coll_env *env,
                                       struct coll_def **out, struct err_info *ei);
void coll_def_destroy(struct coll_def *d);

const char *coll_def_name(const struct coll_def *d);
const char *coll_def_source(const struct coll_def *d);
enum coll_source coll_def_source_kind(const struct coll_def *d);
bool coll_def_recursive(const struct coll_def *d);
const char *coll_def_job_kind(const struct coll_def *d);
const char *coll_def_job_profile(const struct coll_def *d); /* NULL: none */
const char *coll_def_job_queue(const struct coll_def *d);   /* NULL: the kind's */
int coll_def_max_attempts(const struct coll_def *d);       /* 0: the queue's default */
int64_t coll_def_schedule_s(const struct coll_def *d);      /* 0: no schedule */
/** True when @p message contains one of the definition's reject texts. */
bool coll_def_is_rejection(const struct coll_def *d, const char *message);

/** The definition as JSON, as it was given (new reference; NULL when out of memory). */
json_t *coll_def_json(const struct coll_def *d);

/** What the rule makes of one file name. */
struct coll_match {
    bool matched;                   /* false: rejected, see reason */
    char reason[64];                /* "not included", "rule did not match" */
    char obs_id[COLL_ID_MAX];
    char product_id[COLL_ID_MAX];   /* "" when the rule has no product_id group */
    char dataset[COLL_ID_MAX];      /* "" when the rule has no dataset group */
};

/**
 * Match the base name of @p path (the part after the last '/') against the include globs and
 * the rule. @return ERR_OK (out->matched says which); ERR_TOO_LARGE for a group longer than
 * COLL_ID_MAX; ERR_NOMEM.
 */
NODISCARD enum err coll_def_match(const struct coll_def *d, const char *path,
                                  struct coll_match *out, struct err_info *ei);

#endif
