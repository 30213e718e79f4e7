/* The process-wide language model and what its calls share: provider_call (breaker, timing) and
 * the retries of a reply that has not started. */
#include "providers/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/timeutil.h"
#include "providers/provider_call.h"

static struct llm *current;
static long retries = 2, retry_wait_max_ms = 10000, cooldown_ms = 30000;

static const struct llm_provider openai_provider = {llm_openai_new};
static const struct backend llm_openai_row = {"openai", NULL, 0, &openai_provider};

/* The LLM providers by name ("none" is no provider at all). */
static struct registry llm_backends = {"llm", {&llm_openai_row}, 1, -1};

struct registry *llm_registry(void)
{
    return &llm_backends;
}

int llm_configure(const struct llm_config *cfg, char *msg, size_t msglen)
{
    llm_shutdown();
    const struct backend *b;
    int err = provider_choose(&llm_backends, cfg->provider, cfg->url, cfg->model, &b, msg, msglen);
    if (err || !b)
        return err;
    retries = cfg->retries >= 0 ? cfg->retries : 2;
    retry_wait_max_ms = cfg->retry_wait_max_ms >= 0 ? cfg->retry_wait_max_ms : 10000;
    cooldown_ms = cfg->circuit_cooldown_ms > 0 ? cfg->circuit_cooldown_ms : 30000;
    err = ((const struct llm_provider *)b->ops)->create(cfg, &current);
    if (err)
        snprintf(msg, msglen, "cannot set up the language model: %s", dp_strerror(err));
    else
        DP_LOG(LOG_INFO, "[llm] %s model %s at %s", cfg->provider, cfg->model, cfg->url);
    return err;
}

struct llm *llm_current(void)
{
    return current;
}

void llm_shutdown(void)
{
    if (current)
        current->ops->destroy(current);
    current = NULL;
}

struct llm_attempt {
    struct llm *l;
    const struct llm_request *rq;
    struct llm_result *res;
    char *why;
    size_t whylen;
    int ran; /* 0: the open breaker refused the call */
};

static int attempt_run(void *arg)
{
    struct llm_attempt *a = arg;
    a->ran = 1;
    return a->l->ops->chat(a->l, a->rq, a->res, a->why, a->whylen);
}

/* What says the provider is down: unreachable, 5xx, stalled. A refused request (4xx), a 429 (it
 * answers, and says when to come back) and a caller who went away say nothing against it. */
static int llm_healthy(int err)
{
    return err != DP_ERR_UNAVAILABLE && err != DP_ERR_TIMEOUT;
}

/* Sleeps ms unless rq's caller goes away first (checked every 50 ms); 1 when they did. */
static int wait_unless_cancelled(const struct llm_request *rq, long ms)
{
    double until = time_mono() + ms / 1000.0;
    for (;;) {
        if (rq->cancelled && rq->cancelled(rq->ctx))
            return 1;
        double left = until - time_mono();
        if (left <= 0)
            return 0;
        struct timespec ts = {0, (long)((left < 0.05 ? left : 0.05) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int llm_chat(struct llm *l, const struct llm_request *rq, struct llm_result *res, char *why, size_t whylen)
{
    /* Five failures in a row open the breaker (30 s by default): replies fall back to the recall
     * brain at once instead of each waiting for a timeout; then one trial call closes it again. */
    const struct provider_call pc = {"llm", l->ops->name, 5, (int)cooldown_ms, llm_healthy};
    struct llm_attempt a = {l, rq, res, why, whylen, 0};
    int err = DP_OK;
    for (long k = 0;; k++) {
        memset(res, 0, sizeof *res);
        res->prompt_tokens = res->completion_tokens = res->retry_after_ms = -1;
        if (whylen)
            why[0] = 0;
        a.ran = 0;
        err = provider_call(&pc, attempt_run, &a);
        if (!a.ran) {
            snprintf(why, whylen, "the language model is failing; trying it again later");
            break;
        }
        int again = (err == DP_ERR_UNAVAILABLE || err == DP_ERR_TIMEOUT || err == DP_ERR_RATE_LIMITED) &&
                    res->deltas == 0 && k < retries;
        if (!again)
            break;
        long wait = 250L << (k < 6 ? k : 6);
        wait += rand() % (wait / 2 + 1); /* jitter: callers that failed together do not retry together */
        if (err == DP_ERR_RATE_LIMITED && res->retry_after_ms >= 0) {
            if (res->retry_after_ms > retry_wait_max_ms)
                break; /* longer than anyone should wait for a reply */
            wait = res->retry_after_ms;
        }
        DP_LOG(LOG_INFO, "[llm] %s: %s; trying again in %ld ms", l->ops->name, why, wait);
        if (wait_unless_cancelled(rq, wait))
            return DP_ERR_CANCELLED;
    }
    return err;
}
