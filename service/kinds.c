/* kinds.c - job kind table of obsflowd. noop is registered by workers_pool_create itself; the
 * other kinds' owners add their handler here as {"kind", handler, arg}.
 * SPDX-License-Identifier: Apache-2.0 */
#include "kinds.h"

#include <stddef.h>

struct kind_row {
    const char *kind;
    workers_handler_fn fn;
    void *arg;
};

enum err
kinds_register_all(struct workers_pool *pool, const struct kinds_env *env, struct err_info *ei)
{
    const struct kind_row kinds[] = {
        {.kind = "ingest", .fn = workers_job_ingest, .arg = env->ingest},
        {.kind = "dataset", .fn = workers_job_dataset, .arg = env->dataset},
        /* collection goes here */
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        enum err e = workers_register(pool, kinds[i].kind, kinds[i].fn, kinds[i].arg, ei);
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}
