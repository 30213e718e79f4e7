/* Snowball stems and language guessing (see stem.h). */
#include "core/stem.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[LANG_COUNT] = {"english", "german",     "spanish", "french",
                                              "italian", "portuguese", "dutch"};

int text_lang_from_code(const char *code)
{
    static const char codes[LANG_COUNT][3] = {"en", "de", "es", "fr", "it", "pt", "nl"};
    for (int l = 0; code && l < LANG_COUNT; l++)
        if (!strcmp(code, codes[l]))
            return l;
    return -1;
}

const char *text_lang_name(enum text_lang lang)
{
    return lang >= 0 && lang < LANG_COUNT ? names[lang] : names[LANG_EN];
}

/* Each thread its own stemmers (a Snowball stemmer keeps its state between calls), made on first
 * use and deleted when the thread ends. */
struct thread_stemmers {
    struct sb_stemmer *s[LANG_COUNT];
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void free_stemmers(void *p)
{
    struct thread_stemmers *t = p;
    for (int l = 0; l < LANG_COUNT; l++)
        if (t->s[l])
            sb_stemmer_delete(t->s[l]);
    free(t);
}

static void make_key(void)
{
    pthread_key_create(&key, free_stemmers);
}

static struct sb_stemmer *stemmer(enum text_lang lang)
{
    pthread_once(&key_once, make_key);
    struct thread_stemmers *t = pthread_getspecific(key);
    if (!t) {
        if (!(t = calloc(1, sizeof *t)) || pthread_setspecific(key, t)) {
            free(t);
            return NULL;
        }
    }
    if (!t->s[lang])
        t->s[lang] = sb_stemmer_new(names[lang], "UTF_8");
    return t->s[lang];
}

size_t text_word_key_in(enum text_lang lang, const unsigned char *w, size_t len, char out[TEXT_KEY_MAX])
{
    struct sb_stemmer *st = lang > LANG_EN && lang < LANG_COUNT ? stemmer(lang) : NULL;
    if (!st)
        return text_word_key(w, len, out);
    char low[TEXT_KEY_MAX * 2];
    size_t n = text_lower_word(w, len, low, sizeof low);
    const sb_symbol *stem = sb_stemmer_stem(st, (const sb_symbol *)low, (int)n);
    int sl = stem ? sb_stemmer_length(st) : -1;
    if (sl <= 0)
        return text_fold_word((const unsigned char *)low, n, out, TEXT_KEY_MAX);
    return text_fold_word(stem, (size_t)sl, out, TEXT_KEY_MAX);
}

/* The commonest function words of each language, folded, that are not words of the others
 * (Spanish "de" is also Portuguese and French: it counts for none). */
static const char *const function_words[LANG_COUNT][16] = {
    [LANG_EN] = {"the", "and", "is", "was", "that", "with", "for", "you", "this", "have", "are", "what", NULL},
    [LANG_DE] = {"der", "die", "das", "und", "ist", "nicht", "ich", "mit", "sich", "auf", "ein", "eine", "war", "wir",
                 "auch", NULL},
    [LANG_ES] = {"el", "los", "las", "y", "es", "del", "por", "con", "una", "pero", "muy", "fue", "yo", "su", NULL},
    [LANG_FR] = {"le", "les", "et", "est", "des", "du", "une", "je", "pas", "avec", "pour", "qui", "nous", "il", "dans",
                 NULL},
    [LANG_IT] = {"il", "gli", "che", "della", "di", "sono", "una", "per", "non", "con", "mi", "ho", "era", NULL},
    [LANG_PT] = {"os", "as", "que", "um", "uma", "nao", "com", "para", "foi", "eu", "da", "do", "muito", NULL},
    [LANG_NL] = {"het", "een", "en", "van", "ik", "niet", "dat", "zijn", "op", "met", "voor", "ook", "je", NULL},
};

void text_lang_count(const char *text, long counts[LANG_COUNT])
{
    const unsigned char *p = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&p, &s));) {
        if (len > 8)
            continue;
        char w[TEXT_KEY_MAX + 1];
        w[text_fold_word(s, len, w, TEXT_KEY_MAX)] = 0;
        for (int l = 0; l < LANG_COUNT; l++)
            for (const char *const *f = function_words[l]; *f; f++)
                if (!strcmp(w, *f)) {
                    counts[l]++;
                    break;
                }
    }
}

enum text_lang text_lang_pick(const long counts[LANG_COUNT])
{
    enum text_lang best = LANG_EN;
    for (int l = 1; l < LANG_COUNT; l++)
        if (counts[l] > counts[best] && counts[l] >= 5)
            best = (enum text_lang)l;
    return best;
}
