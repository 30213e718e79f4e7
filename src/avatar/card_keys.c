/* Lorebook keys: the names and rare content words a memory is about. */
#include <math.h>
#include <string.h>

#include "avatar/card.h"
#include "avatar/card_impl.h"
#include "core/err.h"
#include "core/text.h"
#include "core/utf8.h"

/* ---- keywords ----
 *
 * The keys of an exported entry are what a reader's lorebook scanner matches to bring the entry up,
 * so they must name what the memory is about: proper names first ("Lisbon", "Eddie"), then content
 * words that are rare in this avatar's lorebook (a word every entry holds would trigger them all).
 * Never function words, the avatar's own name (every entry is about it), words of address
 * ("grandpa", "honey"), chat-app names that transcripts mention ("WhatsApp"), booleans or numbers.
 * Inflections count as one word ("planted", "plants" → the shortest form seen), compared through
 * text_word_key, the same folding search uses. */

static const char *const never_keys[] = {
    /* function and filler words besides the toolkit's stop words (core/text.c) */
    "above", "again", "against", "also", "always", "among", "another", "anything", "around", "because", "being",
    "below", "between", "both", "cannot", "char", "doing", "down", "during", "each", "either", "else", "even", "ever",
    "every", "further", "having", "here", "hers", "herself", "himself", "into", "itself", "like", "made", "make",
    "many", "might", "more", "most", "much", "must", "myself", "never", "often", "once", "only", "other", "ours",
    "ourselves", "over", "own", "same", "should", "since", "something", "still", "such", "these", "those", "though",
    "through", "thus", "till", "together", "under", "until", "upon", "user", "want", "wants", "well", "while", "whom",
    "whose", "within", "without", "yours", "yourself", "yourselves", "went", "said", "says", "know", "knows", "quite",
    "shall", "onto", "not", "no", "yes", "yeah", "yep", "nope", "okay", "ok", "oh", "ah", "hmm", "haha", "lol", "too",
    "now", "one", "got", "get", "gets", "getting", "going", "gonna", "come", "came", "coming", "tell", "told", "think",
    "thought", "figure", "figured", "guess", "mean", "meant", "maybe", "sure", "right", "look", "looked", "looking",
    "thing", "things", "stuff", "lot", "lots", "good", "great", "nice", "little", "big", "pretty", "kind", "sort",
    "way", "time", "times", "day", "today", "need", "feel", "felt", "seem", "seems", "let", "lets", "put", "take",
    "took", "give", "gave", "see", "saw", "seen", "try", "tried", "use", "used", "just", "really", "very", "back",
    "still", "anyway", "though", "thanks", "thank", "please", "hello", "hey", "hi", "bye", "out", "off", "yet", "ago",
    "via", "per", "etc", "did", "anyone", "someone", "everyone", "nobody", "anybody", "somebody", "everybody",
    "nothing", "everything", "done", "doing",
    /* booleans and empties */
    "true", "false", "null", "none", "nil", "undefined",
    /* words of address: they name the listener, not the topic */
    "grandpa", "grandma", "granddad", "grandad", "grandmother", "grandfather", "granny", "gran", "nana", "nan", "papa",
    "mama", "mom", "mum", "mommy", "mummy", "dad", "daddy", "honey", "dear", "darling", "sweetie", "sweetheart", "love",
    "buddy", "mate", "pal", "sir", "madam", "ma'am", "guys", "folks", "everyone",
    /* chat applications named by transcripts and their system lines */
    "whatsapp", "telegram", "signal", "messenger", "imessage", "facebook", "instagram", "discord", "slack", "wechat",
    "viber", "skype", "sms", "mms", "omitted", "media", "message", "messages", "deleted", "encrypted", NULL};

static int never_key(const unsigned char *w, size_t n)
{
    char low[24];
    if (text_is_stop(w, n))
        return 1;
    if (n >= sizeof low)
        return 0;
    low[text_fold_word(w, n, low, sizeof low - 1)] = 0;
    for (const char *const *s = never_keys; *s; s++)
        if (!strcmp(*s, low))
            return 1;
    return 0;
}

/* 1 when w has no letter (a number, a date, a time). */
static int no_letter(const unsigned char *w, size_t n)
{
    for (size_t i = 0, l; i < n; i += l) {
        if (text_is_letter(utf8_get(w + i, &l)))
            return 0;
    }
    return 1;
}

struct kw {
    char key[TEXT_KEY_MAX + 1]; /* text_word_key, NUL-terminated */
    const char *p;              /* its shortest surface form in the text */
    size_t n;
    int count, capital_mid, lower, first;
};

/* The distinct candidate words of text (at most max), in order of appearance. */
static int kw_scan(const char *text, struct kw *out, int max, const struct card_key_ctx *ctx)
{
    enum { SCAN_BYTES = 8192 };
    size_t len = strnlen(text, SCAN_BYTES);
    /* End the window on a character boundary (text is UTF-8). */
    if (len == SCAN_BYTES)
        len = utf8_cut(text, len);
    char *copy = strndup(text, len);
    if (!copy)
        return 0;
    int nw = 0, sentence_start = 1;
    const unsigned char *p = (const unsigned char *)copy, *start;
    size_t n;
    while ((n = text_next_word(&p, &start))) {
        /* Sentence ends between the previous word and this one decide whether a capital means a name. */
        for (const unsigned char *b = start; b > (const unsigned char *)copy; b--) {
            unsigned char c = b[-1];
            if (c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '"') {
                sentence_start = 1;
                break;
            }
            if (c != ' ' && c != '\t' && c != '\r' && c != '(' && c != '\'' && c != '*')
                break;
        }
        size_t l;
        unsigned first_cp = utf8_get(start, &l);
        int upper = text_is_upper(first_cp), at_start = sentence_start;
        sentence_start = 0;
        size_t cps = 0;
        for (size_t i = 0; i < n; i += l, cps++)
            utf8_get(start + i, &l);
        if (cps < 3 || n > 40 || no_letter(start, n) || never_key(start, n))
            continue;
        char key[TEXT_KEY_MAX + 1];
        size_t kl = text_word_key(start, n, key);
        key[kl] = 0;
        if (ctx && ctx->exclude && json_object_get(ctx->exclude, key))
            continue;
        int at = -1;
        for (int k = 0; k < nw && at < 0; k++)
            if (!strcmp(out[k].key, key))
                at = k;
        if (at < 0) {
            if (nw == max)
                continue;
            at = nw++;
            memset(&out[at], 0, sizeof out[at]);
            memcpy(out[at].key, key, kl + 1);
            out[at].p = text + (start - (const unsigned char *)copy);
            out[at].n = n;
            out[at].first = at;
        } else if (n < out[at].n) {
            out[at].p = text + (start - (const unsigned char *)copy);
            out[at].n = n;
        }
        out[at].count++;
        if (upper && !at_start)
            out[at].capital_mid = 1;
        if (!upper)
            out[at].lower = 1;
    }
    free(copy);
    return nw;
}

static double kw_score(const struct kw *w, const struct card_key_ctx *ctx)
{
    /* A capital mid-sentence and never lower case: a name. Capitalised only at sentence starts:
     * perhaps a name ("Margaret grew tomatoes."). */
    double s = w->lower ? 0 : w->capital_mid ? 3 : 1.5;
    if (ctx && ctx->ndocs > 1) {
        json_t *df = json_object_get(ctx->df, w->key);
        double d = df ? (double)json_integer_value(df) : 1;
        s += log(((double)ctx->ndocs + 1) / (d + 0.5));
    } else {
        s += 1;
    }
    s += 0.5 * log(1 + w->count) + 0.05 * (double)(w->n > 12 ? 12 : w->n);
    return s;
}

int card_key_ctx_add(struct card_key_ctx *ctx, const char *text)
{
    struct kw words[256];
    int nw = kw_scan(text, words, 256, ctx);
    for (int i = 0; i < nw; i++) {
        json_t *v = json_object_get(ctx->df, words[i].key);
        if (json_object_set_new(ctx->df, words[i].key, json_integer(v ? json_integer_value(v) + 1 : 1)))
            return DP_ERR_NOMEM;
    }
    ctx->ndocs++;
    return DP_OK;
}

int card_key_ctx_init(struct card_key_ctx *ctx, const char *avatar_name)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->df = json_object();
    ctx->exclude = json_object();
    if (!ctx->df || !ctx->exclude) {
        card_key_ctx_cleanup(ctx);
        return DP_ERR_NOMEM;
    }
    const unsigned char *p = (const unsigned char *)(avatar_name ? avatar_name : ""), *start;
    size_t n;
    while ((n = text_next_word(&p, &start))) {
        char key[TEXT_KEY_MAX + 1];
        size_t kl = text_word_key(start, n, key);
        key[kl] = 0;
        json_object_set_new(ctx->exclude, key, json_true());
    }
    return DP_OK;
}

void card_key_ctx_cleanup(struct card_key_ctx *ctx)
{
    json_decref(ctx->df);
    json_decref(ctx->exclude);
    memset(ctx, 0, sizeof *ctx);
}

json_t *card_keywords_in(const char *text, size_t max, const struct card_key_ctx *ctx)
{
    enum { MAX_WORDS = 256 };
    struct kw *words = malloc(MAX_WORDS * sizeof *words);
    json_t *keys = json_array();
    if (!words || !keys) {
        free(words);
        json_decref(keys);
        return NULL;
    }
    int nw = kw_scan(text, words, MAX_WORDS, ctx);
    double score[MAX_WORDS];
    for (int k = 0; k < nw; k++)
        score[k] = kw_score(&words[k], ctx);
    while (json_array_size(keys) < max) {
        int best = -1;
        for (int k = 0; k < nw; k++)
            if (words[k].count > 0 && (best < 0 || score[k] > score[best] + 1e-9))
                best = k;
        if (best < 0)
            break;
        /* A word most of a large lorebook holds would bring up every entry: not a key. */
        json_t *df = ctx ? json_object_get(ctx->df, words[best].key) : NULL;
        int common = ctx && ctx->ndocs >= 10 && df && (size_t)json_integer_value(df) * 2 > ctx->ndocs &&
                     !words[best].capital_mid;
        words[best].count = 0;
        if (common)
            continue;
        char w[41];
        /* Names keep their case; other words are matched case-insensitively anyway. */
        if (words[best].lower)
            w[text_lower_word((const unsigned char *)words[best].p, words[best].n, w, sizeof w - 1)] = 0;
        else {
            memcpy(w, words[best].p, words[best].n);
            w[words[best].n] = 0;
        }
        json_array_append_new(keys, json_string(w));
    }
    free(words);
    return keys;
}

json_t *card_keywords(const char *text, size_t max)
{
    return card_keywords_in(text, max, NULL);
}
