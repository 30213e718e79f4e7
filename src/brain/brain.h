/* Brains: what answers a message to an avatar. A brain is one file behind struct brain_ops,
 * chosen per avatar: "recall" (built in, the default) and "generative" (a language model, when
 * one is configured: providers/llm.h). */
#ifndef DP_BRAIN_H
#define DP_BRAIN_H

#include <jansson.h>

#include "core/text.h"

struct db;

/* The persona card's own account of the avatar (fields malloc'd, "" when empty). */
struct brain_persona {
    char *description, *personality, *scenario;
    char *examples; /* the card's example dialogue (mes_example) */
};
void brain_persona_cleanup(struct brain_persona *p);

/* Where a reply goes while it is made: its pieces as they come (delta), then its citations. A
 * brain that makes its text piece by piece (a language model's tokens) sends each and sets
 * brain_reply.streamed; one that makes it whole leaves that to its caller. Members may be NULL. */
struct brain_sink {
    void (*delta)(void *ctx, const char *text, size_t len);
    void (*citation)(void *ctx, json_t *citation); /* borrowed */
    void *ctx;
    /* The model's count of the tokens it read and wrote, when a brain that uses one is told it. */
    void (*usage)(void *ctx, long prompt_tokens, long completion_tokens);
};

struct brain_input;
/* What a brain asks its caller (talk/, which owns the avatar) for, only when it needs it: the
 * persona card, and the person's way of speaking — the opening word they use most ("" when
 * none) and the formality of their own words (0–1; 0.5 when unknown). NULL: none known. */
typedef int (*brain_persona_fn)(const struct brain_input *in, struct brain_persona *out);
typedef int (*brain_voice_fn)(const struct brain_input *in, char opening[32], double *formality);

struct brain_input {
    struct db *db;
    const char *avatar_id;
    const char *avatar_name;
    const char *greeting; /* the persona card's greeting ("" when none) */
    const char *message;  /* the user's message */
    json_t *history;      /* earlier messages, oldest first: [{role, text, citations}] (borrowed) */
    /* NULL, or 1 once nobody waits for the reply any more (the client went away): a brain checks
     * it between its costly steps and then gives up with DP_ERR_CANCELLED. */
    int (*cancelled)(void *ctx);
    void *cancel_ctx;
    brain_persona_fn persona;
    brain_voice_fn voice;
    const struct brain_sink *sink; /* NULL: nobody listens to the pieces */
    int legacy;                    /* the avatar speaks for a person who has died (kind legacy) */
};

/* 1 when in's caller has gone away. */
static inline int brain_cancelled(const struct brain_input *in)
{
    return in->cancelled && in->cancelled(in->cancel_ctx);
}

struct brain_reply {
    char *text;        /* malloc'd */
    json_t *citations; /* [{memory_id, text, source}] (owned) */
    int streamed;      /* 1: the brain sent the text's pieces to in->sink itself */
};

struct brain_ops {
    const char *name;
    /* Answers in->message. DP_OK with *out filled, or an error. */
    int (*reply)(const struct brain_input *in, struct brain_reply *out);
    /* 1 when it can answer in this process (NULL: always); the generative brain needs a model. */
    int (*available)(void);
    /* What to set for it to become available (NULL when it always is). */
    const char *needs;
};

struct registry;
/* The brains (core/registry.h), by name: recall, generative. */
struct registry *brain_registry(void);

/* The brain named name; NULL when there is none or it is not available (brain_ops.available). */
const struct brain_ops *brain_for(const char *name);
void brain_reply_cleanup(struct brain_reply *r);

extern const struct brain_ops brain_recall_ops;
extern const struct brain_ops brain_generative_ops;

/* Turns the generative brain's legacy guard on (the default) or off: a legacy avatar's reply that
 * claims something about the person that no memory offered supports is made again once with a
 * stricter instruction, and if it still does, said with an honest prefix (brain/claim_guard.h).
 * Call before threads start. */
void brain_generative_guard(int on);

/* Why the brain named name cannot answer in this process ("" when it can, or is unknown). */
const char *brain_unavailable_why(const char *name);

/* The content words the recall brain looks for in text (valid UTF-8): word keys as search makes
 * them (text_word_key), stop words and vague words ("remember", "know" …) out, distinct, in
 * order. Up to max into keys (NUL-terminated); returns how many. */
int brain_recall_words(const char *text, char keys[][TEXT_KEY_MAX + 1], int max);

#endif
