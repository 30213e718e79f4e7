/* The process-wide embedder and what its calls share: provider_call (breaker, timing), normalising. */
#include "providers/embed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/registry.h"
#include "providers/provider_call.h"

static struct embedder *current;

static const struct embed_provider openai_provider = {embed_openai_new};
static const struct backend embed_openai_row = {"openai", NULL, 0, &openai_provider};

/* The embedding providers by name ("none" is no provider at all). */
static struct registry embed_backends = {"embed", {&embed_openai_row}, 1, -1};

struct registry *embed_registry(void)
{
    return &embed_backends;
}

int embed_configure(const struct embed_config *cfg, char *msg, size_t msglen)
{
    embed_shutdown();
    const struct backend *b;
    int err = provider_choose(&embed_backends, cfg->provider, cfg->url, cfg->model, &b, msg, msglen);
    if (err || !b)
        return err;
    err = ((const struct embed_provider *)b->ops)->create(cfg, &current);
    if (err)
        snprintf(msg, msglen, "cannot set up the embedding provider: %s", dp_strerror(err));
    else
        DP_LOG(LOG_INFO, "[embed] %s model %s at %s", cfg->provider, cfg->model, cfg->url);
    return err;
}

struct embedder *embed_current(void)
{
    return current;
}

void embed_shutdown(void)
{
    if (current)
        current->ops->destroy(current);
    current = NULL;
}

void embed_normalize(float *v, int dims)
{
    double sum = 0;
    for (int i = 0; i < dims; i++)
        sum += (double)v[i] * v[i];
    if (sum <= 0)
        return;
    float scale = (float)(1.0 / sqrt(sum));
    for (int i = 0; i < dims; i++)
        v[i] *= scale;
}

struct embed_call {
    struct embedder *e;
    const char *const *texts;
    int n;
    float **vecs;
    int *dims;
    char *why;
    size_t whylen;
};

static int embed_call_run(void *arg)
{
    struct embed_call *k = arg;
    return k->e->ops->embed(k->e, k->texts, k->n, k->vecs, k->dims, k->why, k->whylen);
}

/* A text the provider refused still says the provider is up. */
static int embed_healthy(int err)
{
    return err == DP_OK || err == DP_ERR_INVALID;
}

int embed_many(struct embedder *e, const char *const *texts, int n, float **vecs, int *dims, char *why, size_t whylen)
{
    /* Five failures in a row open the breaker for 30 s: searches fall back to text at once
     * instead of each waiting for a timeout. */
    const struct provider_call pc = {"embed", e->ops->name, 5, 30000, embed_healthy};
    struct embed_call k = {e, texts, n, vecs, dims, why, whylen};
    if (whylen)
        why[0] = 0;
    int err = provider_call(&pc, embed_call_run, &k);
    if (err == DP_ERR_UNAVAILABLE && whylen && !why[0]) /* refused by the open breaker */
        snprintf(why, whylen, "the embedding provider is failing; retrying later");
    return err;
}

int embed_one(struct embedder *e, const char *text, float **vec, int *dims, char *why, size_t whylen)
{
    return embed_many(e, &text, 1, vec, dims, why, whylen);
}
