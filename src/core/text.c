/* The text toolkit: word characters, case and accent folding, word keys and stop words. */
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/wordnet.h"

/* ASCII punctuation, Unicode spaces (Zs, Zl, Zp), general punctuation (dashes, quotes, bullets)
 * and CJK punctuation separate words. */
int text_is_word_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
    if ((cp >= 0x80 && cp <= 0xa1) || cp == 0x1680 || cp == 0x180e || (cp >= 0x2000 && cp <= 0x206f) ||
        (cp >= 0x3000 && cp <= 0x3003) || (cp >= 0x3008 && cp <= 0x3011) || cp == 0xfeff ||
        (cp >= 0xff01 && cp <= 0xff0f) || cp == 0xff1a || cp == 0xff1b || cp == 0xff1f || cp == 0xab || cp == 0xbb ||
        cp == 0xb7 || cp == 0xbf)
        return 0;
    return 1;
}

int text_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7) || (cp >= 0x370 && cp <= 0x1fff) ||
           (cp >= 0x3040 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7a3);
}

int text_is_wide(uint32_t cp)
{
    return (cp >= 0x3000 && cp <= 0xdfff) || (cp >= 0xff00 && cp <= 0xff7f);
}

size_t text_next_word(const unsigned char **p, const unsigned char **start)
{
    size_t l;
    const unsigned char *t = *p;
    while (*t && !text_is_word_char(utf8_get(t, &l)))
        t += l;
    *start = t;
    while (*t && text_is_word_char(utf8_get(t, &l)))
        t += l;
    *p = t;
    return (size_t)(t - *start);
}

size_t text_count_words(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t words = 0, l;
    int in = 0;
    for (size_t i = 0; i < n; i += l) {
        int w = text_is_word_char(utf8_get(p + i, &l));
        words += w && !in;
        in = w;
    }
    return words;
}

/* 1 when the '.' at dot ends a title or an initial, not a sentence: "St. Patrick's", "Dr. Patel",
 * "J. R. Smith" — a capital letter alone, or one of the titles written before a name (begin is
 * where the text starts, so that nothing before it is read). */
static int abbreviation_before(const char *begin, const char *dot)
{
    static const char *const titles[] = {"Mr",  "Mrs", "Ms",   "Dr",  "St",  "Jr",  "Sr",  "Mt",  "Fr",  "Rev", "Prof",
                                         "Sgt", "Lt",  "Capt", "Col", "Gen", "Cpl", "Pvt", "Gov", "Sen", "vs",  NULL};
    const char *w = dot;
    while (w > begin && ((w[-1] >= 'a' && w[-1] <= 'z') || (w[-1] >= 'A' && w[-1] <= 'Z')))
        w--;
    size_t n = (size_t)(dot - w);
    if (n == 0 || (w > begin && w[-1] != ' ' && w[-1] != '\n' && w[-1] != '(' && w[-1] != '"'))
        return 0;
    if (n == 1 && *w >= 'A' && *w <= 'Z')
        return 1;
    for (const char *const *t = titles; *t; t++)
        if (strlen(*t) == n && !strncmp(*t, w, n))
            return 1;
    return 0;
}

const char *text_sentence_end(const char *p)
{
    const char *begin = p;
    for (; *p; p++) {
        if (*p == '\n' && p[1] == '\n')
            return p + 1;
        if (*p == '.' && p[1] == ' ' && abbreviation_before(begin, p))
            continue;
        if ((*p == '.' || *p == '!' || *p == '?') && (p[1] == ' ' || p[1] == '\n' || p[1] == '"' || !p[1])) {
            p++;
            while (*p == '"')
                p++;
            return p;
        }
    }
    return p;
}

uint32_t text_lower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp < 0xc0)
        return cp;
    if (cp <= 0xde)
        return cp == 0xd7 ? cp : cp + 0x20;
    if (cp < 0x100)
        return cp;
    if (cp < 0x250) { /* Latin Extended-A and -B: pairs, upper case first */
        if (cp == 0x130)
            return 'i'; /* İ */
        if (cp == 0x178)
            return 0xff; /* Ÿ */
        if (cp <= 0x137 || (cp >= 0x14a && cp <= 0x177) || (cp >= 0x1de && cp <= 0x1ef) ||
            (cp >= 0x1f8 && cp <= 0x21f) || (cp >= 0x222 && cp <= 0x233))
            return cp | 1;
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e) || (cp >= 0x1cd && cp <= 0x1dc)) && (cp & 1))
            return cp + 1;
        return cp;
    }
    if (cp >= 0x370 && cp < 0x400) { /* Greek */
        if (cp == 0x386)
            return 0x3ac;
        if (cp >= 0x388 && cp <= 0x38a)
            return cp + 0x25;
        if (cp == 0x38c)
            return 0x3cc;
        if (cp == 0x38e || cp == 0x38f)
            return cp + 0x3f;
        if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
            return cp + 0x20;
        return cp;
    }
    if (cp >= 0x400 && cp < 0x530) { /* Cyrillic */
        if (cp <= 0x40f)
            return cp + 0x50;
        if (cp <= 0x42f)
            return cp + 0x20;
        if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4bf) || (cp >= 0x4d0 && cp <= 0x52f))
            return cp | 1;
        if (cp >= 0x4c1 && cp <= 0x4ce && (cp & 1))
            return cp + 1;
        return cp;
    }
    if ((cp >= 0x1e00 && cp <= 0x1e95) || (cp >= 0x1ea0 && cp <= 0x1eff)) /* Latin Extended Additional */
        return cp | 1;
    return cp;
}

int text_lower_eq(const char *a, size_t la, const char *b, size_t lb)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t i = 0, j = 0, n, m;
    while (i < la && j < lb) {
        if (text_lower(utf8_next(x + i, la - i, &n)) != text_lower(utf8_next(y + j, lb - j, &m)))
            return 0;
        i += n;
        j += m;
    }
    return i == la && j == lb;
}

int text_is_upper(uint32_t cp)
{
    return text_lower(cp) != cp;
}

/* Base letters of U+00C0..U+024F ('.' = none: the letter is kept, lower-cased where it has a
 * simple case pair). Made from Unicode's canonical decompositions. */
static const char latin_base[] = "aaaaaa.ceeeeiiii.nooooo..uuuuy..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
                                 "aaaaaaccccccccdd..eeeeeeeeeegggggggghh..iiiiiiiiii..jjkk.llllll."
                                 "...nnnnnn...oooooo..rrrrrrsssssssstttt..uuuuuuuuuuuuwwyyyzzzzzz."
                                 "................................oo.............uu..............."
                                 ".............aaiioouuuuuuuuuu.aaaa....ggkkoooo..j...gg..nnaa...."
                                 "aaaaeeeeiiiioooorrrruuuusstt..hh......aaeeooooooooyy............"
                                 "................";

/* Greek letters with tonos or dialytika, and final sigma, to their base letter. */
static const unsigned short greek_base[][2] = {
    {0x386, 0x3b1}, {0x388, 0x3b5}, {0x389, 0x3b7}, {0x38a, 0x3b9}, {0x38c, 0x3bf}, {0x38e, 0x3c5}, {0x38f, 0x3c9},
    {0x390, 0x3b9}, {0x3aa, 0x3b9}, {0x3ab, 0x3c5}, {0x3ac, 0x3b1}, {0x3ad, 0x3b5}, {0x3ae, 0x3b7}, {0x3af, 0x3b9},
    {0x3b0, 0x3c5}, {0x3c2, 0x3c3}, {0x3ca, 0x3b9}, {0x3cb, 0x3c5}, {0x3cc, 0x3bf}, {0x3cd, 0x3c5}, {0x3ce, 0x3c9}};

uint32_t text_fold(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp >= 0xc0 && cp < 0x250) {
        char b = latin_base[cp - 0xc0];
        return b != '.' ? (unsigned char)b : text_lower(cp);
    }
    if (cp >= 0x386 && cp <= 0x3ce) {
        for (size_t i = 0; i < sizeof greek_base / sizeof *greek_base; i++)
            if (cp == greek_base[i][0])
                return greek_base[i][1];
        return text_lower(cp);
    }
    switch (cp) { /* Cyrillic е and и with diacritics (ё is written е in most Russian text) */
    case 0x400:
    case 0x401:
    case 0x450:
    case 0x451:
        return 0x435;
    case 0x40d:
    case 0x45d:
        return 0x438;
    }
    return text_lower(cp);
}

/* w[0..len) into out (cap bytes, cut at a character): folded (ß → ss, combining marks after a
 * letter dropped), or only lower-cased. */
static size_t map_word(const unsigned char *w, size_t len, char *out, size_t cap, int fold)
{
    size_t n = 0, l;
    for (size_t i = 0; i < len; i += l) {
        if (w[i] < 0x80) { /* the common case, without encoding */
            if (n + 1 > cap)
                break;
            out[n++] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
            l = 1;
            continue;
        }
        uint32_t cp = utf8_get(w + i, &l);
        char enc[4];
        size_t k;
        if (!fold)
            k = utf8_encode(text_lower(cp), enc);
        else if (i > 0 && cp >= 0x300 && cp <= 0x36f)
            continue;                        /* a combining mark: the accent of the letter before it */
        else if (cp == 0xdf || cp == 0x1e9e) /* ß ẞ */
            enc[0] = enc[1] = 's', k = 2;
        else
            k = utf8_encode(text_fold(cp), enc);
        if (n + k > cap)
            break;
        memcpy(out + n, enc, k);
        n += k;
    }
    return n;
}

size_t text_fold_word(const unsigned char *w, size_t len, char *out, size_t cap)
{
    return map_word(w, len, out, cap, 1);
}

size_t text_lower_word(const unsigned char *w, size_t len, char *out, size_t cap)
{
    return map_word(w, len, out, cap, 0);
}

/* The suffix rules that were the word keys before WordNet, kept for when it is not installed. */
static size_t suffix_key(char *out, size_t n)
{
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

/* 1 when out[0..n) is made of ASCII letters only (the words WordNet may know). */
static int ascii_letters(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z')))
            return 0;
    return n > 0;
}

size_t text_word_key(const unsigned char *w, size_t len, char out[TEXT_KEY_MAX])
{
    size_t n = text_fold_word(w, len, out, TEXT_KEY_MAX);
    if (!wordnet_ready())
        return suffix_key(out, n);
    if (!ascii_letters(out, n))
        return n;
    char lemma[TEXT_KEY_MAX];
    size_t l = wordnet_lemma(out, n, lemma, sizeof lemma);
    if (l) {
        memcpy(out, lemma, l);
        return l;
    }
    /* A word WordNet does not know (a name, a brand, slang): only a plural -s comes off, where it
     * cannot be part of the word ("crocs" → "croc", not "class", "bus", "this"). */
    if (n >= 4 && out[n - 1] == 's' && out[n - 2] != 's' && out[n - 2] != 'u' && out[n - 2] != 'i')
        return n - 1;
    return n;
}

int text_related_keys(const char *key, size_t n, char out[][TEXT_KEY_MAX], size_t len[], float weight[], int max)
{
    char rel[WORDNET_RELATED_MAX][32], lemma[TEXT_KEY_MAX + 1];
    int kind[WORDNET_RELATED_MAX], got = 0;
    if (n > TEXT_KEY_MAX || max <= 0)
        return 0;
    memcpy(lemma, key, n);
    lemma[n] = 0;
    int nr = wordnet_related(lemma, n, rel, kind, WORDNET_RELATED_MAX);
    for (int j = 0; j < nr && got < max && got < TEXT_RELATED_MAX; j++) {
        char k[TEXT_KEY_MAX];
        size_t kl = text_word_key((const unsigned char *)rel[j], strlen(rel[j]), k);
        int dup = kl == n && !memcmp(k, key, n);
        for (int i = 0; i < got && !dup; i++)
            dup = len[i] == kl && !memcmp(out[i], k, kl);
        if (dup || text_is_stop((const unsigned char *)k, kl))
            continue;
        memcpy(out[got], k, kl);
        len[got] = kl;
        weight[got++] = kind[j] ? TEXT_BROADER_WEIGHT : TEXT_SYNONYM_WEIGHT;
    }
    return got;
}

int text_related_phrases(const char *key, size_t n, char out[][TEXT_KEY_MAX], int max)
{
    char rel[WORDNET_RELATED_MAX][32], lemma[TEXT_KEY_MAX + 1];
    int got = 0;
    if (n > TEXT_KEY_MAX || max <= 0)
        return 0;
    memcpy(lemma, key, n);
    lemma[n] = 0;
    int nr = wordnet_related_phrases(lemma, n, rel, NULL, WORDNET_RELATED_MAX);
    for (int j = 0; j < nr && got < max; j++) {
        /* each word of the entry keyed as text is ("Stars" meets star), joined by spaces */
        size_t at = 0;
        int fits = 1;
        for (const char *w = rel[j]; *w && fits;) {
            size_t wl = strcspn(w, "_");
            char k[TEXT_KEY_MAX];
            size_t kl = text_word_key((const unsigned char *)w, wl, k);
            fits = kl > 0 && at + kl + 1 < TEXT_KEY_MAX;
            if (fits) {
                if (at)
                    out[got][at++] = ' ';
                memcpy(out[got] + at, k, kl);
                at += kl;
            }
            w += wl + (w[wl] == '_');
        }
        if (!fits)
            continue;
        out[got][at] = 0;
        int dup = 0;
        for (int i = 0; i < got && !dup; i++)
            dup = !strcmp(out[i], out[got]);
        got += !dup;
    }
    return got;
}

int text_phrase_keys(const char *key, size_t n, const unsigned char *next, size_t next_len, char out[][TEXT_KEY_MAX],
                     size_t len[], float weight[], int max)
{
    char entry[TEXT_KEY_MAX];
    if (n == 0 || next_len == 0 || n + 1 >= TEXT_KEY_MAX)
        return 0;
    memcpy(entry, key, n);
    entry[n] = '_';
    size_t nl = text_lower_word(next, next_len, entry + n + 1, TEXT_KEY_MAX - n - 1);
    if (nl == 0 || nl >= TEXT_KEY_MAX - n - 1)
        return 0;
    return text_related_keys(entry, n + 1 + nl, out, len, weight, max);
}

/* Sorted, for bsearch. Questions are mostly made of these ("what did you do when …"); a
 * memory that shares only them with a question has nothing to do with it. Words split at
 * apostrophes, so the tails and heads of contractions are here too ("you've" → "ve", "didn't"
 * → "didn"; "don" and "won" are names and words too, and stay). */
static const char *const stop_words[] = {
    "a",     "about", "after",  "all",    "am",   "an",    "and",    "any",    "are",     "aren",  "as",   "at",
    "be",    "been",  "before", "but",    "by",   "can",   "could",  "couldn", "did",     "didn",  "do",   "does",
    "doesn", "for",   "from",   "had",    "hadn", "has",   "hasn",   "have",   "haven",   "he",    "her",  "him",
    "his",   "how",   "i",      "if",     "in",   "is",    "isn",    "it",     "its",     "just",  "ll",   "me",
    "my",    "of",    "on",     "or",     "our",  "re",    "really", "she",    "shouldn", "so",    "some", "tell",
    "than",  "that",  "the",    "their",  "them", "then",  "there",  "they",   "this",    "to",    "us",   "ve",
    "very",  "was",   "wasn",   "we",     "were", "weren", "what",   "when",   "where",   "which", "who",  "why",
    "will",  "with",  "would",  "wouldn", "you",  "your"};

/* Sorted, for bsearch (text_is_question_frame). */
static const char *const frame_words[] = {
    "anything", "describe",  "described", "describes", "happen", "happened", "happens", "kind",    "kinds", "many",
    "mention",  "mentioned", "mentions",  "much",      "often",  "said",     "say",     "says",    "share", "shared",
    "shares",   "something", "sort",      "thing",     "things", "type",     "types",   "usually", "way",   "ways"};

static int cmp_stop(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

size_t text_lower_ascii(const unsigned char *w, size_t len, char *out, size_t cap)
{
    if (len == 0 || len >= cap)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (w[i] >= 0x80)
            return 0;
        out[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
    }
    out[len] = 0;
    return len;
}

int text_is_question_frame(const unsigned char *w, size_t len)
{
    char low[12];
    return text_lower_ascii(w, len, low, sizeof low) &&
           bsearch(low, frame_words, sizeof frame_words / sizeof *frame_words, sizeof *frame_words, cmp_stop) != NULL;
}

int text_says_you(const char *q)
{
    const unsigned char *p = (const unsigned char *)q, *s;
    for (size_t len; (len = text_next_word(&p, &s));)
        if (len >= 3 && len <= 8 &&
            (text_lower_eq((const char *)s, len, "you", 3) || text_lower_eq((const char *)s, len, "your", 4) ||
             text_lower_eq((const char *)s, len, "yours", 5) || text_lower_eq((const char *)s, len, "yourself", 8)))
            return 1;
    return 0;
}

int text_is_stop(const unsigned char *w, size_t len)
{
    if (len == 1 && w[0] < 0x80 && !(w[0] >= '0' && w[0] <= '9'))
        return 1;
    /* The stop words are plain ASCII: a word with any other character ("thé") is none of them. */
    char low[8];
    return text_lower_ascii(w, len, low, sizeof low) &&
           bsearch(low, stop_words, sizeof stop_words / sizeof *stop_words, sizeof *stop_words, cmp_stop) != NULL;
}
