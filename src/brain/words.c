/* Word characters and stop words, shared by memory search and the recall brain. */
#include "brain/words.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

unsigned words_decode(const unsigned char *p, size_t *len)
{
    if (p[0] < 0x80)
        return *len = 1, p[0];
    if ((p[0] & 0xe0) == 0xc0)
        return *len = 2, (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    if ((p[0] & 0xf0) == 0xe0)
        return *len = 3, (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    return *len = 4, (unsigned)(p[0] & 0x07) << 18 | (unsigned)(p[1] & 0x3f) << 12 | (unsigned)(p[2] & 0x3f) << 6 |
                     (p[3] & 0x3f);
}

/* ASCII punctuation, Unicode spaces (Zs, Zl, Zp), general punctuation (dashes, quotes, bullets)
 * and CJK punctuation separate words. */
int words_is_word_char(unsigned cp)
{
    if (cp < 0x80)
        return isalnum((int)cp);
    if ((cp >= 0x80 && cp <= 0xa0) || cp == 0x1680 || cp == 0x180e || (cp >= 0x2000 && cp <= 0x206f) ||
        (cp >= 0x3000 && cp <= 0x3003) || (cp >= 0x3008 && cp <= 0x3011) || cp == 0xfeff ||
        (cp >= 0xff01 && cp <= 0xff0f) || cp == 0xff1a || cp == 0xff1b || cp == 0xff1f || cp == 0xab ||
        cp == 0xbb || cp == 0xb7 || cp == 0xbf || cp == 0xa1)
        return 0;
    return 1;
}

size_t words_next(const unsigned char **p, const unsigned char **start)
{
    size_t l;
    const unsigned char *t = *p;
    while (*t && !words_is_word_char(words_decode(t, &l)))
        t += l;
    *start = t;
    while (*t && words_is_word_char(words_decode(t, &l)))
        t += l;
    *p = t;
    return (size_t)(t - *start);
}

/* Base letters of U+00C0..U+024F ('.' = none: the letter is kept, lower-cased where it has a
 * simple case pair). Made from Unicode's canonical decompositions. */
static const char latin_base[] = "aaaaaa.ceeeeiiii.nooooo..uuuuy..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
                                 "aaaaaaccccccccdd..eeeeeeeeeegggggggghh..iiiiiiiii...jjkk.llllll."
                                 "...nnnnnn...oooooo..rrrrrrsssssssstttt..uuuuuuuuuuuuwwyyyzzzzzz."
                                 "................................oo.............uu..............."
                                 ".............aaiioouuuuuuuuuu.aaaa....ggkkoooo..j...gg..nnaa...."
                                 "aaaaeeeeiiiioooorrrruuuusstt..hh......aaeeooooooooyy............"
                                 "................";

unsigned words_fold(unsigned cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp >= 0xc0 && cp < 0x250) {
        char b = latin_base[cp - 0xc0];
        if (b != '.')
            return (unsigned char)b;
        if (cp <= 0xde && cp != 0xd7)
            return cp + 0x20; /* Æ Ð Ø Þ */
        if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14a && cp <= 0x177))
            return cp | 1; /* pairs: even upper, odd lower */
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e)) && (cp & 1))
            return cp + 1;
        return cp;
    }
    static const unsigned short greek_tonos[][2] = {{0x386, 0x3b1}, {0x388, 0x3b5}, {0x389, 0x3b7}, {0x38a, 0x3b9},
                                                    {0x38c, 0x3bf}, {0x38e, 0x3c5}, {0x38f, 0x3c9}, {0x3ac, 0x3b1},
                                                    {0x3ad, 0x3b5}, {0x3ae, 0x3b7}, {0x3af, 0x3b9}, {0x3c2, 0x3c3},
                                                    {0x3cc, 0x3bf}, {0x3cd, 0x3c5}, {0x3ce, 0x3c9}};
    for (size_t i = 0; i < sizeof greek_tonos / sizeof *greek_tonos; i++)
        if (cp == greek_tonos[i][0])
            return greek_tonos[i][1];
    if (cp >= 0x391 && cp <= 0x3a9)
        return cp + 0x20;
    if (cp >= 0x410 && cp <= 0x42f)
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 0x50;
    return cp;
}

static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80)
        return out[0] = (char)cp, 1;
    if (cp < 0x800)
        return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
               out[2] = (char)(0x80 | (cp & 0x3f)), 3;
    return out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
           out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f)), 4;
}

size_t words_key(const unsigned char *w, size_t len, char out[WORDS_KEY_MAX])
{
    size_t n = 0, l;
    for (size_t i = 0; i < len; i += l) {
        char enc[4];
        size_t k = put_utf8(words_fold(words_decode(w + i, &l)), enc);
        if (n + k > WORDS_KEY_MAX)
            break;
        memcpy(out + n, enc, k);
        n += k;
    }
    /* English inflections, longest first; at least three bytes stay ("bed", "use" keep theirs). */
    if (n >= 5 && !memcmp(out + n - 3, "ies", 3)) { /* stories → story */
        out[n - 3] = 'y';
        return n - 2;
    }
    static const char *const endings[] = {"ings", "ing", "ers", "ed", "es", "er", "ly", "s", "e", "d", NULL};
    for (const char *const *e = endings; *e; e++) {
        size_t k = strlen(*e);
        if (n >= k + 3 && !memcmp(out + n - k, *e, k))
            return n - k;
    }
    return n;
}

/* Sorted, for bsearch. Questions are mostly made of these ("what did you do when …"); a
 * memory that shares only them with a question has nothing to do with it. */
static const char *const stop_words[] = {
    "a",     "about", "after", "all",   "am",    "an",    "and",   "any",   "are",   "as",    "at",
    "be",    "been",  "before", "but",  "by",    "can",   "could", "did",   "do",    "does",  "for",
    "from",  "had",   "has",   "have",  "he",    "her",   "him",   "his",   "how",   "i",     "if",
    "in",    "is",    "it",    "its",   "just",  "me",    "my",    "of",    "on",    "or",    "our",
    "really", "she",  "so",    "some",  "tell",  "than",  "that",  "the",   "their", "them",  "then",
    "there", "they",  "this",  "to",    "us",    "very",  "was",   "we",    "were",  "what",  "when",
    "where", "which", "who",   "why",   "will",  "with",  "would", "you",   "your"};

static int cmp_stop(const void *key, const void *elem)
{
    return strcasecmp(key, *(const char *const *)elem);
}

int words_is_stop(const char *w, size_t len)
{
    char low[8];
    if (len == 0 || len >= sizeof low)
        return 0;
    memcpy(low, w, len);
    low[len] = 0;
    return bsearch(low, stop_words, sizeof stop_words / sizeof *stop_words, sizeof *stop_words, cmp_stop) != NULL;
}
