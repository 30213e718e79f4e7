/* LLM memory extraction (see extract.h). */
#include "brain/extract.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain/memory.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/utf8.h"
#include "providers/llm.h"
#include "store/db.h"

#define DECIDE_CANDIDATES 20 /* search results looked through for a similar fact memory */

/* text trimmed and cut at max bytes (malloc'd); NULL when empty or not text. */
static char *trimmed(const char *text, size_t len, size_t max)
{
    while (len && isspace((unsigned char)*text))
        text++, len--;
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (!len || !utf8_valid(text, len) || memchr(text, 0, len))
        return NULL; /* a NUL would cut the text short: the model's line is not text */
    char *t = strndup(text, len);
    if (t && len > max)
        t[utf8_cut(t, max)] = 0;
    return t;
}

/* A fact's text, trimmed and cut at EXTRACT_FACT_MAX; NULL when empty. */
static json_t *fact_of(const char *text, size_t len, double importance)
{
    char *t = trimmed(text, len, EXTRACT_FACT_MAX);
    if (!t)
        return NULL;
    if (importance < 0 || importance > 1)
        importance = 0.5;
    json_t *f = json_pack("{s:s,s:f}", "text", t, "importance", importance);
    free(t);
    return f;
}

/* The facts of parsed JSON: {"facts": [...]} or [...]; items strings or {text|fact, importance}. */
static json_t *facts_of_json(json_t *j)
{
    json_t *list = json_is_array(j) ? j : json_object_get(j, "facts");
    if (!json_is_array(list))
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach (list, i, it) {
        if (json_array_size(out) >= EXTRACT_FACTS_MAX)
            break;
        const char *t = json_is_string(it) ? json_string_value(it) : json_string_value(json_object_get(it, "text"));
        if (!t)
            t = json_string_value(json_object_get(it, "fact"));
        json_t *imp = json_object_get(it, "importance");
        json_t *f = t ? fact_of(t, strlen(t), json_is_number(imp) ? json_number_value(imp) : 0.5) : NULL;
        if (f)
            json_array_append_new(out, f);
    }
    return out;
}

/* The JSON inside a model's answer: from the first { or [ to the last } or ], trailing commas
 * before a closing bracket dropped (outside strings). Malloc'd; NULL when there is none. */
static char *repaired(const char *s, size_t len)
{
    const char *a = NULL, *z = NULL;
    for (size_t i = 0; i < len && !a; i++)
        if (s[i] == '{' || s[i] == '[')
            a = s + i;
    for (size_t i = len; i > 0 && !z; i--)
        if (s[i - 1] == '}' || s[i - 1] == ']')
            z = s + i;
    if (!a || !z || z <= a)
        return NULL;
    char *out = malloc((size_t)(z - a) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    int in_str = 0, esc = 0;
    for (const char *p = a; p < z; p++) {
        char c = *p;
        if (in_str) {
            esc = !esc && c == '\\';
            in_str = esc || c != '"';
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '}' || c == ']') {
            size_t k = n;
            while (k && isspace((unsigned char)out[k - 1]))
                k--;
            if (k && out[k - 1] == ',')
                out[k - 1] = ' ';
        }
        out[n++] = c;
    }
    out[n] = 0;
    return out;
}

/* Facts as lines of a list ("- …", "* …", "1. …"). */
static json_t *facts_of_lines(const char *s, size_t len)
{
    json_t *out = json_array();
    const char *end = s + len;
    for (const char *p = s; p < end && json_array_size(out) < EXTRACT_FACTS_MAX;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *q = p;
        while (q < e && isspace((unsigned char)*q))
            q++;
        int item = 0;
        if (q < e && (*q == '-' || *q == '*'))
            q++, item = 1;
        else if (q + 1 < e && isdigit((unsigned char)*q)) {
            while (q < e && isdigit((unsigned char)*q))
                q++;
            if (q < e && (*q == '.' || *q == ')'))
                q++, item = 1;
        }
        json_t *f = item ? fact_of(q, (size_t)(e - q), 0.5) : NULL;
        if (f)
            json_array_append_new(out, f);
        p = nl ? nl + 1 : end;
    }
    return out;
}

int extract_parse(const char *reply, size_t len, json_t **facts, int *how)
{
    *facts = NULL;
    json_t *j = json_loadb(reply, len, 0, NULL);
    json_t *f = j ? facts_of_json(j) : NULL;
    json_decref(j);
    *how = 0;
    if (!f) {
        char *fixed = repaired(reply, len);
        j = fixed ? json_loads(fixed, 0, NULL) : NULL;
        f = j ? facts_of_json(j) : NULL;
        json_decref(j);
        free(fixed);
        *how = 1;
    }
    if (!f || !json_array_size(f)) {
        json_decref(f);
        f = facts_of_lines(reply, len);
        *how = 2;
    }
    if (!json_array_size(f)) {
        json_decref(f);
        return DP_ERR_INVALID;
    }
    *facts = f;
    return DP_OK;
}

const char *const extract_trait_names[] = {"warmth",    "enthusiasm", "curiosity", "formality",
                                           "verbosity", "humour",     NULL};

static int trait_known(const char *name)
{
    for (const char *const *t = extract_trait_names; name && *t; t++)
        if (!strcmp(*t, name))
            return 1;
    return 0;
}

json_t *extract_parse_traits(const char *reply, size_t len)
{
    json_t *out = json_array();
    json_t *j = json_loadb(reply, len, 0, NULL);
    if (!j) { /* repaired as the facts are; a list of lines holds no traits */
        char *fixed = repaired(reply, len);
        j = fixed ? json_loads(fixed, 0, NULL) : NULL;
        free(fixed);
    }
    json_t *list = json_object_get(j, "traits"), *it;
    size_t i;
    json_array_foreach (list, i, it) {
        if (!out || json_array_size(out) >= EXTRACT_TRAITS_MAX)
            break;
        const char *name = json_string_value(json_object_get(it, "trait"));
        const char *ev = json_string_value(json_object_get(it, "evidence"));
        json_t *score = json_object_get(it, "score");
        double v = json_is_number(score) ? json_number_value(score) : -1;
        char *t = trait_known(name) && v >= 0 && v <= 1 && ev ? trimmed(ev, strlen(ev), EXTRACT_EVIDENCE_MAX) : NULL;
        if (t)
            json_array_append_new(out, json_pack("{s:s,s:f,s:s}", "trait", name, "score", v, "evidence", t));
        free(t);
    }
    json_decref(j);
    return out;
}

#define FACT_KEYS_MAX 64 /* content words of a fact matched against the lines it may come from */

/* The distinct content-word keys of text (at most FACT_KEYS_MAX) into keys/lens; how many. */
static int content_keys(const char *text, char keys[][TEXT_KEY_MAX], size_t lens[])
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)text, *w;
    size_t len;
    while (n < FACT_KEYS_MAX && (len = text_next_word(&p, &w))) {
        if (text_is_stop(w, len))
            continue;
        size_t k = text_word_key(w, len, keys[n]);
        int seen = !k;
        for (int i = 0; i < n && !seen; i++)
            seen = lens[i] == k && !memcmp(keys[i], keys[n], k);
        if (!seen)
            lens[n++] = k;
    }
    return n;
}

int extract_fact_lines(const char *fact, const char *const *lines, int n, int *picked)
{
    char keys[FACT_KEYS_MAX][TEXT_KEY_MAX], line_keys[FACT_KEYS_MAX][TEXT_KEY_MAX];
    size_t lens[FACT_KEYS_MAX], line_lens[FACT_KEYS_MAX];
    int nk = content_keys(fact, keys, lens), best = 0, found = 0;
    for (int i = 0; i < n; i++) {
        int nl = content_keys(lines[i], line_keys, line_lens), shared = 0;
        for (int a = 0; a < nk; a++)
            for (int b = 0; b < nl; b++)
                if (lens[a] == line_lens[b] && !memcmp(keys[a], line_keys[b], lens[a])) {
                    shared++;
                    break;
                }
        picked[i] = shared;
        best = shared > best ? shared : best;
    }
    for (int i = 0; i < n; i++) {
        picked[i] = best && picked[i] * 2 >= best;
        found += picked[i];
    }
    return found;
}

/* Closes the chunk in b: {text} and, for utterances, the span and time they were said. */
static void chunk_close(json_t *out, struct buf *b, int64_t start_ms, int64_t end_ms, const char *occurred_at,
                        json_t **lines)
{
    if (!b->len)
        return;
    json_t *c = json_pack("{s:s%}", "text", b->data, b->len);
    if (start_ms >= 0) {
        json_object_set_new(c, "start_ms", json_integer(start_ms));
        json_object_set_new(c, "end_ms", json_integer(end_ms));
        json_object_set_new(c, "lines", *lines);
        *lines = json_array();
    }
    if (occurred_at)
        json_object_set_new(c, "occurred_at", json_string(occurred_at));
    json_array_append_new(out, c);
    b->len = 0;
}

int extract_media_chunks(struct db *db, const char *media_id, json_t **chunks)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(media_id)};
    int err = db_query(db,
                       "SELECT text, start_ms, end_ms, occurred_at FROM memories WHERE media_id = ? AND kind IN "
                       "('passage', 'utterance') AND seq IS NOT NULL ORDER BY seq, id",
                       p, 1, &r);
    if (err)
        return err;
    json_t *out = json_array();
    struct buf b;
    buf_init(&b, 0);
    int64_t start_ms = -1, end_ms = -1;
    const char *said = NULL;
    json_t *lines = json_array(); /* a transcript chunk's utterances, each with its span */
    for (int i = 0; i < r->nrows; i++) {
        const char *t = db_rows_text(r, i, 0);
        size_t n = strlen(t);
        if (b.len && b.len + n + 2 > EXTRACT_CHUNK_MAX) {
            chunk_close(out, &b, start_ms, end_ms, said, &lines);
            start_ms = -1, said = NULL;
        }
        if (!db_rows_is_null(r, i, 1)) { /* a transcript's utterance: the chunk spans its lines */
            if (start_ms < 0) {
                start_ms = db_rows_int(r, i, 1);
                said = db_rows_is_null(r, i, 3) ? NULL : db_rows_text(r, i, 3);
            }
            end_ms = db_rows_int(r, i, 2);
            json_t *line = json_pack("{s:s,s:I,s:I}", "text", t, "start_ms", (json_int_t)db_rows_int(r, i, 1), "end_ms",
                                     (json_int_t)end_ms);
            if (line && !db_rows_is_null(r, i, 3))
                json_object_set_new(line, "occurred_at", json_string(db_rows_text(r, i, 3)));
            json_array_append_new(lines, line);
        }
        if (b.len)
            buf_append(&b, start_ms >= 0 ? "\n" : "\n\n", start_ms >= 0 ? 1 : 2);
        buf_append(&b, t, n > EXTRACT_CHUNK_MAX ? utf8_cut(t, EXTRACT_CHUNK_MAX) : n);
    }
    chunk_close(out, &b, start_ms, end_ms, said, &lines);
    json_decref(lines);
    buf_cleanup(&b);
    db_rows_free(r);
    *chunks = out;
    return DP_OK;
}

static int collect(void *ctx, const char *text, size_t len)
{
    return buf_append(ctx, text, len) != DP_OK;
}

/* One whole answer of the model to system + user (at most 64 KiB). */
static int ask(const char *system, const char *user, struct buf *answer, char *why, size_t whylen)
{
    struct llm *l = llm_current();
    if (!l) {
        snprintf(why, whylen, "no language model is configured (--llm-provider)");
        return DP_ERR_UNAVAILABLE;
    }
    struct llm_message msgs[] = {{"system", system}, {"user", user}};
    struct llm_request rq = {msgs, 2, 1024, 0, collect, NULL, answer};
    struct llm_result res;
    buf_init(answer, 64u << 10);
    return llm_chat(l, &rq, &res, why, whylen);
}

int extract_facts(const char *avatar_name, const char *chunk, json_t **facts, json_t **traits, char *why, size_t whylen)
{
    char system[1536];
    snprintf(system, sizeof system,
             "You extract facts from a text for the memory of %.200s. List the facts the text states about %.200s's "
             "life, people, places, habits and opinions, each one short sentence in the first person, as %.200s "
             "would say it. Only what the text says; nothing else. Also list what the text shows of %.200s's "
             "personality, if anything: a trait (warmth, enthusiasm, curiosity, formality, verbosity or humour), "
             "how strong it is (0.0 to 1.0) and the words that show it. Answer only JSON: "
             "{\"facts\": [{\"text\": \"...\", \"importance\": 0.0 to 1.0}], "
             "\"traits\": [{\"trait\": \"...\", \"score\": 0.0 to 1.0, \"evidence\": \"...\"}]}",
             avatar_name, avatar_name, avatar_name, avatar_name);
    struct buf answer;
    *facts = NULL;
    if (traits)
        *traits = NULL;
    int err = ask(system, chunk, &answer, why, whylen);
    int how = 0;
    const char *a = answer.data ? answer.data : "";
    if (!err && traits) /* even beside no facts: how something is said shows who says it */
        *traits = extract_parse_traits(a, answer.len);
    if (!err && (err = extract_parse(a, answer.len, facts, &how)))
        snprintf(why, whylen, "the model's answer holds no facts");
    buf_cleanup(&answer);
    return err;
}

/* The avatar's fact memory most like text (NULL: none). */
static json_t *similar_fact(struct db *db, const char *avatar_id, const char *text)
{
    json_t *items = NULL, *found = NULL;
    char *next = NULL, msg[128];
    if (memory_list(db, avatar_id, text, NULL, DECIDE_CANDIDATES, &items, &next, msg, sizeof msg) == DP_OK) {
        size_t i;
        json_t *m;
        json_array_foreach (items, i, m) {
            const char *kind = json_string_value(json_object_get(m, "kind"));
            if (kind && !strcmp(kind, "fact")) {
                found = json_incref(m);
                break;
            }
        }
    }
    json_decref(items);
    free(next);
    return found;
}

/* The same words, whatever their case and a final full stop. */
static int same_fact(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la && (a[la - 1] == '.' || isspace((unsigned char)a[la - 1])))
        la--;
    while (lb && (b[lb - 1] == '.' || isspace((unsigned char)b[lb - 1])))
        lb--;
    return text_lower_eq(a, la, b, lb);
}

int extract_apply(struct db *db, const char *avatar_id, json_t *fact, const struct memory_source *source,
                  int (*may_add)(void *ctx), void *ctx, enum extract_action *did)
{
    *did = EXTRACT_NONE;
    const char *text = json_string_value(json_object_get(fact, "text"));
    double importance = json_number_value(json_object_get(fact, "importance"));
    if (!text || !*text)
        return DP_ERR_INVALID;
    json_t *old = similar_fact(db, avatar_id, text);
    const char *old_text = json_string_value(json_object_get(old, "text"));
    int err = DP_OK;
    const char *action = "ADD";
    char *new_text = NULL;
    if (old_text && same_fact(old_text, text)) {
        action = "NONE";
    } else if (old_text) {
        /* A similar memory: the model decides whether the new fact is the same, corrects it or is new. */
        char user[2 * EXTRACT_FACT_MAX + MEMORY_TEXT_MAX / 10 + 64], why[200];
        snprintf(user, sizeof user, "Memory: %.2000s\nNew fact: %s", old_text, text);
        struct buf answer;
        err = ask("You keep a person's memories up to date. Given a memory and a new fact, answer only JSON "
                  "{\"action\": \"ADD\" | \"UPDATE\" | \"DELETE\" | \"NONE\", \"text\": \"...\"}: ADD when the fact "
                  "is about something else, UPDATE with the memory's corrected or completed text when the fact "
                  "changes or adds to it, NONE when the memory already says it.",
                  user, &answer, why, sizeof why);
        char *fixed = !err ? repaired(answer.data ? answer.data : "", answer.len) : NULL;
        json_t *d = fixed ? json_loads(fixed, 0, NULL) : NULL;
        const char *a = json_string_value(json_object_get(d, "action"));
        const char *t = json_string_value(json_object_get(d, "text"));
        if (a && !strcmp(a, "UPDATE") && t && *t && strlen(t) <= MEMORY_TEXT_MAX && !same_fact(t, old_text))
            action = "UPDATE", new_text = strdup(t);
        else if (a && !strcmp(a, "UPDATE"))
            action = "NONE"; /* an "update" to what the memory says already: no new version */
        else if (a && (!strcmp(a, "NONE") || !strcmp(a, "DELETE")))
            action = "NONE"; /* DELETE is never carried out: see extract.h */
        json_decref(d);
        free(fixed);
        buf_cleanup(&answer);
    }
    json_t *out = NULL;
    if (!err && !strcmp(action, "ADD") && !(err = may_add ? may_add(ctx) : DP_OK) &&
        !(err = memory_create_with_source(db, avatar_id, text, "fact", importance, NULL, source, &out)))
        *did = EXTRACT_ADD;
    else if (!err && new_text &&
             !(err = memory_update(db, avatar_id, json_string_value(json_object_get(old, "id")), new_text, NULL, NULL,
                                   NULL, NULL, NULL, &out)))
        *did = EXTRACT_UPDATE;
    json_decref(out);
    json_decref(old);
    free(new_text);
    return err;
}
