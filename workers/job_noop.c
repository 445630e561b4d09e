/* job_noop.c - the diagnostic job kind: sleeps sleep_ms (checking for cancellation every 50 ms)
 * and fails its first fail_times attempts. Used by tests, benchmarks and smoke tests.
 * SPDX-License-Identifier: Apache-2.0 */
#include "workers.h"

#include "core/clock.h"

#define NOOP_SLEEP_MAX_MS 3600000
#define NOOP_SLICE_MS     50

enum err workers_job_noop(struct workers_job *job, void *arg, struct err_info *ei)
{
    (void)arg;
    const json_t *params = workers_job_params(job);
    const json_t *v = json_object_get(params, "sleep_ms");
    json_int_t sleep_ms = 0, fail_times = 0;
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                      json_integer_value(v) > NOOP_SLEEP_MAX_MS)) {
        return err_set_field(ei, ERR_INVALID, "params.sleep_ms",
                             "sleep_ms must be an integer between 0 and %d", NOOP_SLEEP_MAX_MS);
    }
    if (v != NULL) {
        sleep_ms = json_integer_value(v);
    }
    v = json_object_get(params, "fail_times");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        return err_set_field(ei, ERR_INVALID, "params.fail_times",
                             "fail_times must be a non-negative integer");
    }
    if (v != NULL) {
        fail_times = json_integer_value(v);
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
        clock_sleep_ms(left_ms < NOOP_SLICE_MS ? left_ms : NOOP_SLICE_MS);
    }
    int attempt = workers_job_attempt(job);
    if (attempt <= fail_times) {
        workers_job_set_error_code(job, "noop_failure");
        return err_set(ei, ERR_INTERNAL, "noop failure %d of %lld (as asked by fail_times)",
                       attempt, (long long)fail_times);
    }
    workers_job_set_result(job, json_pack("{s:I, s:i}", "slept_ms", sleep_ms, "attempt", attempt));
    return ERR_OK;
}
