/* Job kinds for test suites (registered with --test-routes only): test.sleep sleeps and fails on demand. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "jobs/jobs.h"

#define SLEEP_MAX_MS 60000
#define SLICE_MS 50

/* {"ms":N,"fail_times":K}: sleeps N ms (in slices, giving up early when the worker stops),
 * reporting progress, then fails while the attempt is ≤ K. */
static int test_sleep(struct job_ctx *ctx, char **error_msg, int *error_owned)
{
    json_int_t ms = json_integer_value(json_object_get(ctx->payload, "ms"));
    json_int_t fail_times = json_integer_value(json_object_get(ctx->payload, "fail_times"));
    ms = ms < 0 ? 0 : ms > SLEEP_MAX_MS ? SLEEP_MAX_MS : ms;
    for (json_int_t slept = 0; slept < ms; slept += SLICE_MS) {
        if (job_should_stop(ctx))
            return DP_ERR_CANCELLED;
        json_int_t step = ms - slept < SLICE_MS ? ms - slept : SLICE_MS;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        job_progress(ctx, (int)((slept + step) * 100 / ms));
    }
    if (ctx->attempt <= fail_times) {
        char *msg = malloc(64);
        if (msg) {
            snprintf(msg, 64, "test failure on attempt %d", ctx->attempt);
            *error_msg = msg;
            *error_owned = 1;
        }
        return DP_ERR_UNAVAILABLE;
    }
    return DP_OK;
}

void jobs_register_test_kinds(void)
{
    jobs_register("test.sleep", test_sleep, 3);
}
