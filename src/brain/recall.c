/* The recall brain: answers with the avatar's own words, never invents.
 *
 *  1. Greetings and small talk ("hi", "good morning" …) get the persona card's greeting (without
 *     one, the opening word the person's own words use most: see personality_store.c).
 *  2. Follow-ups ("tell me more", "go on", "and then?") continue from the memory cited last:
 *     the rest of the passage quoted, then the next passage or utterance of the same source.
 *  3. Otherwise the memories are searched with the message (plus the previous user message's
 *     words when the message is short, so "and your sister?" keeps its topic; a pronoun or a
 *     closing "that" points at the new words of the last answer: "Where is it now?" after the
 *     Bronze Star). A candidate is judged by what would be said of it — the excerpt of a long
 *     passage, not the whole — and must hold the message's content words (keyed as search keys
 *     them) by weight: the one word of a one-word question, both of two (or one saying two
 *     thirds of what they weigh), half of a longer one's weight with its most specific word; a
 *     word no memory holds must be met by a related one; a phrasal verb keeps its particle; a
 *     "when" question needs a time. More coverage wins, then the avatar speaking of itself, then
 *     the search rank. Below that the answer is an honest "I don't remember". A message asking
 *     several things is answered part by part.
 *  4. Dialogue (utterances with a speaker and an order, from a chat or a recording): the
 *     avatar's own line (its speaker label is the avatar's name or a word of it) is quoted; a
 *     line someone said to the avatar is answered by the avatar's next turn.
 *  5. Q&A memories answer with their answer part; facts and passages are quoted as they are,
 *     what is written about the avatar in the third person said in the first (recall_person.h).
 *  6. Identity questions ("who are you?", "what are you like?", "what's your name?", "where are
 *     we?") are answered from the persona card before the memories: an example exchange that asks
 *     just that, else the opening sentences of the description, personality or scenario. A
 *     question no memory answers may still be answered by an example exchange.
 * Every answer that uses a memory cites it; one from the card cites the field. The "I don't
 * remember" is said in the person's register (formality of their own words). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "brain/brain.h"
#include "brain/memory.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/time_words.h"
#include "core/utf8.h"
#include "core/wordnet.h"
#include "store/db.h"
#include "brain/recall_alias.h"
#include "brain/recall_person.h"
#include "brain/recall_social.h"
#include "ingest/dialogue.h"

#define MAX_TERMS 32
/* What a word related to a question word (a synonym, a broader or narrower word: meets) says of
 * it when judging whether a memory answers: half the word. Search ranks by TEXT_SYNONYM_WEIGHT,
 * a little under half so that the word itself always outranks it; judging needs no such margin,
 * and under half, a question whose every word a memory meets only through a related one ("When
 * did Grandma pass away?" by "Margaret died …", Margaret the grandmother of an apposition) could
 * never be answered however exactly each word meets. */
#define RELATED_SHARE 0.5

/* Words that say nothing about a topic in a question to an avatar, besides the toolkit's stop
 * words (core/text.c). Compared folded. */
static const char *const vague[] = {"remember", "know", "think", "please", "ever",      "much",     "many",
                                    "some",     "tell", "now",   "still",  "again",     "really",   "always",
                                    "usually",  "also", "even",  "every",  "something", "anything", "thing",
                                    "happen",   "kind", "sort",  "type",   NULL};

static const char *const thanks[] = {"thanks", "thank", "thx", NULL};

static const char *const hellos[] = {"hi",      "hello",   "hey",       "hiya", "howdy", "greetings",
                                     "morning", "evening", "afternoon", "yo",   NULL};

static const char *const more[] = {"tell me more",       "more",     "go on",      "and then",      "what else",
                                   "what happened next", "continue", "keep going", "anything else", NULL};

/* Content words as search sees them: word keys (text_word_key), NUL-terminated, distinct, each
 * with the keys of its related words (text_related_keys), which search matches too. */
#define TERM_RELATED 12
#define TERM_PHRASES 16
struct terms {
    int n;
    /* bound[i]: the term a particle right after it in the question makes a phrasal verb of ("up"
     * of "grow up"), else -1; set only for a question's own words (content_words fills it). */
    int bound[MAX_TERMS];
    /* phrase[i]: term i and the word after it are one WordNet entry ("pass away", "look after"),
     * whose related words term i has instead of its own (content_words) */
    int phrase[MAX_TERMS];
    char t[MAX_TERMS][TEXT_KEY_MAX + 1];
    int nrel[MAX_TERMS];
    char rel[MAX_TERMS][TERM_RELATED][TEXT_KEY_MAX];
    size_t rel_len[MAX_TERMS][TERM_RELATED];
    /* related entries of several words ("bronze star" of medal: text_related_phrases), met as a
     * related word where a memory says their words in sequence */
    int nphr[MAX_TERMS];
    char phr[MAX_TERMS][TERM_PHRASES][TEXT_KEY_MAX];
};

static int listed(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(w, *list))
            return 1;
    return 0;
}

/* The word s[0..len) folded (text_fold_word), NUL-terminated, into w. */
static void folded(const unsigned char *s, size_t len, char w[TEXT_KEY_MAX + 1])
{
    w[text_fold_word(s, len, w, TEXT_KEY_MAX)] = 0;
}

/* When term i of out and the word w after it are one WordNet entry (a phrasal verb or compound:
 * "pass away", "grow up", "look after"), term i gets that entry's related words instead of its
 * own — "passed away" meets "died", "looking after" "cared" — and keeps its own key, so the
 * phrase said as asked still meets it. */
static void phrase_of(struct terms *out, int i, const char *w)
{
    char rel[TERM_RELATED][TEXT_KEY_MAX];
    size_t rel_len[TERM_RELATED];
    float weight[TERM_RELATED];
    int n = text_phrase_keys(out->t[i], strlen(out->t[i]), (const unsigned char *)w, strlen(w), rel, rel_len, weight,
                             TERM_RELATED);
    if (n <= 0)
        return;
    out->phrase[i] = 1;
    out->nrel[i] = n;
    memcpy(out->rel[i], rel, sizeof rel);
    memcpy(out->rel_len[i], rel_len, sizeof rel_len);
}

/* The content words of text: the keys of its words (folded, one inflection off, as search keys
 * them), stop words and vague words out, distinct. */
static void content_words(const char *text, struct terms *out)
{
    /* particles that make a phrasal verb of the word before them */
    static const char *const particles[] = {"up", "away", "out", "off", "over", "down", "back", NULL};
    const char *last_term_end = NULL;
    const unsigned char *p = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&p, &s));) {
        char w[TEXT_KEY_MAX + 1], key[TEXT_KEY_MAX + 1];
        folded(s, len, w);
        if (out->n > 0 && last_term_end == (const char *)s - 1 && !out->phrase[out->n - 1])
            phrase_of(out, out->n - 1, w);
        if (text_is_stop(s, len) || listed(w, vague) || listed(w, hellos) || listed(w, thanks))
            continue;
        /* "when you were little", "as a boy": a time of life, not a topic ("Did you have a dog
         * when you were little?" asks about a dog) */
        static const char *const young[] = {"little", "young", "small", "kid",      "boy",       "girl",
                                            "child",  "baby",  "teen",  "teenager", "youngster", NULL};
        if (listed(w, young)) {
            const char *b = (const char *)s;
            while (b > text && b[-1] == ' ')
                b--;
            size_t k = (size_t)(b - text);
            static const char *const frames[] = {"you were", "i was",  "we were", "as a",
                                                 "when a",   "were a", "was a",   NULL};
            int framed = 0;
            for (const char *const *f = frames; *f && !framed; f++) {
                size_t fl = strlen(*f);
                framed =
                    k >= fl && !strncasecmp(b - fl, *f, fl) && (k == fl || !isalpha((unsigned char)b[-(long)fl - 1]));
            }
            if (framed)
                continue;
        }
        /* "used to" before a verb says a habit ("Did you used to drink?"), not a use */
        const unsigned char *after = p, *s2;
        size_t l2 = text_next_word(&after, &s2);
        if ((!strcmp(w, "used") || !strcmp(w, "use")) && l2 == 2 && !strncasecmp((const char *)s2, "to", 2))
            continue;
        key[text_word_key(s, len, key)] = 0;
        /* the vague words in any form ("happened", "remembered", "thought") */
        if (listed(key, vague))
            continue;
        int dup = 0;
        for (int i = 0; i < out->n && !dup; i++)
            dup = !strcmp(out->t[i], key);
        if (dup || out->n == MAX_TERMS)
            continue;
        const char *term_end = (const char *)s + len;
        float weight[TERM_RELATED];
        memcpy(out->t[out->n], key, sizeof key);
        out->bound[out->n] = -1;
        out->phrase[out->n] = 0;
        if (out->n > 0 && listed(w, particles) && last_term_end == (const char *)s - 1)
            out->bound[out->n - 1] = out->n;
        out->nrel[out->n] =
            text_related_keys(key, strlen(key), out->rel[out->n], out->rel_len[out->n], weight, TERM_RELATED);
        out->nphr[out->n] = text_related_phrases(key, strlen(key), out->phr[out->n], TERM_PHRASES);
        out->n++;
        last_term_end = term_end;
    }
}

/* 1 when found (coverage_of) holds a verb of a phrasal verb of q without its particle: "grown"
 * does not answer "Where did you grow up?". */
static int particle_missing(const struct terms *q, const int found[MAX_TERMS])
{
    for (int i = 0; i < q->n; i++)
        if (q->bound[i] >= 0 && found[i] && !found[q->bound[i]])
            return 1;
    return 0;
}

/* How many words of msg (folded) are in list; *words (may be NULL) is set to how many words msg
 * has that are more than a lone ASCII letter ("I", the tails of "I'm", "it's"). */
static int words_listed(const char *msg, const char *const *list, int *words)
{
    const unsigned char *p = (const unsigned char *)msg, *s;
    int hits = 0, n = 0;
    for (size_t len; (len = text_next_word(&p, &s));) {
        char w[TEXT_KEY_MAX + 1];
        folded(s, len, w);
        hits += listed(w, list);
        n += len > 1 || s[0] >= 0x80;
    }
    if (words)
        *words = n;
    return hits;
}

/* How the word keyed key[0..n) meets term i of q: 2 the same key, 1 a related one (as search
 * matches them), 0 not at all. */
static int meets(const struct terms *q, int i, const char *key, size_t n)
{
    if (strlen(q->t[i]) == n && !memcmp(q->t[i], key, n))
        return 2;
    for (int r = 0; r < q->nrel[i]; r++)
        if (q->rel_len[i][r] == n && !memcmp(q->rel[i][r], key, n))
            return 1;
    return 0;
}

/* Appends key[0..n) to tail, the keys of the last three words read joined by spaces. */
static void push_key(char tail[3 * TEXT_KEY_MAX + 3], const char *key, size_t n)
{
    char *second = strchr(tail, ' ');
    if (second && strchr(second + 1, ' ')) /* three already: the first goes */
        memmove(tail, second + 1, strlen(second + 1) + 1);
    size_t at = strlen(tail);
    if (at)
        tail[at++] = ' ';
    memcpy(tail + at, key, n);
    tail[at + n] = 0;
}

/* 1 when the words read (tail, push_key) end with an entry of several words related to term i
 * ("... the Bronze Star" for medal). */
static int phrase_ends(const struct terms *q, int i, const char *tail)
{
    size_t tl = strlen(tail);
    for (int k = 0; k < q->nphr[i]; k++) {
        size_t pl = strlen(q->phr[i][k]);
        if (pl <= tl && !memcmp(tail + tl - pl, q->phr[i][k], pl) && (pl == tl || tail[tl - pl - 1] == ' '))
            return 1;
    }
    return 0;
}

/* Words that ask for an occupation ("What was your dad's job?", "Where did you work?"), keyed. */
static const char *const occupation_words[] = {"job", "work", "occupation", "profession", "career", NULL};

/* 1 when a noun keyed key[0..n) names an occupation: a kind of worker or professional in WordNet
 * (nurse, machinist, engineer, maintainer …). */
static int names_occupation(const char *key, size_t n)
{
    static const char *const kinds[] = {"worker", "professional", "skilled_worker", "employee", "scientist", NULL};
    return wordnet_noun_is_a(key, n, kinds);
}

/* Reading a sentence word by word: how far it is into "was a …" / "as a …" (a copula or "as",
 * then an article, then up to two words): the frame in which a person's occupation is said
 * ("She was a nurse", "worked as a signal maintainer"). 0 outside it. */
static int occupation_frame(int state, const char *w)
{
    static const char *const copulas[] = {"is",   "was",    "am",     "are", "were", "be",
                                          "been", "became", "become", "as",  NULL};
    if (listed(w, copulas))
        return 1;
    if (state == 1 && (!strcmp(w, "a") || !strcmp(w, "an")))
        return 2;
    return state >= 2 && state < 4 ? state + 1 : 0;
}

/* 1 when a noun keyed key[0..n) names a place of work in WordNet, or a part of one: a farm, a
 * shipyard, a bakery, a mine (part of a colliery). */
static int names_workplace(const char *key, size_t n)
{
    static const char *const kinds[] = {"workplace", NULL};
    return wordnet_noun_in_a(key, n, kinds);
}

/* As occupation_frame, for "in the …" / "at a …" (a preposition of place, an article, up to two
 * words): where a person's place of work is said ("went down into the coal mines", "worked at
 * the bakery"). */
static int workplace_frame(int state, const char *w)
{
    static const char *const places[] = {"in", "into", "at", "on", NULL};
    static const char *const articles[] = {"the", "a", "an", NULL};
    if (listed(w, places))
        return 1;
    if (state == 1 && listed(w, articles))
        return 2;
    return state >= 2 && state < 4 ? state + 1 : 0;
}

/* How many of q's words text contains (every word of text is looked at, however long): a word
 * meets a query word when their keys are equal or related, as in search. found (may be NULL)
 * says which and how (meets); *related (may be NULL) how many only through a related word. */
static int coverage_of(const struct terms *q, const char *text, int found_out[MAX_TERMS], int *related)
{
    int found[MAX_TERMS] = {0}, exact = 0;
    const unsigned char *p = (const unsigned char *)text, *s;
    /* the keys of the words read, the last three, joined by spaces: where an entry of several
     * words ends (phrase_ends) */
    char tail[3 * TEXT_KEY_MAX + 3] = "";
    /* a word asking for an occupation is met as asked by the occupation a sentence says */
    int occupation = -1, frame = 0, place = 0;
    for (int i = 0; i < q->n && occupation < 0; i++)
        if (listed(q->t[i], occupation_words))
            occupation = i;
    for (size_t len; exact < q->n && (len = text_next_word(&p, &s));) {
        char key[TEXT_KEY_MAX];
        size_t kl = text_word_key(s, len, key);
        push_key(tail, key, kl);
        int said_occupation = 0;
        if (occupation >= 0 && found[occupation] < 2) {
            char w[TEXT_KEY_MAX + 1];
            folded(s, len, w);
            said_occupation = (frame >= 2 && names_occupation(key, kl)) || (place >= 2 && names_workplace(key, kl));
            frame = occupation_frame(frame, w);
            place = workplace_frame(place, w);
        }
        for (int i = 0; i < q->n; i++) {
            int how = found[i] < 2 ? meets(q, i, key, kl) : 0;
            if (i == occupation && said_occupation && !how)
                how = 2;
            if (!how && !found[i] && phrase_ends(q, i, tail))
                how = 1;
            if (how > found[i]) {
                exact += how == 2;
                found[i] = how;
            }
        }
    }
    /* a phrase met through a word related to it ("died" for "passed away") holds its particle:
     * one related word for the two */
    int companion[MAX_TERMS] = {0};
    for (int i = 0; i < q->n; i++)
        if (q->phrase[i] && q->bound[i] >= 0 && found[i] == 1 && !found[q->bound[i]]) {
            found[q->bound[i]] = 1;
            companion[q->bound[i]] = 1;
        }
    int hit = 0, rel = 0;
    for (int i = 0; i < q->n; i++) {
        hit += found[i] > 0;
        rel += found[i] == 1 && !companion[i];
    }
    if (found_out)
        memcpy(found_out, found, sizeof found);
    if (related)
        *related = rel;
    return hit;
}

static int coverage(const struct terms *q, const char *text)
{
    return coverage_of(q, text, NULL, NULL);
}

/* How much each question word says, as search weighs it (BM25's idf over the avatar's memories;
 * a word no memory holds says the most), into idf[]; 0 each when the avatar is searched by the
 * engines. df[] (may be NULL) gets the counts. */
static void word_weights(const struct brain_input *in, const struct terms *q, double idf[MAX_TERMS],
                         int df_out[MAX_TERMS])
{
    const char *words[MAX_TERMS];
    int df[MAX_TERMS] = {0};
    int64_t n = 0;
    for (int i = 0; i < q->n; i++)
        words[i] = q->t[i];
    if (q->n == 0 || memory_key_df(in->db, in->avatar_id, words, q->n, df) || memory_total(in->db, in->avatar_id, &n)) {
        for (int i = 0; i < q->n; i++)
            idf[i] = 0, df[i] = -1;
    } else {
        for (int i = 0; i < q->n; i++)
            idf[i] = log(1.0 + (n - df[i] + 0.5) / (df[i] + 0.5));
    }
    if (df_out)
        memcpy(df_out, df, sizeof df);
}

/* 1 when the words found (coverage_of) carry at least half of what the question's words say
 * (word_weights; a related word its share, as in search): "Did the Navy ever send you to Japan?"
 * is not answered by "The Navy sent me to boot camp" — Japan, which no memory holds, says more
 * than Navy and send together. */
static double share_said(const struct terms *q, const double idf[MAX_TERMS], const int found[MAX_TERMS])
{
    double all = 0, got = 0;
    for (int i = 0; i < q->n; i++) {
        all += idf[i];
        got += found[i] == 2 ? idf[i] : found[i] == 1 ? idf[i] * RELATED_SHARE : 0;
    }
    return all <= 0 ? 1 : got / all;
}

static int says_enough(const struct terms *q, const double idf[MAX_TERMS], const int found[MAX_TERMS])
{
    /* a question of one word is not answered by a word merely related to it ("Do you do any
     * volunteering?" by "the men on my crew": a volunteer who enlists is a serviceman, a man):
     * half of one word is too little */
    if (q->n == 1)
        return found[0] == 2;
    return share_said(q, idf, found) >= 0.5;
}

/* 1 when a candidate holding the words found (coverage_of) answers the question q by weight:
 * one word, that word; two, both (a related word for one), or one that says two thirds of what
 * they say together — "honeymoon" answers "Where did you go
 * for the honeymoon?" without "go", "play" does not answer "Do you play golf?" (golf, which no
 * memory holds, says the most); more, half (says_enough) with the most specific word (rare). */
static int answers_enough(const struct terms *q, const double idf[MAX_TERMS], const int found[MAX_TERMS], int hits,
                          int rare)
{
    if (hits == 0)
        return 0;
    if (q->n == 2)
        return hits == 2 || (idf[0] + idf[1] > 0 && share_said(q, idf, found) >= 2.0 / 3);
    return (rare < 0 || found[rare]) && says_enough(q, idf, found);
}

/* The question word held by the fewest of the avatar's memories (but by some): the most
 * specific thing asked about — "Eddie" in "what was the name of Eddie's wife?". -1 when unknown. */
static int rarest_word(const struct brain_input *in, const struct terms *q)
{
    int df[MAX_TERMS];
    double idf[MAX_TERMS];
    if (q->n < 3)
        return -1;
    word_weights(in, q, idf, df);
    if (q->n && df[0] < 0)
        return -1;
    int best = -1;
    for (int i = 0; i < q->n; i++)
        if (df[i] > 0 && (best < 0 || df[i] < df[best]))
            best = i;
    return best;
}

/* How many of a question's n content words an answer must hold: all of one or two (with two, one
 * shared word is too often a coincidence: "do you play golf?" is not answered by "play"), else
 * half, rounded up. */
static int words_needed(int n)
{
    return n <= 2 ? n : (n + 1) / 2;
}

/* Dialogue labels that name the avatar (avatar.c says how). */
static int is_avatar_speaker(const char *label, const char *name)
{
    return dialogue_speaker_is_self(label, name);
}

static void normalise(const char *msg, char *out, size_t cap);

/* 1 when msg (normalised) is one of the phrases of list, or starts with one as whole words. */
static int phrase_in(const char *msg, const char *const *list)
{
    char low[256];
    normalise(msg, low, sizeof low);
    for (; *list; list++) {
        size_t k = strlen(*list);
        if (!strncmp(low, *list, k) && (low[k] == 0 || low[k] == ' '))
            return 1;
    }
    return 0;
}

/* 1 when msg points back at something said before with a third-person pronoun, or ends on a
 * demonstrative ("What year was that?", "Who gave you this?"). */
static int refers_back(const char *msg)
{
    static const char *const pronouns[] = {"he",   "she", "it",  "they",  "him", "her",
                                           "them", "his", "its", "their", NULL};
    static const char *const demonstratives[] = {"that", "this", "there", "those", "these", NULL};
    if (words_listed(msg, pronouns, NULL) > 0)
        return 1;
    const unsigned char *p = (const unsigned char *)msg, *s, *last = NULL;
    size_t len, last_len = 0;
    while ((len = text_next_word(&p, &s)))
        last = s, last_len = len;
    char w[TEXT_KEY_MAX + 1];
    if (!last)
        return 0;
    folded(last, last_len, w);
    return listed(w, demonstratives);
}

/* A greeting: a message that opens with a hello ("hi", "hello there", "good evening, Grandpa",
 * "Hi Grandpa, it's Katie.") and asks nothing, or of at most four words. Opening, not
 * containing: "Who whistled every evening?" is a question that holds a hello word. */
static int is_greeting(const char *msg)
{
    int words;
    if (words_listed(msg, hellos, &words) == 0 || (words > 4 && strchr(msg, '?')))
        return 0;
    const unsigned char *p = (const unsigned char *)msg, *s;
    char w[TEXT_KEY_MAX + 1];
    size_t len = text_next_word(&p, &s);
    if (!len)
        return 0;
    folded(s, len, w);
    if (!strcmp(w, "good") && (len = text_next_word(&p, &s)))
        folded(s, len, w);
    return listed(w, hellos);
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

/* The memory after `memory` in its source (same media or imported dialogue, next seq); with
 * reply_of set, the next turn spoken by the avatar (named avatar_name) — or, when no turn there is
 * the avatar's, by anyone other than the speaker of `memory`. */
static json_t *next_in_source(struct db *db, const char *avatar_id, json_t *memory, int reply_of,
                              const char *avatar_name)
{
    const char *kind = json_string_value(json_object_get(memory, "kind"));
    if (!json_string_value(json_object_get(json_object_get(memory, "source"), "media_id")) &&
        (!kind || strcmp(kind, "utterance")))
        return NULL; /* only media and dialogues have a next memory */
    struct db_rows *r;
    const char *mid = json_string_value(json_object_get(memory, "id"));
    struct db_val p[] = {DB_TEXT(mid), DB_TEXT(avatar_id), DB_TEXT(mid), DB_TEXT(avatar_id)};
    /* Two branches, so that each finds its rows by its own index (an OR would scan the avatar). */
    if (db_query(db,
                 "SELECT n.id, n.speaker, n.seq FROM memories c JOIN memories n ON n.media_id = c.media_id AND "
                 "n.seq > c.seq WHERE c.id = ? AND n.avatar_id = ? UNION ALL SELECT n.id, n.speaker, n.seq FROM "
                 "memories c JOIN memories n ON n.dialogue = c.dialogue AND n.seq > c.seq WHERE c.id = ? AND "
                 "n.avatar_id = ? ORDER BY 3 LIMIT 8",
                 p, 4, &r))
        return NULL;
    const char *speaker = json_string_value(json_object_get(memory, "speaker"));
    int pick = -1, other = -1;
    for (int i = 0; i < r->nrows && pick < 0; i++) {
        const char *s = db_rows_text(r, i, 1);
        if (!reply_of)
            pick = i;
        else if (is_avatar_speaker(s, avatar_name))
            pick = i;
        else if (other < 0 && s && speaker && strcmp(s, speaker) != 0)
            other = i;
    }
    if (pick < 0)
        pick = other;
    json_t *out = NULL;
    if (pick >= 0)
        memory_get(db, avatar_id, db_rows_text(r, pick, 0), &out);
    db_rows_free(r);
    return out;
}

/* Words in text[0..n), as search counts them. */
static int count_words(const char *text, size_t n)
{
    return (int)text_count_words(text, n);
}

/* p moved past the heading lines it starts with: lines of at most twelve words with no sentence
 * punctuation, followed by more text ("Boot Camp and the Radio Room\n", "# Chapter 3\n"). A
 * heading names a section; it is never an answer. */
static const char *skip_headings(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '#')
            p++;
        const char *nl = strchr(p, '\n');
        if (!nl || !nl[1])
            return p;
        size_t len = (size_t)(nl - p);
        int punct = 0;
        for (size_t i = 0; i < len && !punct; i++)
            punct = p[i] == '.' || p[i] == '!' || p[i] == '?' || p[i] == ',' || p[i] == ';' || p[i] == ':';
        /* a comma may be in a title ("Sailor, Engineer, Husband, Father"), not after its end */
        if (punct && len > 0) {
            punct = 0;
            for (size_t i = 0; i < len && !punct; i++)
                punct = p[i] == '.' || p[i] == '!' || p[i] == '?' || p[i] == ';' || p[i] == ':';
        }
        if (punct || len == 0 || count_words(p, len) > 12)
            return p;
        p = nl + 1;
    }
}

/* 1 when text[0..n) says a time: a year (1900–2099) or a month's name. The answer to a "when"
 * question must say one (or the memory must know its own day: day_of). */
static int says_time(const char *text, size_t n)
{
    static const char *const months[] = {"january", "february",  "march",   "april",    "may",      "june", "july",
                                         "august",  "september", "october", "november", "december", NULL};
    const unsigned char *p = (const unsigned char *)text, *s, *end = p + n;
    for (size_t len; (len = text_next_word(&p, &s)) && s < end;) {
        char w[TEXT_KEY_MAX + 1];
        folded(s, len, w);
        if (len == 4 && isdigit(s[0]) && isdigit(s[1]) && isdigit(s[2]) && isdigit(s[3]) &&
            (!strncmp((const char *)s, "19", 2) || !strncmp((const char *)s, "20", 2)))
            return 1;
        if (listed(w, months))
            return 1;
    }
    return 0;
}

/* What a question's words weigh in judging a sentence: their idf (word_weights), 1 each when the
 * avatar's counts are not known; `when` asks for a time (says_time weighs like its rarest word). */
struct weights {
    double w[MAX_TERMS];
    double top;
    int when;
    int why; /* asks for a cause: in a story it is told before what it caused (excerpt) */
    /* the appositions of the passage being read (recall_alias.h), which starts at passage */
    const struct recall_alias *alias;
    int nalias;
    int nown; /* the first nown are the passage's own, standing where their at/end say */
    const char *passage;
};

/* Terms of q that text[0..n) does not hold as such but names through an apposition of the
 * passage ("Rose" for sister after "my sister Rose") marked in found as the noun meets them;
 * returns how many. *intro (may be NULL) is set when text is inside the passage and holds an
 * apposition that did so: it introduces the person rather than saying something of them. */
static int alias_meets(const struct terms *q, const struct weights *wt, const char *text, size_t n,
                       int found[MAX_TERMS], int *intro)
{
    int got = 0;
    for (int i = 0; i < q->n; i++)
        for (int k = 0; k < wt->nalias; k++) {
            const struct recall_alias *a = &wt->alias[k];
            int how = meets(q, i, a->noun, strlen(a->noun));
            if (!how)
                continue;
            if (intro && k < wt->nown && wt->passage && text >= wt->passage && text <= wt->passage + a->at &&
                text + n >= wt->passage + a->end)
                *intro = 1;
            if (how > found[i] && recall_alias_named(a, text, n)) {
                got += !found[i];
                found[i] = how;
            }
        }
    return got;
}

static void weights_of(const struct terms *q, const double idf[MAX_TERMS], int when, struct weights *out)
{
    out->top = 0;
    out->when = when;
    out->why = 0;
    out->alias = NULL;
    out->nalias = out->nown = 0;
    out->passage = NULL;
    for (int i = 0; i < q->n; i++) {
        out->w[i] = idf[i] > 0 ? idf[i] : 1;
        if (out->w[i] > out->top)
            out->top = out->w[i];
    }
    if (out->top == 0)
        out->top = 1;
}

/* How much of q the sentence text[0..n) says: each word found its weight, a related one its share
 * (as search weighs them), a time its due when one is asked for. */
static double sentence_score(const struct terms *q, const struct weights *wt, const char *text, size_t n)
{
    char *t = strndup(text, n);
    if (!t)
        return 0;
    int found[MAX_TERMS], intro = 0;
    coverage_of(q, t, found, NULL);
    alias_meets(q, wt, text, n, found, &intro);
    double score = 0;
    for (int i = 0; i < q->n; i++)
        score += found[i] == 2 ? wt->w[i] : found[i] == 1 ? wt->w[i] * RELATED_SHARE : 0;
    /* at equal weight, what is said of a person beats the sentence that introduces them */
    if (intro && score > 0)
        score -= wt->top * 0.01;
    if (wt->when && says_time(t, n))
        score += wt->top;
    free(t);
    return score;
}

/* 1 when the first word of text (folded) is in list. */
static int opens_with(const char *text, const char *const *list)
{
    const unsigned char *p = (const unsigned char *)text, *s;
    size_t len = text_next_word(&p, &s);
    char w[TEXT_KEY_MAX + 1];
    if (!len)
        return 0;
    folded(s, len, w);
    return listed(w, list);
}

/* 1 when the sentence at p opens with a third-person pronoun, whose person the sentence before names. */
static int opens_with_pronoun(const char *p)
{
    static const char *const pronouns[] = {"he", "she", "they", "his", "her", "their", NULL};
    return opens_with(p, pronouns);
}

/* The answer out of a long passage: the sentence that says most of the question (sentence_score:
 * its rarest words count most, so "married" outweighs "got"), and the one after it for context
 * (of a "why" question the one before it too: a story tells the cause first — "I fell through the
 * ice. I have been frightened of water ever since."), quoted verbatim (never rephrased, so never changed in meaning). A passage of up to EXCERPT_WORDS
 * words is answered whole; NULL when text is not long. */
#define EXCERPT_WORDS 60
static char *excerpt(const char *text, const struct terms *q, const struct weights *wt)
{
    if (!q || q->n == 0 || count_words(text, strlen(text)) <= EXCERPT_WORDS)
        return NULL;
    const char *best = NULL, *best_end = NULL, *before = NULL, *prev = NULL;
    double best_score = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *start = skip_headings(p);
        if (start != p)
            prev = NULL; /* a heading between: another section */
        p = start;
        const char *e = text_sentence_end(p);
        if (e == p)
            break;
        double score = sentence_score(q, wt, p, (size_t)(e - p));
        if (score > best_score) {
            best_score = score;
            best = p;
            best_end = e;
            before = prev;
        }
        prev = p;
        p = e;
    }
    if (!best)
        return NULL;
    /* a sentence opening with a pronoun ("She was a nurse") names its person in the one before
     * ("I met your grandmother, Margaret"): that one is said with it, not the one after */
    int back = before && count_words(before, (size_t)(best_end - before)) <= EXCERPT_WORDS &&
               (wt->why || opens_with_pronoun(best));
    if (back)
        best = before;
    const char *p = best_end;
    while (*p == ' ' || *p == '\n')
        p++;
    const char *next = text_sentence_end(p);
    if (*p && !(back && !wt->why) && count_words(best, (size_t)(next - best)) <= EXCERPT_WORDS)
        best_end = next;
    while (best_end > best && (best_end[-1] == ' ' || best_end[-1] == '\n'))
        best_end--;
    return strndup(best, (size_t)(best_end - best));
}

/* Answers with memory: quote (taken; the excerpt of a long passage that answers the question)
 * when given, else the whole memory (Q&A: its answer part; a short passage without its heading). */
static int answer_from(struct brain_reply *out, json_t *memory, char *quote)
{
    const char *kind = json_string_value(json_object_get(memory, "kind"));
    char *part = quote;
    if (!part && kind && !strcmp(kind, "passage")) { /* a short passage is said whole, without its heading */
        const char *t = json_string_value(json_object_get(memory, "text")), *body = skip_headings(t);
        part = body != t && *body ? strdup(body) : NULL;
    }
    out->text = part ? part : answer_text(memory);
    out->citations = json_array();
    json_array_append_new(out->citations, citation_of(memory));
    json_decref(memory);
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

static int answer_with(struct brain_reply *out, json_t *memory)
{
    return answer_from(out, memory, NULL);
}

static int say(struct brain_reply *out, const char *text)
{
    out->text = strdup(text);
    out->citations = json_array();
    return out->text ? DP_OK : DP_ERR_NOMEM;
}

/* The avatar's last message ({role, text, citations}, borrowed), NULL when none. */
static json_t *last_avatar_message(const struct brain_input *in)
{
    for (size_t i = json_array_size(in->history); i-- > 0;) {
        json_t *m = json_array_get(in->history, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "avatar"))
            return m;
    }
    return NULL;
}

/* The memory cited by the avatar's last message, if any. */
static json_t *last_cited(const struct brain_input *in)
{
    json_t *c = json_array_get(json_object_get(last_avatar_message(in), "citations"), 0);
    const char *id = json_string_value(json_object_get(c, "memory_id"));
    json_t *mem = NULL;
    if (id)
        memory_get(in->db, in->avatar_id, id, &mem);
    return mem;
}

/* The text of the avatar's last message when it quoted a memory (what a pronoun in the next
 * question points at), else NULL. Borrowed. */
static const char *last_answer(const struct brain_input *in)
{
    json_t *m = last_avatar_message(in);
    json_t *c = json_array_get(json_object_get(m, "citations"), 0);
    return json_string_value(json_object_get(c, "memory_id")) ? json_string_value(json_object_get(m, "text")) : NULL;
}

/* What comes after the quote the avatar said last from a passage (memory): up to two sentences
 * within EXCERPT_WORDS words, verbatim; NULL when the quote was not from it or nothing follows. */
static char *continuation(json_t *memory, const char *said)
{
    const char *text = json_string_value(json_object_get(memory, "text"));
    const char *at = said && *said && text ? strstr(text, said) : NULL;
    if (!at)
        return NULL;
    const char *p = at + strlen(said), *end = p;
    for (int k = 0; k < 2; k++) {
        while (*end == ' ' || *end == '\n')
            end++;
        end = skip_headings(end);
        if (!*end)
            break;
        const char *e = text_sentence_end(end);
        if (k > 0 && count_words(p, (size_t)(e - p)) > EXCERPT_WORDS)
            break;
        end = e;
    }
    while (*p == ' ' || *p == '\n')
        p++;
    p = skip_headings(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\n'))
        end--;
    return end > p ? strndup(p, (size_t)(end - p)) : NULL;
}

static int refers_back(const char *msg);

/* The user's previous message; with pointing set, the last one that did not itself point back
 * ("Where is it now?" after "What did you get it for?" is still about the question before). */
static const char *previous_user_message(const struct brain_input *in, int pointing)
{
    const char *found = NULL;
    for (size_t i = json_array_size(in->history); i-- > 0;) {
        json_t *m = json_array_get(in->history, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "user")) {
            found = json_string_value(json_object_get(m, "text"));
            if (!pointing || !found || !refers_back(found))
                return found;
        }
    }
    return found;
}

/* The text a candidate is judged by: its own, and for the avatar's own line in a dialogue the
 * turn it answers too (search finds it by that turn; see text_index.c). malloc'd. */
static char *judged_text(const struct brain_input *in, json_t *memory)
{
    const char *text = json_string_value(json_object_get(memory, "text"));
    const char *kind = json_string_value(json_object_get(memory, "kind"));
    if (!kind || strcmp(kind, "utterance") ||
        !is_avatar_speaker(json_string_value(json_object_get(memory, "speaker")), in->avatar_name))
        return strdup(text);
    struct db_rows *r;
    const char *mid = json_string_value(json_object_get(memory, "id"));
    struct db_val p[] = {DB_TEXT(mid), DB_TEXT(in->avatar_id), DB_TEXT(mid), DB_TEXT(in->avatar_id)};
    /* As in next_in_source: one branch per index. */
    if (db_query(in->db,
                 "SELECT b.text FROM memories c JOIN memories b ON b.media_id = c.media_id AND b.seq = c.seq - 1 "
                 "WHERE c.id = ? AND b.avatar_id = ? AND b.kind = 'utterance' AND b.speaker <> c.speaker UNION ALL "
                 "SELECT b.text FROM memories c JOIN memories b ON b.dialogue = c.dialogue AND b.seq = c.seq - 1 "
                 "WHERE c.id = ? AND b.avatar_id = ? AND b.kind = 'utterance' AND b.speaker <> c.speaker",
                 p, 4, &r))
        return strdup(text);
    char *both = NULL;
    if (r->nrows != 1 || asprintf(&both, "%s\n%s", db_rows_text(r, 0, 0), text) < 0)
        both = strdup(text);
    db_rows_free(r);
    return both;
}

/* A line of dialogue that asks (said to the avatar, it is answered by the avatar's next turn), or
 * the avatar's reply to a question holding words of q — not a reply to any question: "Who's Eddie?"
 * is answered by "Eddie Salazar, my best buddy…", not by "Only Eddie." (which answers a question
 * about nicknames). judged is what the memory is judged by (judged_text). */
static int asks_or_answers(json_t *memory, const char *judged, const struct terms *q)
{
    const char *own = json_string_value(json_object_get(memory, "text"));
    if (own && strchr(own, '?'))
        return 1;
    const char *nl = strchr(judged, '\n'); /* judged_text: the turn it answers, then its own */
    if (!nl || !memchr(judged, '?', (size_t)(nl - judged)))
        return 0;
    char *asked = strndup(judged, (size_t)(nl - judged));
    int yes = asked && coverage(q, asked) > 0;
    free(asked);
    return yes;
}

/* ---- the persona card: who the avatar is, where, and its example dialogue ----
 *
 * A card's description, personality and scenario are the avatar's own account of itself, and
 * its example dialogue (mes_example) is lines it says. Identity questions ("who are you?", "what
 * are you like?", "what's your name?", "where are we?") are answered with whole sentences of those
 * fields, verbatim ({{char}} and {{user}} read as the name and "you", as every card reader does);
 * a question an example exchange asks is answered with the avatar's line of it. Such an answer
 * cites the field: {memory_id: null, field: "description" | "personality" | "scenario" | "name" |
 * "mes_example", text, source: null} — the shape of a memory citation, with no memory. */

enum ask { ASK_NONE = 0, ASK_WHO, ASK_LIKE, ASK_NAME, ASK_WHERE };

static const struct {
    const char *phrase;
    enum ask ask;
} asks[] = {
    {"who are you", ASK_WHO},
    {"who r u", ASK_WHO},
    {"who is this", ASK_WHO},
    {"who am i talking to", ASK_WHO},
    {"who am i speaking to", ASK_WHO},
    {"what are you", ASK_WHO},
    {"tell me about yourself", ASK_WHO},
    {"tell me about you", ASK_WHO},
    {"tell me who you are", ASK_WHO},
    {"describe yourself", ASK_WHO},
    {"introduce yourself", ASK_WHO},
    {"what are you like", ASK_LIKE},
    {"what is your personality", ASK_LIKE},
    {"whats your personality", ASK_LIKE},
    {"describe your personality", ASK_LIKE},
    {"what kind of person are you", ASK_LIKE},
    {"what sort of person are you", ASK_LIKE},
    {"how would you describe yourself", ASK_LIKE},
    {"what is your name", ASK_NAME},
    {"whats your name", ASK_NAME},
    {"what are you called", ASK_NAME},
    {"what should i call you", ASK_NAME},
    {"may i have your name", ASK_NAME},
    {"where are we", ASK_WHERE},
    {"where am i", ASK_WHERE},
    {"what is this place", ASK_WHERE},
    {"whats this place", ASK_WHERE},
    {"what is going on", ASK_WHERE},
    {"whats going on", ASK_WHERE},
    {"what is happening", ASK_WHERE},
    {"whats happening", ASK_WHERE},
    {"what is the situation", ASK_WHERE},
    {"whats the situation", ASK_WHERE},
};

/* msg folded (core/text.h), apostrophes dropped ("what's" → "whats"), every run of other
 * non-word characters made one space, into out (cap bytes, NUL-terminated, cut at a character). */
static void normalise(const char *msg, char *out, size_t cap)
{
    size_t n = 0, l;
    int space = 1;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p += l) {
        uint32_t cp = utf8_get(p, &l);
        if (cp == '\'' || cp == 0x2019)
            continue;
        if (text_is_word_char(cp)) {
            char enc[4];
            size_t k = utf8_encode(text_fold(cp), enc);
            if (n + k + 1 > cap)
                break;
            memcpy(out + n, enc, k);
            n += k;
            space = 0;
        } else if (!space) {
            if (n + 2 > cap)
                break;
            out[n++] = ' ';
            space = 1;
        }
    }
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = 0;
}

/* The identity question msg asks, if any: one of the phrases, as whole words, in a message of at
 * most eight words ("so who are you exactly?"; not "who are your friends?"). */
static enum ask persona_ask(const char *msg)
{
    char low[256];
    normalise(msg, low, sizeof low);
    int words = *low ? 1 : 0;
    for (const char *c = low; *c; c++)
        words += *c == ' ';
    if (words == 0 || words > 8)
        return ASK_NONE;
    /* The longest phrase wins: "what are you like" over "what are you". */
    enum ask found = ASK_NONE;
    size_t found_len = 0;
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        size_t k = strlen(asks[i].phrase);
        for (const char *at = strstr(low, asks[i].phrase); at && k > found_len; at = strstr(at + 1, asks[i].phrase))
            if ((at == low || at[-1] == ' ') && (at[k] == 0 || at[k] == ' ')) {
                found = asks[i].ask;
                found_len = k;
            }
    }
    return found;
}

/* The persona card, from the caller; empty fields when it gives none. */
static int persona_load(const struct brain_input *in, struct brain_persona *p)
{
    memset(p, 0, sizeof *p);
    int err = in->persona ? in->persona(in, p) : DP_OK;
    if (!err && (!p->description || !p->personality || !p->scenario || !p->examples)) {
        brain_persona_cleanup(p);
        p->description = strdup("");
        p->personality = strdup("");
        p->scenario = strdup("");
        p->examples = strdup("");
        if (!p->description || !p->personality || !p->scenario || !p->examples) {
            brain_persona_cleanup(p);
            return DP_ERR_NOMEM;
        }
    }
    return err;
}

/* text[0..n) with the card placeholders read: {{char}}/<BOT> → name, {{user}}/<USER> → "you".
 * malloc'd. */
static char *read_placeholders(const char *text, size_t n, const char *name)
{
    static const struct {
        const char *tag;
        int is_char;
    } tags[] = {{"{{char}}", 1}, {"{{Char}}", 1}, {"<BOT>", 1}, {"{{user}}", 0}, {"{{User}}", 0}, {"<USER>", 0}};
    size_t cap = n * 2 + strlen(name ? name : "") * 8 + 1, k = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < n;) {
        int hit = 0;
        for (size_t t = 0; t < sizeof tags / sizeof tags[0] && !hit; t++) {
            size_t tl = strlen(tags[t].tag);
            if (i + tl <= n && !strncmp(text + i, tags[t].tag, tl)) {
                /* "you", or "You" opening a sentence */
                size_t b = k;
                while (b > 0 && out[b - 1] == ' ')
                    b--;
                int opens = b == 0 || out[b - 1] == '.' || out[b - 1] == '!' || out[b - 1] == '?' || out[b - 1] == '\n';
                const char *with = tags[t].is_char ? (name ? name : "") : opens ? "You" : "you";
                size_t wl = strlen(with);
                if (k + wl + (n - i) + 1 > cap) {
                    char *grown = realloc(out, cap = cap * 2 + wl);
                    if (!grown) {
                        free(out);
                        return NULL;
                    }
                    out = grown;
                }
                memcpy(out + k, with, wl);
                k += wl;
                i += tl;
                hit = 1;
            }
        }
        if (!hit)
            out[k++] = text[i++];
    }
    if (out)
        out[k] = 0;
    return out;
}

/* The first sentences of a field, verbatim: up to two, within EXCERPT_WORDS words (one at
 * least, however long). NULL when the field is blank. malloc'd, placeholders read. */
static char *opening_sentences(const char *text, const char *name)
{
    while (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t')
        text++;
    if (!*text)
        return NULL;
    const char *end = text_sentence_end(text);
    const char *p = end;
    while (*p == ' ' || *p == '\n')
        p++;
    const char *next = *p ? text_sentence_end(p) : p;
    if (*p && count_words(text, (size_t)(next - text)) <= EXCERPT_WORDS)
        end = next;
    while (end > text && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    return read_placeholders(text, (size_t)(end - text), name);
}

/* The first sentence of text that holds the first word of name (compared folded), verbatim;
 * NULL when none. malloc'd, placeholders read. */
static char *sentence_with(const char *text, const char *name)
{
    const unsigned char *t = (const unsigned char *)name, *s;
    size_t len = text_next_word(&t, &s);
    char want[TEXT_KEY_MAX + 1], w[TEXT_KEY_MAX + 1];
    if (!len)
        return NULL;
    folded(s, len, want);
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\r')
            p++;
        const char *e = text_sentence_end(p);
        if (e == p)
            break;
        t = (const unsigned char *)p;
        while ((len = text_next_word(&t, &s)) && s < (const unsigned char *)e) {
            folded(s, len, w);
            if (!strcmp(w, want)) {
                const char *end = e;
                while (end > p && (end[-1] == ' ' || end[-1] == '\n'))
                    end--;
                return read_placeholders(p, (size_t)(end - p), name);
            }
        }
        p = e;
    }
    return NULL;
}

/* Answers with text (malloc'd, taken) cited to the avatar's field. */
static int say_field(struct brain_reply *out, char *text, const char *field)
{
    out->text = text;
    out->citations = json_array();
    json_t *c = json_pack("{s:n,s:s,s:s,s:n}", "memory_id", "field", field, "text", text ? text : "", "source");
    if (!text || !out->citations || !c) {
        json_decref(c);
        return DP_ERR_NOMEM;
    }
    json_array_append_new(out->citations, c);
    return DP_OK;
}

/* Answers an identity question from the persona's fields: *answered 0 when they hold nothing for
 * it (the memories may). DP_ERR_NOMEM. */
static int answer_persona(const struct brain_input *in, const struct brain_persona *p, enum ask ask,
                          struct brain_reply *out, int *answered)
{
    *answered = 0;
    static const char *const order[][3] = {
        [ASK_WHO] = {"description", "personality", NULL},
        [ASK_LIKE] = {"personality", "description", NULL},
        [ASK_NAME] = {"name", NULL, NULL},
        [ASK_WHERE] = {"scenario", NULL, NULL},
    };
    for (int i = 0; i < 3 && order[ask][i]; i++) {
        const char *field = order[ask][i];
        char *text = NULL;
        if (!strcmp(field, "name")) {
            /* The description's sentence that says the (first) name, else the name as it is. */
            text = in->avatar_name ? sentence_with(p->description, in->avatar_name) : NULL;
            if (text) {
                *answered = 1;
                return say_field(out, text, "description");
            }
            if (!in->avatar_name || !*in->avatar_name)
                continue;
            text = strdup(in->avatar_name);
        } else {
            const char *v = !strcmp(field, "description")   ? p->description
                            : !strcmp(field, "personality") ? p->personality
                                                            : p->scenario;
            text = opening_sentences(v, in->avatar_name);
        }
        if (text) {
            *answered = 1;
            return say_field(out, text, field);
        }
    }
    return DP_OK;
}

/* One exchange of the example dialogue: what the user says and the avatar's line after it. */
struct example {
    const char *user, *reply;
    size_t user_len, reply_len;
};

#define EXAMPLES_MAX 64

/* The exchanges of a card's mes_example ("<START>" blocks of "{{user}}: …" and "{{char}}: …"
 * lines; a line without a label goes on the turn before it). Borrowed from text. */
static int parse_examples(const char *text, const char *name, struct example *ex, int max)
{
    int n = 0;
    const char *turn = NULL;
    size_t turn_len = 0;
    int turn_is_user = 0, have = 0;
    for (const char *line = text; line && *line && n < max;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *body = NULL;
        int who = -1; /* 1 user, 0 avatar */
        static const char *const user_tags[] = {"{{user}}:", "{{User}}:", "<USER>:", NULL};
        static const char *const char_tags[] = {"{{char}}:", "{{Char}}:", "<BOT>:", NULL};
        for (const char *const *t = user_tags; *t && who < 0; t++)
            if (!strncmp(line, *t, strlen(*t)))
                who = 1, body = line + strlen(*t);
        for (const char *const *t = char_tags; *t && who < 0; t++)
            if (!strncmp(line, *t, strlen(*t)))
                who = 0, body = line + strlen(*t);
        size_t nl_name = strlen(name ? name : "");
        if (who < 0 && nl_name && len > nl_name && !strncmp(line, name, nl_name) && line[nl_name] == ':')
            who = 0, body = line + nl_name + 1;
        int start = !strncasecmp(line, "<START>", 7);
        if (who >= 0 || start) {
            if (start) {
                have = 0;
                turn = NULL;
            } else {
                while (*body == ' ')
                    body++;
                if (who == 0 && have && turn_is_user) {
                    ex[n].user = turn;
                    ex[n].user_len = turn_len;
                    ex[n].reply = body;
                    ex[n].reply_len = len - (size_t)(body - line);
                    n++;
                }
                turn = body;
                turn_len = len - (size_t)(body - line);
                turn_is_user = who == 1;
                have = 1;
            }
        } else if (have && len) {
            /* A continuation line: the turn goes on (the reply, if it was one, grows too). */
            turn_len = (size_t)(line + len - turn);
            if (!turn_is_user && n > 0 && ex[n - 1].reply == turn)
                ex[n - 1].reply_len = turn_len;
        }
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* The avatar's line of the example exchange whose user line asks what msg asks: the same words
 * (normalised) when exact, else enough of judge's content words (words_needed); *answered says
 * whether there was one. DP_ERR_NOMEM. */
static int answer_example(const struct brain_input *in, const struct brain_persona *p, const struct terms *judge,
                          int exact, struct brain_reply *out, int *answered)
{
    *answered = 0;
    if (!*p->examples)
        return DP_OK;
    struct example ex[EXAMPLES_MAX];
    int n = parse_examples(p->examples, in->avatar_name, ex, EXAMPLES_MAX), best = -1, best_hits = 0;
    char want[256], got[256];
    normalise(in->message, want, sizeof want);
    for (int i = 0; i < n; i++) {
        char *u = read_placeholders(ex[i].user, ex[i].user_len, in->avatar_name);
        if (!u)
            return DP_ERR_NOMEM;
        int hits = 0;
        if (exact) {
            normalise(u, got, sizeof got);
            hits = *want && !strcmp(want, got);
        } else if (judge && judge->n) {
            hits = coverage(judge, u);
            if (hits < words_needed(judge->n))
                hits = 0;
        }
        free(u);
        if (hits > best_hits) {
            best = i;
            best_hits = hits;
        }
    }
    if (best < 0)
        return DP_OK;
    *answered = 1;
    return say_field(out, read_placeholders(ex[best].reply, ex[best].reply_len, in->avatar_name), "mes_example");
}

/* ---- the person's own way of speaking (in->voice: the personality profile, avatar/) ----
 * The personality profile shapes the brain's own framing, never what it remembers: without a
 * greeting on the card, it greets with the opening word the person uses most ("Hey!", "Morning!");
 * it says it does not remember in the person's register (formality under 0.4: casual, over 0.6:
 * formal). With no own words on record, both stay neutral. */

static int say_hello(const struct brain_input *in, struct brain_reply *out)
{
    char opening[32], text[40];
    double formality;
    if (!in->voice || in->voice(in, opening, &formality) || !*opening)
        return say(out, "Hello!");
    snprintf(text, sizeof text, "%c%s!", toupper((unsigned char)opening[0]), opening + 1);
    return say(out, text);
}

static int say_not_remembered(const struct brain_input *in, struct brain_reply *out)
{
    char opening[32];
    double formality = 0.5;
    if (in->voice && in->voice(in, opening, &formality))
        formality = 0.5;
    if (formality < 0.4)
        return say(out, "Sorry, I don't remember that one.");
    if (formality > 0.6) /* "don't remember" stays: clients and bench/recall recognise it */
        return say(out, "I am sorry, but I don't remember anything about that.");
    return say(out, "I'm sorry, I don't remember anything about that.");
}

static int recall_memories(const struct brain_input *in, struct brain_reply *out);
static int recall_parts(const struct brain_input *in, struct brain_reply *out);

/* The hello a greeting gets: the card's greeting, else the person's own opening word. */
static int greet(const struct brain_input *in, struct brain_reply *out)
{
    return in->greeting && *in->greeting ? say(out, in->greeting) : say_hello(in, out);
}

/* A social turn ("I miss you", thanks, goodbye; recall_social.h), after the hello it opens with
 * if any ("Hi Grandpa, it's Katie. I miss you so much."). *answered 0 when msg is not one. */
static int answer_social(const struct brain_input *in, struct brain_reply *out, int *answered)
{
    char low[512], opening[32];
    double formality = 0.5;
    normalise(in->message, low, sizeof low);
    if (in->voice && in->voice(in, opening, &formality))
        formality = 0.5;
    const char *reply = recall_social_reply(low, strchr(in->message, '?') != NULL, formality);
    *answered = reply != NULL;
    if (!reply)
        return DP_OK;
    if (!is_greeting(in->message))
        return say(out, reply);
    int err = greet(in, out);
    char *both = NULL;
    if (!err && asprintf(&both, "%s %s", out->text, reply) < 0)
        err = DP_ERR_NOMEM;
    if (!err) {
        free(out->text);
        out->text = both;
    }
    return err;
}

static int recall_reply(const struct brain_input *in, struct brain_reply *out)
{
    memset(out, 0, sizeof *out);
    int social = 0, err = answer_social(in, out, &social);
    if (err || social)
        return err;
    if (is_greeting(in->message))
        return greet(in, out);
    if (phrase_in(in->message, more)) {
        /* The rest of the passage quoted last, then the next passage or turn of its source. */
        json_t *last = last_cited(in);
        char *rest =
            last ? continuation(last, json_string_value(json_object_get(last_avatar_message(in), "text"))) : NULL;
        if (rest)
            return answer_from(out, last, rest);
        json_t *next = last ? next_in_source(in->db, in->avatar_id, last, 0, NULL) : NULL;
        json_decref(last);
        if (next)
            return answer_with(out, next);
        if (last)
            return say(out, "That is all I remember about that.");
    }
    /* The card speaks first about the avatar itself: to an identity question, an exchange of its
     * example dialogue that asks just this, then the fields the question is about. Everything
     * else is for the memories (the example dialogue comes last). */
    enum ask ask = persona_ask(in->message);
    if (ask) {
        struct brain_persona persona;
        int answered = 0;
        err = persona_load(in, &persona);
        if (!err)
            err = answer_example(in, &persona, NULL, 1, out, &answered);
        if (!err && !answered)
            err = answer_persona(in, &persona, ask, out, &answered);
        brain_persona_cleanup(&persona);
        if (err || answered)
            return err;
    }
    return recall_parts(in, out);
}

/* ---- questions that ask several things ("Where were you born, and what did your father do?") ---- */

#define PARTS_MAX 4
#define PART_LEN 512

/* 1 when the word at p opens a question of its own. */
static int opens_question(const char *p)
{
    static const char *const openers[] = {"what", "where", "when", "who", "whom", "whose", "why",
                                          "how",  "which", "did",  "do",  "does", "were",  "was",
                                          "are",  "is",    "have", "can", NULL};
    const unsigned char *q = (const unsigned char *)p, *s;
    size_t len = text_next_word(&q, &s);
    char w[TEXT_KEY_MAX + 1];
    if (!len || s != (const unsigned char *)p)
        return 0;
    folded(s, len, w);
    return listed(w, openers);
}

/* The questions msg asks, split where one ends ("?" with more after it) or where "and", "or" or
 * ";" opens another ("…, and what did your father do?"). Returns how many (1: msg is one). */
static int split_parts(const char *msg, char parts[PARTS_MAX][PART_LEN])
{
    int n = 0;
    const char *start = msg;
    for (const char *p = msg; *p && n < PARTS_MAX - 1; p++) {
        const char *next = NULL;
        if (*p == '?' && p[1] == ' ')
            next = p + 1;
        else if (*p == ' ' && (!strncasecmp(p, " and ", 5) || !strncasecmp(p, " or ", 4)))
            next = p + (p[1] == 'a' || p[1] == 'A' ? 5 : 4);
        else if (*p == ';' && p[1] == ' ')
            next = p + 2;
        if (!next)
            continue;
        while (*next == ' ')
            next++;
        if (*p != '?' && !opens_question(next))
            continue;
        const char *end = p + (*p == '?');
        while (end > start && (end[-1] == ',' || end[-1] == ' '))
            end--;
        if (count_words(start, (size_t)(end - start)) >= 2 && count_words(next, strlen(next)) >= 2) {
            snprintf(parts[n++], PART_LEN, "%.*s", (int)(end - start), start);
            start = next;
            p = next - 1;
        }
    }
    if (n == 0)
        return 1;
    snprintf(parts[n++], PART_LEN, "%s", start);
    return n;
}

/* Answers each part of a question that asks several, the answers one after another (a part no
 * memory answers is left out, a quote already said is not said again); one part: recall_memories. */
static int recall_parts(const struct brain_input *in, struct brain_reply *out)
{
    char parts[PARTS_MAX][PART_LEN];
    int n = split_parts(in->message, parts);
    if (n < 2)
        return recall_memories(in, out);
    struct buf text;
    buf_init(&text, 0);
    json_t *cites = json_array();
    int err = cites ? DP_OK : DP_ERR_NOMEM;
    for (int i = 0; i < n && !err; i++) {
        struct brain_input part = *in;
        struct brain_reply r = {0};
        part.message = parts[i];
        err = recall_memories(&part, &r);
        json_t *c = json_array_get(r.citations, 0);
        if (!err && json_string_value(json_object_get(c, "memory_id")) && (!text.data || !strstr(text.data, r.text))) {
            err = buf_printf(&text, "%s%s", text.len ? " " : "", r.text);
            if (!err)
                json_array_extend(cites, r.citations);
        }
        free(r.text);
        json_decref(r.citations);
    }
    if (err || !text.len) {
        buf_cleanup(&text);
        json_decref(cites);
        return err ? err : recall_memories(in, out);
    }
    out->text = buf_steal(&text, NULL);
    out->citations = cites;
    return DP_OK;
}

/* 1 when msg asks when something happened ("When did you …?", "What year was …?"). */
static int asks_when(const char *msg)
{
    char low[256];
    normalise(msg, low, sizeof low);
    return !strncmp(low, "when ", 5) || !strncmp(low, "whens ", 6) || !strncmp(low, "what year ", 10) ||
           !strncmp(low, "in what year ", 13) || !strncmp(low, "which year ", 11) || !strncmp(low, "what date ", 10);
}

/* 1 when msg asks for a cause ("Why were you …?", "How come …?"). */
static int asks_why(const char *msg)
{
    char low[256];
    normalise(msg, low, sizeof low);
    return !strncmp(low, "why ", 4) || !strncmp(low, "how come ", 9);
}

/* 1 when msg asks which one of a kind ("Which doctor …?", "What kind of tomatoes …?"): the answer
 * must name it (names_something), not merely speak of the kind. The kind's word ("doctor",
 * "tomatoes"), keyed as search keys it, into kind (empty when the question does not say it). */
static int asks_which(const char *msg, char kind[TEXT_KEY_MAX + 1])
{
    static const char *const kinds[] = {"kind", "sort", "type", "brand", "make", NULL};
    char low[256], w[16];
    normalise(msg, low, sizeof low);
    kind[0] = 0;
    int n = 0;
    if (!strncmp(low, "which ", 6))
        n = 6;
    else if (!(sscanf(low, "what %15[a-z] of %n", w, &n) == 1 && n > 0 && listed(w, kinds)))
        return 0;
    const unsigned char *p = (const unsigned char *)low + n, *s;
    size_t len = text_next_word(&p, &s);
    if (len && !text_is_stop(s, len))
        kind[text_word_key(s, len, kind)] = 0;
    return 1;
}

/* 1 when text names something: a capitalised word inside a sentence ("the Brandywines", "at the
 * Geisinger clinic"; not "I", not a sentence's first word) or a number. */
static int names_something(const char *text)
{
    const unsigned char *p = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&p, &s));) {
        if (isdigit(s[0]))
            return 1;
        if (!isupper(s[0]) || (len == 1 && s[0] == 'I') || (len > 1 && s[0] == 'I' && s[1] == '\''))
            continue;
        const unsigned char *b = s;
        while (b > (const unsigned char *)text && (b[-1] == ' ' || b[-1] == '"' || b[-1] == '(' || b[-1] == '*'))
            b--;
        if (b > (const unsigned char *)text && !strchr(".!?:\n", b[-1]))
            return 1;
    }
    return 0;
}

/* The day memory occurred on ("12 March 2021") into day, "" when not known. */
static void day_of(json_t *memory, char day[40])
{
    static const char *const months[] = {"January", "February", "March",     "April",   "May",      "June",
                                         "July",    "August",   "September", "October", "November", "December"};
    const char *at = json_string_value(json_object_get(memory, "occurred_at"));
    int y = 0, mo = 0, d = 0;
    day[0] = 0;
    if (at && sscanf(at, "%4d-%2d-%2d", &y, &mo, &d) == 3 && mo >= 1 && mo <= 12)
        snprintf(day, 40, "%d %s %d", d, months[mo - 1], y);
}

/* out's text with "(day)" after it: a "when" question answered with the day the memory occurred
 * on — the memory's own date, never a guess. */
static int add_day(struct brain_reply *out, const char *day)
{
    char *with = NULL;
    if (!*day)
        return DP_OK;
    if (asprintf(&with, "%s (%s)", out->text, day) < 0)
        return DP_ERR_NOMEM;
    free(out->text);
    out->text = with;
    return DP_OK;
}

/* Removes from q the words a "when" question names its answer with ("What year was that?" asks
 * for a time, which says_time looks for, not for the word "year"). */
static void drop_time_words(struct terms *q)
{
    static const char *const time_words[] = {"year", "date", "day", "month", "time", NULL};
    int k = 0, at[MAX_TERMS]; /* at[i]: where term i goes, -1 dropped */
    for (int i = 0; i < q->n; i++)
        at[i] = listed(q->t[i], time_words) ? -1 : k++;
    for (int i = 0; i < q->n; i++) {
        int to = at[i];
        if (to < 0)
            continue;
        if (to != i) {
            memcpy(q->t[to], q->t[i], sizeof q->t[i]);
            q->nrel[to] = q->nrel[i];
            memcpy(q->rel[to], q->rel[i], sizeof q->rel[i]);
            memcpy(q->rel_len[to], q->rel_len[i], sizeof q->rel_len[i]);
            q->nphr[to] = q->nphr[i];
            memcpy(q->phr[to], q->phr[i], sizeof q->phr[i]);
        }
        /* a phrasal verb keeps its particle ("When did she pass away?") */
        q->bound[to] = q->bound[i] >= 0 ? at[q->bound[i]] : -1;
        q->phrase[to] = q->phrase[i];
    }
    q->n = k;
}

/* 1 when text opens in the first person ("I was born …", "My father …"): the avatar speaks of
 * itself, not of someone it names. */
static int first_person(const char *text)
{
    static const char *const mine[] = {"i", "my", NULL};
    return opens_with(text, mine);
}

/* 1 when msg asks the avatar about itself (you, your, yourself). */
static int first_person_asked(const char *msg)
{
    static const char *const you[] = {"you", "your", "yours", "yourself", NULL};
    return words_listed(msg, you, NULL) > 0;
}

/* 1 when q holds the key k. */
static int has_term(const struct terms *q, const char *k)
{
    for (int j = 0; q && j < q->n; j++)
        if (!strcmp(q->t[j], k))
            return 1;
    return 0;
}

/* The topic a pointing follow-up ("Where is it now?") is about: what the avatar's last answer
 * said that the question before did not ask (the answer's new words, not the message's own),
 * the rarest first among those some other memory holds too (at most TOPIC_WORDS) — "Bronze
 * Star" of "They gave me the Bronze Star for carrying two men", asked "What did they give you
 * for carrying the men?". */
#define TOPIC_WORDS 4
static void topic_of(const struct brain_input *in, const char *answer, const char *asked_before,
                     const struct terms *own, struct terms *out)
{
    struct terms all = {0}, before = {0};
    double idf[MAX_TERMS];
    int df[MAX_TERMS], taken[MAX_TERMS] = {0};
    content_words(answer, &all);
    if (asked_before)
        content_words(asked_before, &before);
    word_weights(in, &all, idf, df);
    memset(out, 0, sizeof *out);
    while (out->n < TOPIC_WORDS) {
        int best = -1;
        for (int i = 0; i < all.n; i++) {
            int mine = has_term(own, all.t[i]) || has_term(&before, all.t[i]);
            if (!taken[i] && !mine && df[i] > 1 && (best < 0 || df[i] < df[best]))
                best = i;
        }
        if (best < 0)
            break;
        taken[best] = 1;
        memcpy(out->t[out->n], all.t[best], sizeof all.t[best]);
        out->bound[out->n] = -1;
        out->nrel[out->n] = all.nrel[best];
        memcpy(out->rel[out->n], all.rel[best], sizeof all.rel[best]);
        memcpy(out->rel_len[out->n], all.rel_len[best], sizeof all.rel_len[best]);
        out->n++;
    }
}

/* The text a candidate memory is judged by, malloc'd: of a long passage, only the excerpt that
 * would be quoted (*quote, malloc'd too) — a passage that holds the question's words in
 * different sentences answers nothing; else judged_text. */
static char *candidate_text(const struct brain_input *in, json_t *m, const struct terms *q, const struct weights *wt,
                            char **quote)
{
    const char *kind = json_string_value(json_object_get(m, "kind"));
    *quote = NULL;
    if (kind && !strcmp(kind, "passage")) {
        const char *text = json_string_value(json_object_get(m, "text"));
        struct weights with = *wt;
        with.passage = text;
        *quote = excerpt(text, q, &with);
        if (*quote)
            return strdup(*quote);
    }
    return judged_text(in, m);
}

/* Answers "When was that?" from the avatar's last answer (said, quoting the memory it cited):
 * the sentence of it that says a time, the one most about the question before (asked_before)
 * when several do; cited to the same memory. */
static int answer_time_again(const struct brain_input *in, struct brain_reply *out, const char *said,
                             const char *asked_before)
{
    struct terms before = {0};
    if (asked_before)
        content_words(asked_before, &before);
    const char *best = NULL, *best_end = NULL;
    int best_hits = -1;
    for (const char *p = said; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *e = text_sentence_end(p);
        if (e == p)
            break;
        if (says_time(p, (size_t)(e - p))) {
            char *sentence = strndup(p, (size_t)(e - p));
            int hits = sentence ? coverage(&before, sentence) : 0;
            free(sentence);
            if (hits > best_hits) {
                best_hits = hits;
                best = p;
                best_end = e;
            }
        }
        p = e;
    }
    json_t *memory = last_cited(in);
    if (!best || !memory) {
        json_decref(memory);
        return say_not_remembered(in, out);
    }
    while (best_end > best && (best_end[-1] == ' ' || best_end[-1] == '\n'))
        best_end--;
    char *quote = strndup(best, (size_t)(best_end - best));
    if (!quote) {
        json_decref(memory);
        return DP_ERR_NOMEM;
    }
    return answer_from(out, memory, quote);
}

/* Answers from the memories (and, when none holds the message's words, the example dialogue).
 * A memory answers only when what would be said of it (candidate_text) holds enough of the
 * question: below that the brain says it does not remember rather than quote a weak match. */
/* The year a memory occurred in (its occurred_at), 0 when not known. */
static int year_of(json_t *memory)
{
    const char *at = json_string_value(json_object_get(memory, "occurred_at"));
    return at && strlen(at) >= 4 ? atoi(at) : 0;
}

/* A year asked about ("in 1962") is met by a memory that occurred then, though its words do not
 * say it (found[] marks it as met as asked); how many such years it meets. */
static int year_met(const struct terms *q, json_t *memory, int found[MAX_TERMS])
{
    int year = year_of(memory), met = 0;
    char y[8];
    snprintf(y, sizeof y, "%d", year);
    for (int i = 0; year && i < q->n; i++)
        if (!found[i] && !strcmp(q->t[i], y)) {
            found[i] = 2;
            met++;
        }
    return met;
}

/* The content words of msg into q, and the year its relative time names (text_relative_year,
 * counted from today; 0 for none, written into year_text) with the words of that expression left
 * out of q — unless they are all it asks about. */
static int asked_year(const char *msg, struct terms *q, char year_text[8])
{
    time_t now = time(NULL);
    struct tm tm;
    size_t from = 0, to = 0;
    int year = gmtime_r(&now, &tm) ? text_relative_year(msg, tm.tm_year + 1900, tm.tm_mon + 1, &from, &to) : 0;
    char *rest = year ? strdup(msg) : NULL;
    if (rest) {
        memset(rest + from, ' ', to - from);
        content_words(rest, q);
        free(rest);
        if (q->n > 0) {
            snprintf(year_text, 8, "%d", year);
            return year;
        }
        memset(q, 0, sizeof *q);
    }
    content_words(msg, q);
    return 0;
}

/* The appositions of the passages found (recall_alias.h), each with the document it is in: a
 * person introduced in one passage ("I met your grandmother, Margaret") is that person in the
 * others of the same document ("Margaret died on the third of March"). */
#define ALIAS_POOL 32
struct alias_pool {
    int n;
    struct recall_alias a[ALIAS_POOL];
    size_t item[ALIAS_POOL];
    char media[ALIAS_POOL][48]; /* copied: the items searched for persons are freed */
};

static void alias_pool_read(struct alias_pool *pool, json_t *items, size_t first)
{
    size_t i;
    json_t *m;
    json_array_foreach (items, i, m) {
        const char *kind = json_string_value(json_object_get(m, "kind"));
        const char *text = json_string_value(json_object_get(m, "text"));
        if (!kind || strcmp(kind, "passage") || !text || pool->n >= ALIAS_POOL)
            continue;
        struct recall_alias got[RECALL_ALIASES];
        int n = recall_aliases(text, got, RECALL_ALIASES);
        const char *media = json_string_value(json_object_get(json_object_get(m, "source"), "media_id"));
        for (int k = 0; k < n && pool->n < ALIAS_POOL; k++, pool->n++) {
            pool->a[pool->n] = got[k];
            pool->item[pool->n] = first + i;
            snprintf(pool->media[pool->n], sizeof pool->media[pool->n], "%s", media ? media : "");
        }
    }
}

/* The passages that introduce the persons a question names ("Grandma": "I met your grandmother,
 * Margaret"), found by searching for each such word alone, into pool: the found passages about
 * that person may call them only by name ("Margaret died in 2016"). */
static void alias_pool_search(const struct brain_input *in, const struct terms *q, struct alias_pool *pool)
{
    static const char *const persons[] = {"person", "relative", NULL};
    for (int i = 0; i < q->n && pool->n < ALIAS_POOL; i++) {
        if (!wordnet_noun_is_a(q->t[i], strlen(q->t[i]), persons))
            continue;
        json_t *items = NULL;
        char *next = NULL, msg[128];
        if (!memory_list(in->db, in->avatar_id, q->t[i], NULL, 12, &items, &next, msg, sizeof msg))
            alias_pool_read(pool, items, 1000 + (size_t)i * 16); /* not one of the items judged */

        free(next);
        json_decref(items);
    }
}

/* The appositions that hold in item m (number i of the items found): its own first (*own of
 * them), then those of the other passages of its document. Returns how many. */
static int alias_pool_for(const struct alias_pool *pool, json_t *m, size_t i, struct recall_alias out[ALIAS_POOL],
                          int *own)
{
    int n = 0;
    const char *media = json_string_value(json_object_get(json_object_get(m, "source"), "media_id"));
    for (int k = 0; k < pool->n; k++)
        if (pool->item[k] == i)
            out[n++] = pool->a[k];
    *own = n;
    for (int k = 0; k < pool->n && media; k++)
        if (pool->item[k] != i && *pool->media[k] && !strcmp(pool->media[k], media))
            out[n++] = pool->a[k];
    return n;
}

static int recall_memories(const struct brain_input *in, struct brain_reply *out)
{
    int err;
    struct terms q = {0};
    /* a relative time ("last summer", "two years ago") is when, not what: its words are not looked
     * for, the memory must have occurred then (or say that year) */
    char year_text[8] = "";
    int year = asked_year(in->message, &q, year_text);
    int when = asks_when(in->message), to_you = first_person_asked(in->message);
    if (when)
        drop_time_words(&q);
    /* A follow-up borrows the topic of the previous question: a short one ("and your sister?"),
     * or one that points back with a pronoun ("what did he look like?"). A pointing one is about
     * what the avatar said last (topic_of), when that quoted a memory. */
    char query[2048];
    int pointing = refers_back(in->message);
    const char *said = last_answer(in), *prev = previous_user_message(in, pointing && !said);
    int borrow = prev && (q.n < 2 || pointing);
    /* "What year was that?" about an answer that said a time: its sentence that says it */
    if (when && pointing && said && q.n == 0 && says_time(said, strlen(said)))
        return answer_time_again(in, out, said, prev);
    /* (a question of three words or more names what its pronouns point at itself: "Where did your
     * grandmother keep her buttons?") */
    struct terms topic = {0};
    if (pointing && said && q.n <= 2)
        topic_of(in, said, previous_user_message(in, 0), &q, &topic);
    int n = snprintf(query, sizeof query, "%s%s%s", in->message, borrow ? " " : "", borrow ? prev : "");
    for (int i = 0; i < topic.n && n > 0 && (size_t)n < sizeof query; i++)
        n += snprintf(query + n, sizeof query - (size_t)n, " %s", topic.t[i]);
    struct terms qq = {0};
    content_words(query, &qq);
    if (qq.n == 0)
        return say(out, "I'm not sure what you mean. Ask me about something I might remember.");
    json_t *items = NULL;
    char *next = NULL, msg[128];
    err = memory_list(in->db, in->avatar_id, query, NULL, 12, &items, &next, msg, sizeof msg);
    free(next);
    if (err == DP_ERR_INVALID)
        return say(out, "I'm not sure what you mean. Ask me about something I might remember.");
    if (err)
        return err;
    if (brain_cancelled(in)) {
        json_decref(items);
        return DP_ERR_CANCELLED;
    }
    /* Enough of the message's own words must be in the memory (words_needed); of a follow-up
     * with a pronoun, its own words and one of its topic's (or, with none of its own, a topic
     * word); of a short follow-up, enough of its words and its topic's together. */
    const struct terms *judge = topic.n              ? (q.n ? &q : &topic)
                                : pointing && borrow ? &qq /* "it" when nothing was answered: what was asked */
                                : q.n && !(borrow && q.n >= 2) ? &q
                                                               : &qq;
    json_t *best = NULL, *again = NULL, *kind_answer = NULL;
    char *best_quote = NULL, *again_quote = NULL, *kind_quote = NULL;
    int premise = 0, kind_quote_set = 0;
    int best_hits = 0;
    int best_as_asked = 0;
    size_t i;
    json_t *m;
    /* A longer question must also be answered by a memory holding its most specific word. */
    int rare = judge == &topic ? -1 : rarest_word(in, judge), found[MAX_TERMS];
    /* What a memory must say enough of: the message's own words (a pronoun's topic helps find it,
     * and is not asked about again), or the borrowed ones when the message has almost none. */
    const struct terms *asked = q.n >= 2 || judge == &q ? &q : judge;
    double idf[MAX_TERMS], judge_idf[MAX_TERMS];
    int found_asked[MAX_TERMS];
    word_weights(in, asked, idf, NULL);
    int judge_df[MAX_TERMS], unknown = -1;
    word_weights(in, judge, judge_idf, judge_df);
    /* a word of the question no memory holds ("maiden" of "What was your mom's maiden name?") is
     * what it asks about: only a memory meeting it through a related word may answer */
    for (int k = 0; k < judge->n && unknown < 0; k++)
        if (judge_df[k] == 0)
            unknown = k;
    struct weights wt;
    weights_of(judge, judge_idf, when, &wt);
    wt.why = asks_why(in->message);
    char kind_word[TEXT_KEY_MAX + 1];
    int which = asks_which(in->message, kind_word), kind_term = -1;
    for (int k = 0; which && *kind_word && k < judge->n && kind_term < 0; k++)
        if (!strcmp(judge->t[k], kind_word))
            kind_term = k;
    struct alias_pool pool = {0};
    alias_pool_read(&pool, items, 0);
    alias_pool_search(in, judge, &pool);
    struct recall_alias alias[ALIAS_POOL];
    wt.alias = alias;
    json_array_foreach (items, i, m) {
        wt.nalias = alias_pool_for(&pool, m, i, alias, &wt.nown);
        char *quote = NULL, *text = candidate_text(in, m, judge, &wt, &quote);
        int related = 0, hits = text ? coverage_of(judge, text, found, &related) : 0;
        /* a person of the question named in the excerpt by an apposition of its document */
        hits += text && wt.nalias ? alias_meets(judge, &wt, text, strlen(text), found, NULL) : 0;
        /* an occupation said answers only about the person asked of: another word of the question
         * must be met too ("What was Gareth's job?" is not answered by "She was a teacher") */
        int occupation_only = 0;
        for (int k = 0; k < judge->n && hits == 1 && judge->n >= 2; k++)
            occupation_only |= found[k] && listed(judge->t[k], occupation_words);
        hits += text ? year_met(judge, m, found) : 0;
        if (text && asked != judge)
            coverage_of(asked, text, found_asked, NULL);
        else
            memcpy(found_asked, found, sizeof found);
        int on_topic = !topic.n || judge == &topic || (text && coverage(&topic, text) > 0);
        char day[40];
        day_of(m, day);
        /* a "when" question is answered by a memory that says a time, or knows its own day */
        int timed = !when || *day || (text && says_time(text, strlen(text)));
        /* the same words the avatar just said answer a follow-up only when nothing new does */
        int same = said && (quote ? !strcmp(quote, said) : text && !strcmp(text, said));
        /* a question to "you" prefers what the avatar says of itself ("I was born …"); then any
         * question a line of dialogue that answers a question holding its words (the question is
         * in what it is judged by) over a line that merely uses them */
        int mine = to_you && text && first_person(text);
        const char *kind = json_string_value(json_object_get(m, "kind"));
        int utterance = kind && !strcmp(kind, "utterance");
        int answers_asked = utterance && text && asks_or_answers(m, text, judge);
        /* which one of a kind: what would be said must name it (a line said to the avatar is
         * answered by the avatar's next) */
        int named = 1;
        if (which && text) {
            const char *speaker = json_string_value(json_object_get(m, "speaker"));
            json_t *r = utterance && speaker && !is_avatar_speaker(speaker, in->avatar_name)
                            ? next_in_source(in->db, in->avatar_id, m, 1, in->avatar_name)
                            : NULL;
            const char *said_text = r ? json_string_value(json_object_get(r, "text")) : quote ? quote : NULL;
            named = names_something(said_text ? said_text : json_string_value(json_object_get(m, "text")));
            json_decref(r);
        }
        char *text_has = text;
        /* A related word ("dad" for "father") stands in for at most one word of the question, or
         * for several beside one met as asked ("What song did your mom sing?" by "my mother sang"):
         * related words alone would answer questions nothing answers with something merely on the
         * same subject. */
        /* a topic word is enough beside the message's own; own and borrowed words together by
         * count (what they say is weighed on the own ones: says_enough below); else by weight */
        int held = judge == &topic  ? hits >= 1
                   : judge != asked ? hits >= words_needed(judge->n) && (rare < 0 || found[rare])
                                    : answers_enough(judge, judge_idf, found, hits, rare);
        int then = !year || year_of(m) == year || (text_has && strstr(text_has, year_text));
        free(text_has);
        int ok = !occupation_only && (related <= 1 || related < hits) && held && !particle_missing(judge, found) &&
                 (unknown < 0 || found[unknown]) && says_enough(asked, idf, found_asked) && on_topic && timed && then;
        /* which one of a kind: a memory that holds the question but names nothing ("My tomatoes
         * are not as good as she would have grown") confirms what it takes for granted; then one
         * naming a kind of it ("The Brandywines did the best") answers it, though it says only
         * the kind ("Which hospital was I born in?" takes a birth in a hospital for granted: no
         * hospital's name answers it unless that is remembered) */
        premise |= ok && !named;
        if (!kind_quote_set && kind_term >= 0 && found[kind_term] && named && !same && on_topic && timed &&
            (unknown < 0 || found[unknown])) {
            kind_answer = m;
            kind_quote = quote;
            kind_quote_set = 1;
            quote = NULL;
        }
        ok = ok && named;
        if (ok && same && !again) {
            again = m;
            again_quote = quote;
            quote = NULL;
        }
        /* the most words met first; then what the avatar says of itself, a line answering a
         * question; then, of those alike, the one meeting more words as asked rather than through
         * a related word (search ranks so too: a related word weighs less); then search's order */
        int rank = hits * 4 + mine * 2 + answers_asked, as_asked = 0;
        for (int k = 0; k < judge->n; k++)
            as_asked += found[k] == 2;
        if (ok && !same && (rank > best_hits || (rank == best_hits && as_asked > best_as_asked))) {
            best = m;
            best_hits = rank;
            best_as_asked = as_asked;
            free(best_quote);
            best_quote = quote;
            quote = NULL;
        }
        free(quote);
    }
    if (!best && premise && kind_answer) {
        best = kind_answer;
        best_quote = kind_quote;
        kind_quote = NULL;
    }
    free(kind_quote);
    if (!best) {
        best = again;
        best_quote = again_quote;
        again_quote = NULL;
    }
    free(again_quote);
    if (!best) {
        json_decref(items);
        struct brain_persona persona;
        int answered = 0;
        if (!(err = persona_load(in, &persona)))
            err = answer_example(in, &persona, judge, 0, out, &answered);
        brain_persona_cleanup(&persona);
        if (err || answered)
            return err;
        return say_not_remembered(in, out);
    }
    json_incref(best);
    json_decref(items);
    char day[40] = "";
    if (when)
        day_of(best, day);
    /* Dialogue: the avatar's own line is its answer; a line said to it is answered by what it
     * said next. */
    const char *kind = json_string_value(json_object_get(best, "kind"));
    const char *speaker = json_string_value(json_object_get(best, "speaker"));
    json_t *reply = NULL;
    if (kind && !strcmp(kind, "utterance") && speaker && !is_avatar_speaker(speaker, in->avatar_name))
        reply = next_in_source(in->db, in->avatar_id, best, 1, in->avatar_name);
    if (reply) {
        json_decref(best);
        free(best_quote);
    }
    int written = !reply && (!kind || strcmp(kind, "utterance"));
    err = reply ? answer_with(out, reply) : answer_from(out, best, best_quote);
    /* What was written about the avatar is said in its own voice (recall_person.h); the citation
     * keeps the memory's words. */
    char *mine = !err && written ? recall_first_person(out->text, in->avatar_name) : NULL;
    if (mine) {
        free(out->text);
        out->text = mine;
    }
    return err ? err : add_day(out, day);
}

int brain_recall_words(const char *text, char keys[][TEXT_KEY_MAX + 1], int max)
{
    struct terms t = {0};
    content_words(text, &t);
    int n = t.n < max ? t.n : max;
    for (int i = 0; i < n; i++)
        memcpy(keys[i], t.t[i], sizeof t.t[i]);
    return n;
}

const struct brain_ops brain_recall_ops = {"recall", recall_reply, NULL, NULL};
