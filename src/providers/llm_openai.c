/* Chat completions from an OpenAI-compatible API (OpenAI, OpenRouter, Ollama, llama.cpp server,
 * vLLM, LM Studio): POST {base}/chat/completions {model, messages, stream: true} → server-sent
 * events, each "data: {choices:[{delta:{content}}], usage?}", ending with "data: [DONE]". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "net/http_client.h"
#include "providers/llm.h"
#include "providers/provider_call.h"

struct llm_openai {
    struct llm base;
    char *url; /* …/chat/completions */
    char *key;
    long connect_timeout_ms, idle_timeout_ms, timeout_ms, max_tokens;
};

int llm_openai_line(struct llm_openai_parse *p, const char *line, size_t len,
                    int (*delta)(void *ctx, const char *text, size_t len), void *ctx)
{
    if (len < 5 || memcmp(line, "data:", 5))
        return 0; /* a comment (": keep-alive"), an event name, a blank line between events */
    line += 5, len -= 5;
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    if (len == 6 && !memcmp(line, "[DONE]", 6)) {
        p->done = 1;
        return 0;
    }
    json_t *j = json_loadb(line, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    json_t *error = json_object_get(j, "error");
    if (error) {
        /* Some servers report a failure mid-stream as a chunk of its own. */
        const char *m = json_string_value(json_object_get(error, "message"));
        if (!m)
            m = json_string_value(error);
        snprintf(p->error, sizeof p->error, "%.190s", m ? m : "an error in the stream");
        p->failed = 1;
        json_decref(j);
        return 0;
    }
    json_t *usage = json_object_get(j, "usage");
    if (json_is_object(usage) && p->res) {
        json_t *pt = json_object_get(usage, "prompt_tokens"), *ct = json_object_get(usage, "completion_tokens");
        if (json_is_integer(pt) && json_integer_value(pt) >= 0)
            p->res->prompt_tokens = (long)json_integer_value(pt);
        if (json_is_integer(ct) && json_integer_value(ct) >= 0)
            p->res->completion_tokens = (long)json_integer_value(ct);
    }
    json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
    if (fin && p->res)
        snprintf(p->res->finish_reason, sizeof p->res->finish_reason, "%.31s", fin);
    json_t *content = json_object_get(json_object_get(choice, "delta"), "content");
    int stop = 0;
    if (json_is_string(content) && json_string_length(content)) {
        if (p->res)
            p->res->deltas++;
        stop = delta ? delta(ctx, json_string_value(content), json_string_length(content)) : 0;
    }
    json_decref(j);
    return stop;
}

struct call {
    struct llm_openai_parse parse;
    const struct llm_request *rq;
};

static int on_line(void *ctx, const char *line, size_t len)
{
    struct call *c = ctx;
    return llm_openai_line(&c->parse, line, len, c->rq->delta, c->rq->ctx);
}

static int caller_gone(void *ctx)
{
    struct call *c = ctx;
    return c->rq->cancelled && c->rq->cancelled(c->rq->ctx);
}

static json_t *request_body(const struct llm_openai *o, const struct llm_request *rq)
{
    json_t *msgs = json_array();
    for (int i = 0; i < rq->n && msgs; i++)
        json_array_append_new(msgs,
                              json_pack("{s:s,s:s}", "role", rq->messages[i].role, "content", rq->messages[i].content));
    json_t *body = json_pack("{s:s,s:o,s:b,s:{s:b}}", "model", o->base.model, "messages", msgs, "stream", 1,
                             "stream_options", "include_usage", 1);
    long max = rq->max_tokens > 0 ? rq->max_tokens : o->max_tokens;
    if (body && max > 0)
        json_object_set_new(body, "max_tokens", json_integer(max));
    if (body && rq->temperature >= 0)
        json_object_set_new(body, "temperature", json_real(rq->temperature));
    return body;
}

/* The error a non-2xx status stands for, with the provider's own message. */
static int status_error(long status, json_t *body, char *why, size_t whylen)
{
    json_t *e = json_object_get(body, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m)
        m = json_string_value(e);
    snprintf(why, whylen, "the language model answered %ld%s%.200s", status, m ? ": " : "", m ? m : "");
    if (status == 429)
        return DP_ERR_RATE_LIMITED;
    if (status == 408 || status >= 500)
        return DP_ERR_UNAVAILABLE;
    return DP_ERR_INVALID; /* 400, 401, 404 (no such model), 413 …: this request will not pass */
}

static int openai_chat(struct llm *l, const struct llm_request *rq, struct llm_result *res, char *why, size_t whylen)
{
    struct llm_openai *o = (struct llm_openai *)l;
    json_t *body = request_body(o, rq);
    if (!body)
        return DP_ERR_NOMEM;
    struct call c = {{0, 0, "", res}, rq};
    struct http_stream hs = {o->url,        o->key,         body,    o->connect_timeout_ms, o->idle_timeout_ms,
                             o->timeout_ms, LLM_ANSWER_MAX, on_line, caller_gone,           &c};
    struct http_stream_result r;
    int err = http_post_stream(&hs, &r, why, whylen);
    json_decref(body);
    if (r.retry_after_s >= 0)
        res->retry_after_ms = r.retry_after_s * 1000;
    if (!err && r.status / 100 != 2)
        err = status_error(r.status, r.error_body, why, whylen);
    else if (!err && c.parse.failed) {
        snprintf(why, whylen, "the language model failed mid-answer: %s", c.parse.error);
        err = DP_ERR_UNAVAILABLE;
    } else if (!err && !c.parse.done && !res->finish_reason[0]) {
        /* Neither [DONE] nor a finish reason: the connection ended mid-answer. */
        snprintf(why, whylen, "the language model's answer broke off");
        err = DP_ERR_UNAVAILABLE;
    } else if (err == DP_ERR_TOO_LARGE) {
        err = DP_ERR_UNAVAILABLE;
    }
    json_decref(r.error_body);
    return err;
}

static void openai_destroy(struct llm *l)
{
    struct llm_openai *o = (struct llm_openai *)l;
    free(o->url);
    free(o->key);
    free(o);
}

static const struct llm_ops llm_openai_ops = {"openai", openai_chat, openai_destroy};

int llm_openai_new(const struct llm_config *cfg, struct llm **out)
{
    struct llm_openai *o = calloc(1, sizeof *o);
    if (!o)
        return DP_ERR_NOMEM;
    o->base.ops = &llm_openai_ops;
    snprintf(o->base.model, sizeof o->base.model, "%s", cfg->model);
    o->url = provider_url(cfg->url, "chat/completions");
    o->key = strdup(cfg->api_key ? cfg->api_key : "");
    o->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    o->idle_timeout_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 30000;
    o->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 120000;
    o->max_tokens = cfg->max_tokens;
    if (!o->url || !o->key) {
        openai_destroy(&o->base);
        return DP_ERR_NOMEM;
    }
    *out = &o->base;
    return DP_OK;
}
