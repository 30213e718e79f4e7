/* The retry-then-give-up loop every remote speech provider shares: one attempt through the
 * provider's breaker (provider_call), and after a failure that may pass — unreachable, 5xx,
 * stalled, or a 429 whose Retry-After is short — one more after a pause. What happens after the
 * last failure (the local fallback) is the caller's. */
#ifndef DP_PROVIDER_RETRY_H
#define DP_PROVIDER_RETRY_H

#include "providers/provider_call.h"

#define PROVIDER_RETRY_PAUSE_MS 250 /* between attempts when no Retry-After says otherwise */

struct provider_retry {
    const struct provider_call *pc;
    /* One attempt: DP_OK or the failure; *retry_after_ms a 429's Retry-After (-1: not said). */
    int (*attempt)(void *arg, long *retry_after_ms);
    /* Whether a failure that may pass is still worth another attempt (NULL: always), e.g. not once
     * part of an answer was delivered. */
    int (*again)(void *arg, int err);
    void *arg;
    long wait_max_ms; /* a longer Retry-After is not waited for */
};

/* Runs the attempts. *ran is 0 when the breaker refused (nothing was tried). */
int provider_retry(const struct provider_retry *pr, int *ran);

#endif
