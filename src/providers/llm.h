/* Language-model providers: a conversation in, the reply streamed out piece by piece. Chosen by
 * configuration ("none" by default: the recall brain needs no model); a provider is one file
 * behind struct llm_ops and one row of llm_registry(). */
#ifndef DP_LLM_H
#define DP_LLM_H

#include <jansson.h>
#include <stddef.h>

#define LLM_MESSAGES_MAX 64       /* messages of one request */
#define LLM_ANSWER_MAX (4u << 20) /* bytes of one streamed answer (chunks' JSON included) */

struct llm_message {
    const char *role; /* system | user | assistant */
    const char *content;
};

struct llm_request {
    const struct llm_message *messages;
    int n;
    int max_tokens;     /* 0: the configured default */
    double temperature; /* < 0: the provider's default */
    /* Each piece of the reply as it arrives; nonzero stops the call (DP_ERR_CANCELLED). */
    int (*delta)(void *ctx, const char *text, size_t len);
    /* 1 once nobody waits for the reply any more (NULL: never). */
    int (*cancelled)(void *ctx);
    void *ctx;
};

struct llm_result {
    char finish_reason[32];                /* "stop", "length", … ("" when the provider said none) */
    long prompt_tokens, completion_tokens; /* -1 when the provider did not say */
    size_t deltas;                         /* pieces handed to delta() */
    long retry_after_ms;                   /* a 429's Retry-After (-1: none); for llm_chat's retries */
};

struct llm;

struct llm_ops {
    const char *name;
    /* One attempt: DP_OK once the reply ended, or an error with why (never secrets):
     * DP_ERR_RATE_LIMITED (429, res->retry_after_ms), DP_ERR_UNAVAILABLE (unreachable, 5xx, a
     * broken stream), DP_ERR_TIMEOUT (stalled), DP_ERR_INVALID (the provider refused the
     * request: 4xx), DP_ERR_CANCELLED. */
    int (*chat)(struct llm *l, const struct llm_request *rq, struct llm_result *res, char *why, size_t whylen);
    void (*destroy)(struct llm *l);
};

struct llm {
    const struct llm_ops *ops;
    char model[128];
};

struct llm_config {
    const char *provider; /* none | openai */
    const char *url;      /* base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 */
    const char *model;
    const char *api_key; /* "" = none; never logged */
    long connect_timeout_ms;
    long idle_timeout_ms;     /* longest silence of a stream (first token included) */
    long timeout_ms;          /* a whole reply */
    long max_tokens;          /* default per reply */
    long retries;             /* extra attempts before the first piece arrived */
    long retry_wait_max_ms;   /* longest Retry-After honoured; longer ones fail at once */
    long circuit_cooldown_ms; /* how long the breaker stays open after five failures in a row */
};

/* What an LLM provider's registry row holds (struct backend.ops). */
struct llm_provider {
    int (*create)(const struct llm_config *cfg, struct llm **out);
};

/* Makes the process-wide model from cfg ("none" leaves none). DP_ERR_INVALID with msg for an
 * unknown provider or a missing URL/model. Call before threads start. */
int llm_configure(const struct llm_config *cfg, char *msg, size_t msglen);
struct registry;
/* The LLM providers (core/registry.h), by name: openai. */
struct registry *llm_registry(void);
/* The process-wide model, or NULL when none is configured. */
struct llm *llm_current(void);
void llm_shutdown(void);

/* Runs rq on l through its circuit breaker ("llm:NAME"), with retries: a failure before the first
 * piece arrived (unreachable, 5xx, stalled, 429) is tried again up to the configured number of
 * times, after a backoff (0.25 s, 0.5 s, … with jitter) or the 429's Retry-After when it is within
 * the configured maximum. DP_ERR_UNAVAILABLE at once while the breaker is open. */
int llm_chat(struct llm *l, const struct llm_request *rq, struct llm_result *res, char *why, size_t whylen);

/* The OpenAI-compatible streamed answer, one SSE line at a time (separate for the fuzzer). */
struct llm_openai_parse {
    int done;        /* "data: [DONE]" seen */
    int failed;      /* an error object arrived in the stream */
    char error[200]; /* its message */
    struct llm_result *res;
};
/* Reads one line of the stream: a content piece goes to delta(ctx, …) (which may stop it: then
 * returns nonzero), usage and finish_reason into p->res. Lines that are not data lines
 * (comments, event names, blank) are skipped; a data line that is not a chunk is ignored. */
int llm_openai_line(struct llm_openai_parse *p, const char *line, size_t len,
                    int (*delta)(void *ctx, const char *text, size_t len), void *ctx);
/* The OpenAI-compatible provider: POST {url}/chat/completions with stream: true. */
int llm_openai_new(const struct llm_config *cfg, struct llm **out);

#endif
