/* Embeddings from an OpenAI-compatible API (OpenAI, Ollama, vLLM, llama.cpp server, LocalAI…):
 * POST {base}/embeddings {model, input:[…]} → {data:[{index, embedding:[…]}]}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "net/http_client.h"
#include "providers/embed.h"
#include "providers/provider_call.h"

#define ANSWER_MAX (64u << 20) /* 64 texts × 8192 dims of JSON numbers fit */

struct embed_openai {
    struct embedder base;
    char *url; /* …/embeddings */
    char *key;
    long timeout_ms;
};

static int fail(char *why, size_t whylen, int err, const char *fmt, const char *arg)
{
    snprintf(why, whylen, fmt, arg);
    return err;
}

/* Checks one data item and copies its vector into row (dims known) or sets *dims (first). */
static int take_vector(json_t *item, int n, float *vecs, int *dims, char *why, size_t whylen)
{
    json_t *index = json_object_get(item, "index"), *emb = json_object_get(item, "embedding");
    if (!json_is_integer(index) || json_integer_value(index) < 0 || json_integer_value(index) >= n ||
        !json_is_array(emb))
        return fail(why, whylen, DP_ERR_UNAVAILABLE, "%s", "the provider's answer is not an embeddings list");
    size_t d = json_array_size(emb);
    if (d == 0 || d > EMBED_DIMS_MAX || (size_t)*dims != d)
        return fail(why, whylen, DP_ERR_UNAVAILABLE, "%s", "the provider's vectors have no or mixed sizes");
    float *row = vecs + (size_t)json_integer_value(index) * d;
    size_t i;
    json_t *x;
    json_array_foreach (emb, i, x) {
        if (!json_is_number(x))
            return fail(why, whylen, DP_ERR_UNAVAILABLE, "%s", "the provider's vector holds a non-number");
        row[i] = (float)json_number_value(x);
    }
    embed_normalize(row, (int)d);
    return DP_OK;
}

int embed_openai_answer(long status, json_t *answer, int n, float **vecs, int *dims, char *why, size_t whylen)
{
    *vecs = NULL;
    json_t *data = json_object_get(answer, "data");
    int err = DP_OK;
    if (status != 200) {
        const char *m = json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
        snprintf(why, whylen, "the embedding provider answered %ld%s%.200s", status, m ? ": " : "", m ? m : "");
        /* 400/413/422: this input will never embed; anything else may pass later. */
        return status == 400 || status == 413 || status == 422 ? DP_ERR_INVALID : DP_ERR_UNAVAILABLE;
    }
    if (!json_is_array(data) || json_array_size(data) != (size_t)n)
        return fail(why, whylen, DP_ERR_UNAVAILABLE, "%s", "the provider's answer has the wrong number of vectors");
    size_t d = json_array_size(json_object_get(json_array_get(data, 0), "embedding"));
    if (d == 0 || d > EMBED_DIMS_MAX)
        return fail(why, whylen, DP_ERR_UNAVAILABLE, "%s", "the provider's vectors have no or mixed sizes");
    *dims = (int)d;
    /* Each index must come once: a repeated one would leave another row unset. */
    char *seen = calloc((size_t)n, 1);
    if (!seen || !(*vecs = calloc((size_t)n * d, sizeof(float)))) {
        free(seen);
        return DP_ERR_NOMEM;
    }
    size_t i;
    json_t *item;
    json_array_foreach (data, i, item) {
        json_int_t at = json_integer_value(json_object_get(item, "index"));
        if (!err && json_is_integer(json_object_get(item, "index")) && at >= 0 && at < n && seen[at])
            err = fail(why, whylen, DP_ERR_UNAVAILABLE, "%s", "the provider's answer repeats a vector index");
        if (!err)
            err = take_vector(item, n, *vecs, dims, why, whylen);
        if (!err)
            seen[at] = 1;
    }
    free(seen);
    if (err) {
        free(*vecs);
        *vecs = NULL;
    }
    return err;
}

static int openai_embed(struct embedder *e, const char *const *texts, int n, float **vecs, int *dims, char *why,
                        size_t whylen)
{
    struct embed_openai *o = (struct embed_openai *)e;
    *vecs = NULL;
    json_t *input = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(input, json_string(texts[i]));
    json_t *body = json_pack("{s:s,s:o,s:s}", "model", e->model, "input", input, "encoding_format", "float");
    struct http_post p = {o->url, o->key, body, o->timeout_ms, ANSWER_MAX};
    long status;
    json_t *answer = NULL;
    int err = body ? http_post_json(&p, &status, &answer, why, whylen) : DP_ERR_NOMEM;
    json_decref(body);
    if (err)
        return err;
    err = embed_openai_answer(status, answer, n, vecs, dims, why, whylen);
    json_decref(answer);
    return err;
}

static void openai_destroy(struct embedder *e)
{
    struct embed_openai *o = (struct embed_openai *)e;
    free(o->url);
    free(o->key);
    free(o);
}

const struct embed_ops embed_openai_ops = {"openai", openai_embed, openai_destroy};

int embed_openai_new(const struct embed_config *cfg, struct embedder **out)
{
    struct embed_openai *o = calloc(1, sizeof *o);
    if (!o)
        return DP_ERR_NOMEM;
    o->base.ops = &embed_openai_ops;
    snprintf(o->base.model, sizeof o->base.model, "%s", cfg->model);
    o->url = provider_url(cfg->url, "embeddings");
    o->key = strdup(cfg->api_key ? cfg->api_key : "");
    o->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    if (!o->url || !o->key) {
        openai_destroy(&o->base);
        return DP_ERR_NOMEM;
    }
    *out = &o->base;
    return DP_OK;
}
