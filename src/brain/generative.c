/* The generative brain: a language model (providers/llm.h) answers as the avatar, from a prompt of
 * its persona card, its way of speaking, the memories that match the message (numbered, with
 * their ids and where they come from: the lorebook of an imported card is among them) and the
 * conversation so far. The reply streams to the sink piece by piece as the model makes it; the
 * model's citation marks ([1]) become citations of the memories offered, and a mark naming
 * anything else is dropped (brain/cite_marks.h). When the model cannot be reached (its breaker
 * open, unreachable, failing before its first piece) the recall brain answers instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "brain/cite_marks.h"
#include "brain/claim_guard.h"
#include "brain/memory.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/utf8.h"
#include "providers/llm.h"

#define OFFERED_MAX 8          /* memories offered to the model */
#define MEMORY_PROMPT_MAX 1200 /* bytes of one memory in the prompt */
#define TURN_PROMPT_MAX 2000   /* bytes of one earlier message in the prompt */
#define FIELD_PROMPT_MAX 4000  /* bytes of one persona field in the prompt */
#define REPLY_MAX (256u << 10) /* bytes of one reply kept */

static int generative_available(void)
{
    return llm_current() != NULL;
}

/* Appends at most max bytes of s (cut at a character) to b. */
static void put_cut(struct buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        n = utf8_cut(s, max);
    buf_append(b, s, n);
    if (n < strlen(s))
        buf_append(b, "…", strlen("…"));
}

static void put_field(struct buf *b, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    buf_printf(b, "\n%s: ", label);
    put_cut(b, value, FIELD_PROMPT_MAX);
}

/* Where a memory comes from, in words the model can repeat. */
static void put_source(struct buf *b, json_t *m)
{
    const char *kind = json_string_value(json_object_get(m, "kind"));
    const char *speaker = json_string_value(json_object_get(m, "speaker"));
    json_t *src = json_object_get(m, "source");
    buf_printf(b, "%s", kind ? kind : "memory");
    if (speaker && *speaker)
        buf_printf(b, ", said by %s", speaker);
    if (json_is_object(src)) {
        const char *media = json_string_value(json_object_get(src, "media_id"));
        json_t *st = json_object_get(src, "start_ms");
        buf_printf(b, ", from media %s", media ? media : "?");
        if (json_is_integer(st))
            buf_printf(b, " at %lld s", (long long)(json_integer_value(st) / 1000));
    }
}

/* The system message: who to be, how to speak, what is remembered and how to cite it. */
static char *system_prompt(const struct brain_input *in, json_t *memories)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b,
               "You are %s. Answer as %s, in the first person, in your own voice, to the person talking with you. "
               "Keep replies short and conversational.",
               in->avatar_name, in->avatar_name);
    struct brain_persona p = {0};
    if (in->persona && in->persona(in, &p) == DP_OK) {
        put_field(&b, "About you", p.description);
        put_field(&b, "Your personality", p.personality);
        put_field(&b, "Scenario", p.scenario);
        put_field(&b, "Examples of how you talk", p.examples);
        brain_persona_cleanup(&p);
    }
    char opening[32] = "";
    double formality = 0.5;
    if (in->voice && in->voice(in, opening, &formality) == DP_OK) {
        buf_printf(&b, "\nYour way of speaking: %s", formality > 0.6 ? "formal" : formality < 0.4 ? "casual" : "plain");
        if (*opening)
            buf_printf(&b, "; you often begin with \"%s\"", opening);
        buf_printf(&b, ".");
    }
    size_t n = json_array_size(memories);
    if (n) {
        buf_printf(&b, "\n\nYour memories that may bear on the message, numbered (id and source in brackets):");
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(memories, i);
            buf_printf(&b, "\n[%zu] (id %s; ", i + 1, json_string_value(json_object_get(m, "id")));
            put_source(&b, m);
            buf_printf(&b, ") ");
            put_cut(&b, json_string_value(json_object_get(m, "text")), MEMORY_PROMPT_MAX);
        }
        buf_printf(&b, "\n\nWhen you use a memory, cite it right after the sentence by its number in brackets, "
                       "like [1] or [1, 2]. Cite only the numbers above.");
    } else {
        buf_printf(&b, "\n\nNo memory of yours matches this message.");
    }
    buf_printf(&b, " Never invent facts about your life: when your memories do not tell you, say you don't "
                   "remember.");
    return buf_steal(&b, NULL);
}

/* The messages of the request: the system prompt, the conversation, the new message. Their
 * number, or -1 when out of memory. */
static int build_messages(const struct brain_input *in, const char *system, struct llm_message *msgs, char **owned,
                          int *nowned)
{
    int n = 0;
    msgs[n++] = (struct llm_message){"system", system};
    size_t k = json_array_size(in->history);
    size_t first = k > LLM_MESSAGES_MAX - 2 ? k - (LLM_MESSAGES_MAX - 2) : 0;
    for (size_t i = first; i < k; i++) {
        json_t *h = json_array_get(in->history, i);
        const char *role = json_string_value(json_object_get(h, "role"));
        const char *text = json_string_value(json_object_get(h, "text"));
        if (!role || !text || !*text)
            continue;
        size_t len = strlen(text) > TURN_PROMPT_MAX ? utf8_cut(text, TURN_PROMPT_MAX) : strlen(text);
        char *t = strndup(text, len);
        if (!t)
            return -1;
        owned[(*nowned)++] = t;
        msgs[n++] = (struct llm_message){strcmp(role, "avatar") ? "user" : "assistant", t};
    }
    msgs[n++] = (struct llm_message){"user", in->message};
    return n;
}

struct stream {
    const struct brain_input *in;
    struct cite_marks marks;
    struct buf text; /* the reply without its marks */
    int forward;     /* 1: each piece goes on to the listener as it comes */
};

/* The reply without marks: kept, and passed on to whoever listens. */
static void on_text(void *ctx, const char *text, size_t len)
{
    struct stream *s = ctx;
    buf_append(&s->text, text, len);
    if (s->forward && s->in->sink && s->in->sink->delta)
        s->in->sink->delta(s->in->sink->ctx, text, len);
}

static int on_delta(void *ctx, const char *text, size_t len)
{
    struct stream *s = ctx;
    if (brain_cancelled(s->in))
        return 1;
    cite_marks_feed(&s->marks, text, len);
    return 0;
}

static int stream_gone(void *ctx)
{
    struct stream *s = ctx;
    return brain_cancelled(s->in);
}

/* The memories that match the message (none when it has no searchable word). */
static json_t *offered_memories(const struct brain_input *in)
{
    json_t *items = NULL;
    char *next = NULL, msg[160];
    if (memory_list(in->db, in->avatar_id, in->message, NULL, OFFERED_MAX, &items, &next, msg, sizeof msg))
        items = NULL;
    free(next);
    return items ? items : json_array();
}

static json_t *citations_of(const struct cite_marks *m, json_t *memories)
{
    json_t *out = json_array();
    for (int i = 0; i < m->ncited && out; i++) {
        json_t *mem = json_array_get(memories, (size_t)m->cited[i]);
        json_array_append_new(out, json_pack("{s:O,s:O,s:O}", "memory_id", json_object_get(mem, "id"), "text",
                                             json_object_get(mem, "text"), "source", json_object_get(mem, "source")));
    }
    return out;
}

/* One call of the model with system as its instruction, into s (set up by the caller: its
 * marks know the memories offered). res holds the model's account of the call. */
static int ask_model(const struct brain_input *in, struct llm *l, const char *system, struct stream *s,
                     struct llm_result *res, char *why, size_t whylen)
{
    struct llm_message msgs[LLM_MESSAGES_MAX];
    char *owned[LLM_MESSAGES_MAX];
    int nowned = 0;
    int n = system ? build_messages(in, system, msgs, owned, &nowned) : -1;
    memset(res, 0, sizeof *res);
    int err = n < 0 ? DP_ERR_NOMEM : DP_OK;
    if (!err) {
        struct llm_request rq = {msgs, n, 0, -1, on_delta, stream_gone, s};
        err = llm_chat(l, &rq, res, why, whylen);
    }
    if (!err)
        cite_marks_end(&s->marks);
    if (!err && brain_cancelled(in))
        err = DP_ERR_CANCELLED;
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    return err;
}

static void stream_init(struct stream *s, const struct brain_input *in, const char **ids, int nids, int forward)
{
    *s = (struct stream){in, {0}, {0}, forward};
    buf_init(&s->text, REPLY_MAX);
    cite_marks_init(&s->marks, ids, nids, on_text, s);
}

static void stream_cleanup(struct stream *s)
{
    cite_marks_cleanup(&s->marks);
    buf_cleanup(&s->text);
}

static int guard_on = 1;

void brain_generative_guard(int on)
{
    guard_on = on;
}

#define STRICTER                                                                                                       \
    "\n\nImportant: your last answer stated things about your life that none of your memories above say. Answer "      \
    "again, saying only what your memories above say; where they say nothing, say that you don't remember. Never "     \
    "make up a memory."
#define HONEST_PREFIX "(I have no memory of this, so it may not be true.) "

/* The legacy guard (brain_generative_guard): 1 when the reply in s claims something about the
 * person that neither the memories offered nor the persona card hold. */
static int guard_trips(const struct brain_input *in, const struct stream *s, json_t *memories)
{
    const char *support[OFFERED_MAX + 3] = {0};
    int n = 0;
    for (size_t i = 0; i < json_array_size(memories) && i < OFFERED_MAX; i++)
        support[n++] = json_string_value(json_object_get(json_array_get(memories, i), "text"));
    struct brain_persona p = {0};
    int have_persona = in->persona && in->persona(in, &p) == DP_OK;
    if (have_persona) {
        support[n++] = p.description;
        support[n++] = p.personality;
        support[n++] = p.scenario;
    }
    char said[200];
    int bad = claim_guard_unsupported(s->text.data ? s->text.data : "", support, n, said, sizeof said);
    if (have_persona)
        brain_persona_cleanup(&p);
    if (bad)
        DP_LOG(LOG_INFO, "[brain] legacy guard: no memory supports \"%s\"", said);
    return bad;
}

static void add_usage(struct llm_result *sum, const struct llm_result *r)
{
    if (sum->prompt_tokens >= 0 && r->prompt_tokens >= 0 && sum->completion_tokens >= 0 && r->completion_tokens >= 0) {
        sum->prompt_tokens += r->prompt_tokens;
        sum->completion_tokens += r->completion_tokens;
    } else {
        sum->prompt_tokens = sum->completion_tokens = -1;
    }
}

/* A guarded reply (held back from the listener while it was made): when the guard trips, asked
 * again once with a stricter instruction; if that fails or trips too, the first reply is given
 * with an honest prefix. s ends holding the reply to give (and its marks, its citations). */
static int guard_reply(const struct brain_input *in, struct llm *l, const char *system, json_t *memories,
                       const char **ids, int nids, struct stream *s, struct llm_result *res)
{
    if (!guard_trips(in, s, memories))
        return DP_OK;
    struct buf strict;
    buf_init(&strict, 0);
    buf_printf(&strict, "%s%s", system, STRICTER);
    struct stream again;
    stream_init(&again, in, ids, nids, 0);
    struct llm_result r2;
    char why[256] = "";
    int err = strict.data ? ask_model(in, l, strict.data, &again, &r2, why, sizeof why) : DP_ERR_NOMEM;
    buf_cleanup(&strict);
    if (err == DP_ERR_CANCELLED) {
        stream_cleanup(&again);
        return err;
    }
    if (!err)
        add_usage(res, &r2);
    if (!err && again.text.len && !guard_trips(in, &again, memories)) {
        stream_cleanup(s);
        *s = again;
        s->marks.ctx = s; /* the marks' listener is the stream, now at its new place */
        return DP_OK;
    }
    if (err)
        DP_LOG(LOG_WARN, "[brain] legacy guard: the second answer failed (%s)", why[0] ? why : dp_strerror(err));
    stream_cleanup(&again);
    struct buf honest;
    buf_init(&honest, REPLY_MAX + sizeof HONEST_PREFIX);
    buf_printf(&honest, "%s", HONEST_PREFIX);
    buf_append(&honest, s->text.data, s->text.len);
    if (!honest.data)
        return DP_ERR_NOMEM;
    buf_cleanup(&s->text);
    s->text = honest;
    return DP_OK;
}

static int generative_reply(const struct brain_input *in, struct brain_reply *out)
{
    memset(out, 0, sizeof *out);
    struct llm *l = llm_current();
    if (!l)
        return DP_ERR_NOT_IMPLEMENTED;
    json_t *memories = offered_memories(in);
    const char *ids[OFFERED_MAX] = {0};
    size_t nmem = json_array_size(memories);
    for (size_t i = 0; i < nmem && i < OFFERED_MAX; i++)
        ids[i] = json_string_value(json_object_get(json_array_get(memories, i), "id"));
    int nids = (int)(nmem < OFFERED_MAX ? nmem : OFFERED_MAX);
    /* A guarded reply is held back until it is judged: nothing unsupported reaches the listener. */
    int guarded = guard_on && in->legacy;
    char *system = system_prompt(in, memories);
    struct stream s;
    stream_init(&s, in, ids, nids, !guarded);
    struct llm_result res;
    char why[256] = "";
    int err = ask_model(in, l, system, &s, &res, why, sizeof why);
    int started = !err || res.deltas > 0;
    if (err != DP_ERR_CANCELLED && err != DP_ERR_NOMEM && (!started || !s.text.len || (guarded && err))) {
        /* Nothing reached the listener: the recall brain answers instead, from the same memories. */
        DP_LOG(LOG_WARN, "[brain] generative: %s; the recall brain answers", err ? why : "the model said nothing");
        stream_cleanup(&s);
        free(system);
        json_decref(memories);
        return brain_recall_ops.reply(in, out);
    }
    if (!err && guarded)
        err = guard_reply(in, l, system, memories, ids, nids, &s, &res);
    free(system);
    if (err) {
        DP_LOG(LOG_WARN, "[brain] generative: %s", why[0] ? why : dp_strerror(err));
    } else {
        if (s.marks.dropped)
            DP_LOG(LOG_INFO, "[brain] generative: %d citation(s) of memories never offered dropped", s.marks.dropped);
        if (in->sink && in->sink->usage && res.prompt_tokens >= 0 && res.completion_tokens >= 0)
            in->sink->usage(in->sink->ctx, res.prompt_tokens, res.completion_tokens);
        out->citations = citations_of(&s.marks, memories);
        out->text = buf_steal(&s.text, NULL);
        out->streamed = !guarded; /* a guarded reply is streamed by talk, whole */
        if (!out->text || !out->citations)
            err = DP_ERR_NOMEM;
    }
    stream_cleanup(&s);
    json_decref(memories);
    return err;
}

const struct brain_ops brain_generative_ops = {
    "generative", generative_reply, generative_available,
    "the generative brain needs a language model: start the server with --llm-provider openai, --llm-url and "
    "--llm-model (DOPPEL_LLM_PROVIDER, DOPPEL_LLM_URL, DOPPEL_LLM_MODEL)"};
