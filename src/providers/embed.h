/* Embedding providers: text → vector. Chosen by configuration ("none" by default: search is then
 * text only); a provider is one file behind struct embed_ops. Vectors are float32, unit length. */
#ifndef DP_EMBED_H
#define DP_EMBED_H

#include <jansson.h>
#include <stddef.h>

#define EMBED_BATCH_MAX 64  /* texts per provider call */
#define EMBED_DIMS_MAX 8192 /* longest vector accepted from a provider */

struct embedder;

struct embed_ops {
    const char *name;
    /* Embeds texts[0..n) (n ≤ EMBED_BATCH_MAX). DP_OK with *vecs (malloc'd, n × *dims floats,
     * each row unit length) or an error with why filled (never secrets). */
    int (*embed)(struct embedder *e, const char *const *texts, int n, float **vecs, int *dims, char *why,
                 size_t whylen);
    void (*destroy)(struct embedder *e);
};

struct embedder {
    const struct embed_ops *ops;
    char model[128]; /* stored with each vector: vectors of another model are not compared */
};

struct embed_config {
    const char *provider; /* none | openai */
    const char *url;      /* base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 */
    const char *model;
    const char *api_key; /* "" = none */
    long timeout_ms;
};

/* What an embedding provider's registry row holds (struct backend.ops). */
struct embed_provider {
    /* Makes an embedder from cfg (URL and model checked present). */
    int (*create)(const struct embed_config *cfg, struct embedder **out);
};

/* Makes the process-wide embedder from cfg ("none" leaves none). DP_ERR_INVALID with msg for
 * an unknown provider or a missing URL/model. Call before threads start. */
int embed_configure(const struct embed_config *cfg, char *msg, size_t msglen);
struct registry;
/* The embedding providers (core/registry.h), by name: openai. */
struct registry *embed_registry(void);
/* The process-wide embedder, or NULL when none is configured. */
struct embedder *embed_current(void);
void embed_shutdown(void);

/* Embeds one text with e, through its circuit breaker; DP_ERR_UNAVAILABLE while it is open.
 * *vec malloc'd (dims floats). */
int embed_one(struct embedder *e, const char *text, float **vec, int *dims, char *why, size_t whylen);
/* As embed_one for n texts (n ≤ EMBED_BATCH_MAX). */
int embed_many(struct embedder *e, const char *const *texts, int n, float **vecs, int *dims, char *why, size_t whylen);

/* Scales v to unit length (a zero vector stays zero). */
void embed_normalize(float *v, int dims);

extern const struct embed_ops embed_openai_ops;
/* Checks and reads an /embeddings answer (HTTP status, parsed JSON or NULL) for n inputs: DP_OK
 * with *vecs (n × *dims, unit rows) or an error with why. Separate for the fuzzer. */
int embed_openai_answer(long status, json_t *answer, int n, float **vecs, int *dims, char *why, size_t whylen);
/* The OpenAI-compatible provider: POST {url}/embeddings. */
int embed_openai_new(const struct embed_config *cfg, struct embedder **out);

#endif
