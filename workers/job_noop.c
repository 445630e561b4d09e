/* job_noop.c - the diagnostic job kind: sleeps sleep_ms (checking for cancellation every 50 ms)
 * and fails its first fail_times attempts; a sleep of a second or more reports its progress as
 * one step "sleep". Used by tests, benchmarks and smoke tests.
 * SPDX-License-Identifier: Apache-2.0 */
#include "workers.h"

#include "core/clock.h"

#include <stdio.h>
#include <string.h>

#define NOOP_SLICE_MS        50
#define NOOP_PROGRESS_MIN_MS 1000 /* a sleep this long reports its progress */

static enum err noop_int(const json_t *v,
                         const char *pfx,
                         const char *name,
                         json_int_t hi,
                         json_int_t *out,
                         struct err_info *ei)
{
    if (v == NULL) {
        return ERR_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > hi) {
        char field[ERR_INFO_FIELD_MAX];
        snprintf(field, sizeof field, "%sparams.%s", pfx, name);
        return err_set_field(ei, ERR_INVALID, field, "%s must be an integer between 0 and %lld",
                             name, (long long)hi);
    }
    *out = json_integer_value(v);
    return ERR_OK;
}

/* The one reading of noop's params: the validator and the handler both come here. */
static enum err noop_parse(const json_t *params,
                           const char *pfx,
                           json_int_t *sleep_ms,
                           json_int_t *fail_times,
                           struct err_info *ei)
{
    const char *k;
    const json_t *v;
    *sleep_ms = 0;
    *fail_times = 0;
    if (params == NULL) {
        return ERR_OK;
    }
    json_object_foreach((json_t *)(uintptr_t)params, k, v)
    {
        enum err e;
        if (strcmp(k, "sleep_ms") == 0) {
            e = noop_int(v, pfx, k, WORKERS_NOOP_SLEEP_MAX_MS, sleep_ms, ei);
        } else if (strcmp(k, "fail_times") == 0) {
            e = noop_int(v, pfx, k, QUEUE_ATTEMPTS_MAX, fail_times, ei);
        } else {
            char field[ERR_INFO_FIELD_MAX];
            snprintf(field, sizeof field, "%sparams.%.64s", pfx, k);
            e = err_set_field(ei, ERR_INVALID, field, "unrecognized noop parameter \"%.64s\"", k);
        }
        if (e != ERR_OK) {
            return e;
        }
    }
    return ERR_OK;
}

enum err
workers_noop_params(const json_t *params, const char *pfx, const void *ctx, struct err_info *ei)
{
    (void)ctx;
    json_int_t sleep_ms, fail_times;
    return noop_parse(params, pfx, &sleep_ms, &fail_times, ei);
}

enum err workers_job_noop(struct workers_job *job, void *arg, struct err_info *ei)
{
    (void)arg;
    json_int_t sleep_ms = 0, fail_times = 0;
    enum err e = noop_parse(workers_job_params(job), "", &sleep_ms, &fail_times, ei);
    if (e != ERR_OK) {
        return e;
    }
    int64_t until = clock_mono_ns() + (int64_t)sleep_ms * 1000000;
    for (;;) {
        if (workers_job_cancelled(job)) {
            return err_set(ei, ERR_CANCELLED, "noop stopped: cancellation requested");
        }
        int64_t left_ms = (until - clock_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            break;
        }
        if (sleep_ms >= NOOP_PROGRESS_MIN_MS) {
            /* one step, its detail advancing (written every 250 ms at most) */
            char detail[64];
            snprintf(detail, sizeof detail, "%lld of %lld ms", (long long)(sleep_ms - left_ms),
                     (long long)sleep_ms);
            workers_job_progress(job, "sleep", 1, 1, detail);
        }
        clock_sleep_ms(left_ms < NOOP_SLICE_MS ? left_ms : NOOP_SLICE_MS);
    }
    int attempt = workers_job_attempt(job);
    if (attempt <= fail_times) {
        workers_job_set_error_code(job, "noop_failure");
        return err_set(ei, ERR_INTERNAL, "noop failure %d of %lld (as asked by fail_times)",
                       attempt, (long long)fail_times);
    }
    json_t *result = json_pack("{s:I, s:i}", "slept_ms", sleep_ms, "attempt", attempt);
    if (result == NULL) {
        /* not a success without its result: the attempt is retried */
        return err_set(ei, ERR_NOMEM, "out of memory for the noop result");
    }
    workers_job_set_result(job, result);
    return ERR_OK;
}
