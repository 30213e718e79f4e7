/* The one way a provider calls out: through the breaker of "family:name" (a failing provider is
 * refused at once instead of each caller waiting for its timeout) and timed into
 * doppel_provider_call_seconds{provider}. Every provider of every family uses it. */
#ifndef DP_PROVIDER_CALL_H
#define DP_PROVIDER_CALL_H

struct provider_call {
    const char *family; /* "embed", "stt", "tts", "llm" */
    const char *name;   /* the backend's name ("openai", …) */
    int failures;       /* consecutive failures that open the breaker (0: 5) */
    int cooldown_ms;    /* how long it stays open (0: 30 s) */
    /* Whether an answer counts for the breaker as the provider working (NULL: DP_OK only). An
     * input the provider refused (DP_ERR_INVALID) says the provider is up, for instance. */
    int (*healthy)(int err);
};

/* Runs fn(arg) as call pc: DP_ERR_UNAVAILABLE at once while its breaker is open, else fn's answer. */
int provider_call(const struct provider_call *pc, int (*fn)(void *arg), void *arg);

#include <jansson.h>
#include <stddef.h>

/* base (an API's base URL, trailing slashes ignored) + "/" + path, malloc'd; NULL when out of memory. */
char *provider_url(const char *base, const char *path);

struct registry;
struct backend;
/* The backend of family registry r that configuration names (provider; "", NULL or "none": none,
 * *out NULL), checking that url and model are given. DP_ERR_INVALID with msg ("FAMILY-provider must
 * be none or …", "FAMILY-provider X needs FAMILY-url and FAMILY-model") otherwise. */
int provider_choose(const struct registry *r, const char *provider, const char *url, const char *model,
                    const struct backend **out, char *msg, size_t msglen);
/* {"family:name": {circuit, calls, failures, latency_ms:{last, p50, p95, window}}} of every
 * provider called since start (window: how many recent calls the percentiles cover). */
json_t *providers_json(void);

#endif
