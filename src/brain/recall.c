/* The recall brain: answers with the avatar's own words, never invents.
 *
 *  1. Greetings and small talk ("hi", "good morning" …) get the persona card's greeting.
 *  2. Follow-ups ("tell me more", "go on", "and then?") continue from the memory cited last:
 *     the next passage or utterance of the same source, in order.
 *  3. Otherwise the memories are searched with the message (plus the previous user message's
 *     words when the message is short, so "and your sister?" keeps its topic). A candidate must
 *     contain at least half of the message's content words (stop words removed, light stemming);
 *     among those, more coverage wins, then the search rank. Below that threshold the answer is
 *     an honest "I don't remember".
 *  4. Dialogue: when the best match is an utterance someone said to the avatar (a speaker and an
 *     order within a recording or chat), the answer is what came next from the other speaker.
 *  5. Q&A memories answer with their answer part; facts and passages are quoted as they are.
 * Every answer that uses a memory cites it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "brain/memory.h"
#include "core/err.h"
#include "store/db.h"

#define MAX_TERMS 32
#define TERM_LEN 32

static const char *const stop[] = {
    "a", "about", "after", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before", "but", "by",
    "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if",
    "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "she", "so", "tell", "that", "the", "their",
    "them", "then", "there", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who",
    "why", "will", "with", "would", "you", "your", "remember", "know", "think", "please", "ever", "much", "many",
    "some", "something", "anything", "us", "him", "just", "really", "very", NULL};

static const char *const hellos[] = {"hi", "hello", "hey", "hiya", "howdy", "greetings", "morning", "evening",
                                     "afternoon", "yo", NULL};

static const char *const more[] = {"tell me more", "more", "go on", "and then", "what else", "what happened next",
                                   "continue", "keep going", "anything else", NULL};

struct terms {
    int n;
    char t[MAX_TERMS][TERM_LEN];
};

static int listed(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(w, *list))
            return 1;
    return 0;
}

/* Light stemming so "planted"/"planting"/"plants" meet "plant": strips one common suffix. */
static void stem(char *w)
{
    size_t n = strlen(w);
    static const char *const suffixes[] = {"ing", "ed", "es", "s", NULL};
    for (const char *const *s = suffixes; *s; s++) {
        size_t k = strlen(*s);
        if (n > k + 2 && !strcmp(w + n - k, *s)) {
            w[n - k] = 0;
            return;
        }
    }
}

/* The content words of text: lower-cased, stop words out, stemmed, distinct. */
static void content_words(const char *text, struct terms *out, int keep_stop)
{
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        while (*p && !(isalnum(*p) || *p >= 0x80))
            p++;
        char w[TERM_LEN];
        size_t n = 0;
        while (*p && (isalnum(*p) || *p >= 0x80 || *p == '\'')) {
            if (n + 1 < sizeof w && *p != '\'')
                w[n++] = (char)(*p < 0x80 ? tolower(*p) : *p);
            p++;
        }
        w[n] = 0;
        if (!n || (!keep_stop && listed(w, stop)))
            continue;
        stem(w);
        int dup = 0;
        for (int i = 0; i < out->n && !dup; i++)
            dup = !strcmp(out->t[i], w);
        if (!dup && out->n < MAX_TERMS)
            memcpy(out->t[out->n++], w, TERM_LEN);
    }
}

/* How many of q's words text contains. */
static int coverage(const struct terms *q, const char *text)
{
    struct terms t = {0};
    content_words(text, &t, 1);
    int hit = 0;
    for (int i = 0; i < q->n; i++)
        for (int j = 0; j < t.n; j++)
            if (!strcmp(q->t[i], t.t[j])) {
                hit++;
                break;
            }
    return hit;
}

static int phrase_in(const char *msg, const char *const *list)
{
    char low[256];
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < sizeof low; p++)
        if (isalnum((unsigned char)*p) || *p == ' ')
            low[n++] = (char)tolower((unsigned char)*p);
    low[n] = 0;
    while (n && low[n - 1] == ' ')
        low[--n] = 0;
    const char *s = low;
    while (*s == ' ')
        s++;
    for (; *list; list++)
        if (!strcmp(s, *list) || (!strncmp(s, *list, strlen(*list)) && s[strlen(*list)] == ' '))
            return 1;
    return 0;
}

static int is_greeting(const char *msg)
{
    struct terms all = {0};
    content_words(msg, &all, 1);
    if (all.n == 0 || all.n > 4)
        return 0;
    for (int i = 0; i < all.n; i++)
        if (listed(all.t[i], hellos))
            return 1;
    return 0;
}

static json_t *citation_of(json_t *memory)
{
    return json_pack("{s:O,s:O,s:O}", "memory_id", json_object_get(memory, "id"), "text",
                     json_object_get(memory, "text"), "source", json_object_get(memory, "source"));
}

/* The answer part of a Q&A memory ("Q: … A: …"), else the whole text. */
static char *answer_text(json_t *memory)
{
    const char *t = json_string_value(json_object_get(memory, "text"));
    const char *kind = json_string_value(json_object_get(memory, "kind"));
    if (kind && !strcmp(kind, "qa")) {
        const char *a = strstr(t, "A:");
        if (a && (a == t || a[-1] == '\n' || a[-1] == ' ')) {
            a += 2;
            while (*a == ' ')
                a++;
            if (*a)
                return strdup(a);
        }
    }
    return strdup(t);
}

/* The memory after `memory` in its source (same media, next seq), optionally by another speaker. */
static json_t *next_in_source(struct db *db, const char *avatar_id, json_t *memory, int other_speaker)
{
    json_t *src = json_object_get(memory, "source");
    const char *media = json_string_value(json_object_get(src, "media_id"));
    if (!media)
        return NULL;
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(json_string_value(json_object_get(memory, "id"))), DB_TEXT(avatar_id),
                         DB_TEXT(media)};
    if (db_query(db,
                 "SELECT n.id, n.speaker FROM memories n, memories c WHERE c.id = ? AND n.avatar_id = ? AND "
                 "n.media_id = ? AND n.seq > c.seq ORDER BY n.seq LIMIT 8",
                 p, 3, &r))
        return NULL;
    const char *speaker = json_string_value(json_object_get(memory, "speaker"));
    json_t *out = NULL;
    for (int i = 0; i < r->nrows && !out; i++) {
        const char *s = db_rows_text(r, i, 1);
        if (other_speaker && (!s || !speaker || !strcmp(s, speaker)))
            continue;
        memory_get(db, avatar_id, db_rows_text(r, i, 0), &out);
    }
    db_rows_free(r);
    return out;
}

static int answer_with(struct brain_reply *out, json_t *memory)
{
    out->text = answer_text(memory);
    out->citations = json_array();
    json_array_append_new(out->citations, citation_of(memory));
    json_decref(memory);
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

static int say(struct brain_reply *out, const char *text)
{
    out->text = strdup(text);
    out->citations = json_array();
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

/* The memory cited by the avatar's last message, if any. */
static json_t *last_cited(const struct brain_input *in)
{
    for (size_t i = json_array_size(in->history); i-- > 0;) {
        json_t *m = json_array_get(in->history, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "avatar")) {
            json_t *c = json_array_get(json_object_get(m, "citations"), 0);
            const char *id = json_string_value(json_object_get(c, "memory_id"));
            json_t *mem = NULL;
            if (id)
                memory_get(in->db, in->avatar_id, id, &mem);
            return mem;
        }
    }
    return NULL;
}

static const char *previous_user_message(const struct brain_input *in)
{
    for (size_t i = json_array_size(in->history); i-- > 0;) {
        json_t *m = json_array_get(in->history, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "user"))
            return json_string_value(json_object_get(m, "text"));
    }
    return NULL;
}

static int recall_reply(const struct brain_input *in, struct brain_reply *out)
{
    memset(out, 0, sizeof *out);
    if (is_greeting(in->message))
        return say(out, in->greeting && *in->greeting ? in->greeting : "Hello!");
    if (phrase_in(in->message, more)) {
        json_t *last = last_cited(in);
        json_t *next = last ? next_in_source(in->db, in->avatar_id, last, 0) : NULL;
        json_decref(last);
        if (next)
            return answer_with(out, next);
        if (last)
            return say(out, "That is all I remember about that.");
    }
    struct terms q = {0};
    content_words(in->message, &q, 0);
    /* A short follow-up borrows the topic of the previous question. */
    char query[2048];
    const char *prev = previous_user_message(in);
    snprintf(query, sizeof query, "%s%s%s", in->message, q.n < 2 && prev ? " " : "", q.n < 2 && prev ? prev : "");
    struct terms qq = {0};
    content_words(query, &qq, 0);
    if (qq.n == 0)
        return say(out, "I'm not sure what you mean. Ask me about something I might remember.");
    json_t *items = NULL;
    char *next = NULL, msg[128];
    int err = memory_list(in->db, in->avatar_id, query, NULL, 12, &items, &next, msg, sizeof msg);
    free(next);
    if (err == DP_ERR_INVALID)
        return say(out, "I'm not sure what you mean. Ask me about something I might remember.");
    if (err)
        return err;
    /* At least half of the message's own words must be in the memory. */
    int need = q.n ? (q.n + 1) / 2 : (qq.n + 1) / 2;
    const struct terms *judge = q.n ? &q : &qq;
    json_t *best = NULL;
    int best_hits = 0;
    size_t i;
    json_t *m;
    json_array_foreach(items, i, m)
    {
        int hits = coverage(judge, json_string_value(json_object_get(m, "text")));
        if (hits >= need && hits > best_hits) {
            best = m;
            best_hits = hits;
        }
    }
    if (!best) {
        json_decref(items);
        return say(out, "I'm sorry, I don't remember anything about that.");
    }
    json_incref(best);
    json_decref(items);
    const char *kind = json_string_value(json_object_get(best, "kind"));
    if (kind && !strcmp(kind, "utterance") && json_is_string(json_object_get(best, "speaker"))) {
        json_t *reply = next_in_source(in->db, in->avatar_id, best, 1);
        if (reply) {
            json_decref(best);
            return answer_with(out, reply);
        }
    }
    return answer_with(out, best);
}

const struct brain_ops brain_recall_ops = {"recall", recall_reply};

const struct brain_ops *brain_for(const char *name)
{
    if (name && !strcmp(name, "recall"))
        return &brain_recall_ops;
    return NULL;
}

void brain_reply_cleanup(struct brain_reply *r)
{
    free(r->text);
    json_decref(r->citations);
    r->text = NULL;
    r->citations = NULL;
}
