/* Personality heuristics ("heuristic-v1").
 *
 * Style statistics, over all samples together:
 *   sentence_length   mean words per sentence (sentences end at . ! ? or a line break)
 *   vocabulary        distinct words / words (type-token ratio), and mean word length
 *   punctuation       '!' '?' '…'/'...' and ',' per 100 words; emoji per 100 words
 *   formality         (formal markers − informal markers) / words, squashed to 0–1; markers are
 *                     listed below (contractions and slang are informal)
 *   sentiment         (positive − negative lexicon hits) / (hits + 1), in −1…1
 *   phrases           the most frequent two- and three-word phrases (seen at least twice)
 *   greetings         how samples and lines open ("hi", "hello", "dear", "good morning" …)
 * Traits, each a 0–1 score with the counts that produced it:
 *   warmth       positive words, thanks/please, affection words, sentiment
 *   enthusiasm   exclamations and emoji per 100 words
 *   curiosity    questions per 100 words
 *   formality    the formality statistic
 *   verbosity    sentence length (5 words → 0, 30 words → 1)
 *   humour       laughter tokens (haha, lol, 😂 …) per 100 words
 * Scores use s = x / (x + k) style squashing so a few words cannot reach the extremes; k is
 * chosen per trait so that a typical value sits near 0.5. Nothing here is random or canned. */
#include "avatar/personality.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "core/utf8.h"

#define MAX_WORD 48
#define MAX_TOKENS 200000 /* words analysed at most (more samples add nothing measurable) */

static const char *const positive[] = {"love",      "loved",     "lovely",   "good",  "great",  "happy",   "glad",
                                       "wonderful", "beautiful", "best",     "kind",  "enjoy",  "enjoyed", "fun",
                                       "nice",      "proud",     "grateful", "thank", "thanks", "amazing", "awesome",
                                       "fantastic", "dear",      "smile",    "laugh", NULL};
static const char *const negative[] = {"hate",  "bad",     "sad",   "angry",   "terrible", "awful", "worst",
                                       "sorry", "afraid",  "fear",  "worried", "hurt",     "cry",   "lonely",
                                       "tired", "annoyed", "upset", "pain",    "miss",     NULL};
static const char *const formal[] = {"therefore", "however",     "furthermore",  "moreover",     "regards",
                                     "sincerely", "accordingly", "consequently", "nevertheless", "whom",
                                     "shall",     "indeed",      "respectfully", "hence",        NULL};
static const char *const informal[] = {"gonna", "wanna", "gotta", "yeah", "yep", "nope", "hey",   "cool",  "ok", "okay",
                                       "kinda", "sorta", "stuff", "lol",  "omg", "btw",  "dunno", "y'all", NULL};
static const char *const affection[] = {"love", "dear", "darling", "sweetheart", "honey",
                                        "hug",  "hugs", "xoxo",    "care",       NULL};
static const char *const polite[] = {"please", "thanks", "thank", "grateful", "appreciate", NULL};
static const char *const laughter[] = {"haha", "hahaha", "hehe", "lol", "lmao", "rofl", NULL};
static const char *const greetings[] = {"hi",      "hello",   "hey",       "dear", "greetings", "howdy",
                                        "morning", "evening", "afternoon", "yo",   NULL};

static int in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(w, *list))
            return 1;
    return 0;
}

struct counts {
    long words, sentences, word_chars, exclaims, questions, ellipses, commas, emoji, contractions;
    long pos, neg, formal, informal, affection, polite, laughter;
};

/* Emoji: the common pictographic blocks (U+1F300–1FAFF, U+2600–27BF). */
static int is_emoji(unsigned cp)
{
    return (cp >= 0x1F300 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF);
}

/* A growing list of lower-cased words, for vocabulary and phrases. */
struct words {
    char (*w)[MAX_WORD];
    size_t n, cap;
};

static int words_push(struct words *ws, const char *w)
{
    if (ws->n == MAX_TOKENS)
        return 0;
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 1024;
        void *p = realloc(ws->w, cap * sizeof *ws->w);
        if (!p)
            return -1;
        ws->w = p;
        ws->cap = cap;
    }
    memcpy(ws->w[ws->n++], w, MAX_WORD);
    return 0;
}

static void count_word(struct counts *c, const char *w, int had_apostrophe)
{
    c->words++;
    c->word_chars += (long)strlen(w);
    c->contractions += had_apostrophe;
    c->pos += in_list(w, positive);
    c->neg += in_list(w, negative);
    c->formal += in_list(w, formal);
    c->informal += in_list(w, informal) + had_apostrophe;
    c->affection += in_list(w, affection);
    c->polite += in_list(w, polite);
    c->laughter += in_list(w, laughter);
}

/* Tokenises one sample: words (the toolkit's word characters, core/text.h, except emoji; an
 * apostrophe inside a word keeps it whole, "don't"), lower-cased, sentence ends, punctuation and
 * emoji. */
static int scan(const char *text, struct counts *c, struct words *ws, json_t *opening_counts)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = strlen(text), i = 0;
    char w[MAX_WORD];
    size_t wl = 0;
    int apostrophe = 0, in_sentence = 0, line_start = 1;
    while (i <= n) {
        size_t adv = 1;
        uint32_t cp = i < n ? utf8_next(p + i, n - i, &adv) : 0;
        int letter = i < n && text_is_word_char(cp) && !is_emoji(cp);
        if (letter || (cp == '\'' && wl > 0)) {
            if (cp == '\'')
                apostrophe = 1;
            char low[4];
            size_t k = utf8_encode(text_lower(cp), low);
            if (wl + k < MAX_WORD) {
                memcpy(w + wl, low, k);
                wl += k;
            }
        } else {
            if (wl) {
                while (wl && w[wl - 1] == '\'')
                    wl--;
                w[wl] = 0;
                if (wl) {
                    count_word(c, w, apostrophe);
                    if (words_push(ws, w))
                        return -1;
                    if (line_start && in_list(w, greetings)) {
                        json_t *v = json_object_get(opening_counts, w);
                        json_object_set_new(opening_counts, w, json_integer(v ? json_integer_value(v) + 1 : 1));
                    }
                    line_start = 0;
                    in_sentence = 1;
                }
                wl = 0;
                apostrophe = 0;
            }
            if (cp == '!')
                c->exclaims++;
            if (cp == '?')
                c->questions++;
            if (cp == ',')
                c->commas++;
            if (cp == 0x2026 || (cp == '.' && i + 2 < n && p[i + 1] == '.' && p[i + 2] == '.'))
                c->ellipses++;
            if (is_emoji(cp)) {
                c->emoji++;
                if (cp == 0x1F602 || cp == 0x1F923)
                    c->laughter++;
            }
            if ((cp == '.' || cp == '!' || cp == '?' || cp == '\n' || cp == 0 || cp == 0x2026) && in_sentence) {
                c->sentences++;
                in_sentence = 0;
            }
            if (cp == '\n')
                line_start = 1;
        }
        i += adv;
        if (cp == 0)
            break;
    }
    return 0;
}

static int cmp_words(const void *a, const void *b)
{
    return strcmp(a, b);
}

static long distinct_words(struct words *ws)
{
    if (!ws->n)
        return 0;
    char(*copy)[MAX_WORD] = malloc(ws->n * sizeof *copy);
    if (!copy)
        return 0;
    memcpy(copy, ws->w, ws->n * sizeof *copy);
    qsort(copy, ws->n, sizeof *copy, cmp_words);
    long d = 1;
    for (size_t i = 1; i < ws->n; i++)
        d += strcmp(copy[i], copy[i - 1]) != 0;
    free(copy);
    return d;
}

/* The most frequent 2- and 3-word phrases without stop words (core/text.h) at their ends (at least twice). */
static json_t *top_phrases(struct words *ws)
{
    json_t *counts = json_object();
    char phrase[3 * MAX_WORD + 3];
    for (size_t i = 0; i < ws->n; i++)
        for (int len = 2; len <= 3 && i + (size_t)len <= ws->n; len++) {
            const char *first = ws->w[i], *last = ws->w[i + (size_t)len - 1];
            if (text_is_stop((const unsigned char *)first, strlen(first)) ||
                text_is_stop((const unsigned char *)last, strlen(last)))
                continue;
            phrase[0] = 0;
            for (int k = 0; k < len; k++) {
                if (k)
                    strcat(phrase, " ");
                strcat(phrase, ws->w[i + (size_t)k]);
            }
            json_t *v = json_object_get(counts, phrase);
            json_object_set_new(counts, phrase, json_integer(v ? json_integer_value(v) + 1 : 1));
        }
    json_t *top = json_array();
    for (int pick = 0; pick < 8; pick++) {
        const char *best = NULL, *key;
        json_int_t best_n = 1;
        json_t *v;
        json_object_foreach (counts, key, v) {
            json_int_t c = json_integer_value(v);
            if (c > best_n || (c == best_n && best && c > 1 && strcmp(key, best) < 0))
                best = key, best_n = c;
        }
        if (!best)
            break;
        json_array_append_new(top, json_pack("{s:s,s:I}", "phrase", best, "count", best_n));
        json_object_del(counts, best);
    }
    json_decref(counts);
    return top;
}

static double squash(double x, double k)
{
    return x <= 0 ? 0 : x / (x + k);
}

static double round3(double x)
{
    return round(x * 1000) / 1000;
}

static json_t *trait(double score, json_t *evidence)
{
    return json_pack("{s:f,s:o}", "score", round3(score), "evidence", evidence);
}

json_t *personality_analyse(const char *const *samples, int n)
{
    struct counts c;
    memset(&c, 0, sizeof c);
    struct words ws = {NULL, 0, 0};
    json_t *openings = json_object();
    for (int i = 0; i < n; i++)
        if (scan(samples[i], &c, &ws, openings)) {
            free(ws.w);
            json_decref(openings);
            return NULL;
        }
    double per100 = c.words ? 100.0 / (double)c.words : 0;
    double sent_len = c.sentences ? (double)c.words / (double)c.sentences : 0;
    double ttr = c.words ? (double)distinct_words(&ws) / (double)c.words : 0;
    double formality_raw = c.words ? (double)(c.formal - c.informal) / (double)c.words * 50.0 : 0;
    double formality = 1.0 / (1.0 + exp(-formality_raw)); /* 0.5 when balanced */
    double sentiment = (double)(c.pos - c.neg) / (double)(c.pos + c.neg + 1);
    json_t *style = json_pack(
        "{s:I,s:I,s:f,s:{s:f,s:f},s:{s:f,s:f,s:f,s:f,s:f},s:f,s:f,s:o,s:o}", "words", (json_int_t)c.words, "sentences",
        (json_int_t)c.sentences, "sentence_length", round3(sent_len), "vocabulary", "type_token_ratio", round3(ttr),
        "mean_word_length", round3(c.words ? (double)c.word_chars / (double)c.words : 0), "punctuation_per_100_words",
        "exclamations", round3((double)c.exclaims * per100), "questions", round3((double)c.questions * per100),
        "ellipses", round3((double)c.ellipses * per100), "commas", round3((double)c.commas * per100), "emoji",
        round3((double)c.emoji * per100), "formality", round3(formality), "sentiment", round3(sentiment), "phrases",
        top_phrases(&ws), "greetings", openings);
    double warmth = squash((double)(c.pos + c.polite * 2 + c.affection * 2) * per100, 4.0) * 0.8 +
                    (sentiment > 0 ? sentiment * 0.2 : 0);
    json_t *traits = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o}", "warmth",
        trait(warmth,
              json_pack("{s:I,s:I,s:I,s:f}", "positive_words", (json_int_t)c.pos, "polite_words", (json_int_t)c.polite,
                        "affection_words", (json_int_t)c.affection, "sentiment", round3(sentiment))),
        "enthusiasm",
        trait(squash((double)(c.exclaims + c.emoji) * per100, 2.0),
              json_pack("{s:I,s:I}", "exclamations", (json_int_t)c.exclaims, "emoji", (json_int_t)c.emoji)),
        "curiosity",
        trait(squash((double)c.questions * per100, 2.0), json_pack("{s:I}", "questions", (json_int_t)c.questions)),
        "formality",
        trait(formality, json_pack("{s:I,s:I,s:I}", "formal_markers", (json_int_t)c.formal, "informal_markers",
                                   (json_int_t)c.informal, "contractions", (json_int_t)c.contractions)),
        "verbosity",
        trait(sent_len <= 5    ? 0
              : sent_len >= 30 ? 1
                               : (sent_len - 5) / 25.0,
              json_pack("{s:f}", "sentence_length", round3(sent_len))),
        "humour",
        trait(squash((double)c.laughter * per100, 1.0), json_pack("{s:I}", "laughter", (json_int_t)c.laughter)));
    free(ws.w);
    int progress = n >= PERSONALITY_SAMPLES_FULL ? 100 : n * 100 / PERSONALITY_SAMPLES_FULL;
    return json_pack("{s:i,s:i,s:s,s:o,s:o}", "progress", progress, "samples", n, "method", PERSONALITY_METHOD, "style",
                     style, "traits", traits);
}

void personality_voice_of(const char *const *samples, int n, char opening[32], double *formality)
{
    struct counts c;
    memset(&c, 0, sizeof c);
    /* scan wants a word list; a list that is full at once keeps none (words_push stops at MAX_TOKENS). */
    struct words ws = {NULL, MAX_TOKENS, MAX_TOKENS};
    json_t *openings = json_object();
    opening[0] = 0;
    for (int i = 0; i < n && openings; i++)
        scan(samples[i], &c, &ws, openings);
    double raw = c.words ? (double)(c.formal - c.informal) / (double)c.words * 50.0 : 0;
    *formality = round3(1.0 / (1.0 + exp(-raw)));
    const char *k, *best = NULL;
    json_int_t best_n = 0;
    json_t *v;
    json_object_foreach (openings, k, v) {
        if (json_integer_value(v) > best_n || (json_integer_value(v) == best_n && best && strcmp(k, best) < 0)) {
            best = k;
            best_n = json_integer_value(v);
        }
    }
    if (best)
        snprintf(opening, 32, "%s", best);
    json_decref(openings);
}
