/* Apposition inside a passage (recall_alias.h). */
#include <string.h>

#include "brain/recall_alias.h"
#include "core/wordnet.h"

/* A word read: where it stands, folded, keyed, and whether it is a capitalised word not opening a
 * sentence (a name), or followed by a comma. */
struct word {
    const unsigned char *s;
    size_t len;
    char folded[TEXT_KEY_MAX + 1];
    char key[TEXT_KEY_MAX + 1];
    int name, comma;
};

static int possessive(const struct word *w)
{
    static const char *const list[] = {"my", "your", "our", "his", "her", NULL};
    for (const char *const *p = list; *p; p++)
        if (!strcmp(w->folded, *p))
            return 1;
    return 0;
}

static int person_noun(const struct word *w)
{
    static const char *const kinds[] = {"person", "relative", NULL};
    return !w->name && w->s[0] >= 'a' && w->s[0] <= 'z' && wordnet_noun_is_a(w->key, strlen(w->key), kinds);
}

static void add(struct recall_alias *out, int *n, int max, const struct word *noun, const struct word *name,
                const char *text, const struct word *first, const struct word *last)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(out[i].noun, noun->key))
            return;
    if (*n >= max)
        return;
    memcpy(out[*n].noun, noun->key, sizeof noun->key);
    memcpy(out[*n].name, name->key, sizeof name->key);
    out[*n].at = (size_t)((const char *)first->s - text);
    out[*n].end = (size_t)((const char *)last->s + last->len - text);
    (*n)++;
}

int recall_aliases(const char *text, struct recall_alias *out, int max)
{
    struct word w[3]; /* the last three words read, w[2] the newest */
    int have = 0, n = 0;
    const unsigned char *p = (const unsigned char *)text, *s;
    for (size_t len; (len = text_next_word(&p, &s));) {
        if (have == 3)
            memmove(w, w + 1, 2 * sizeof *w);
        struct word *c = &w[have < 3 ? have : 2];
        have += have < 3;
        c->s = s;
        c->len = len;
        c->folded[text_fold_word(s, len, c->folded, TEXT_KEY_MAX)] = 0;
        c->key[text_word_key(s, len, c->key)] = 0;
        const unsigned char *b = s;
        while (b > (const unsigned char *)text && (b[-1] == ' ' || b[-1] == '\n'))
            b--;
        int opens = b == (const unsigned char *)text || b[-1] == '.' || b[-1] == '!' || b[-1] == '?' || b[-1] == '#';
        c->name = s[0] >= 'A' && s[0] <= 'Z' && !opens;
        c->comma = s[len] == ',';
        if (have < 3)
            continue;
        /* my sister Rose / your grandmother, Margaret */
        if (possessive(&w[0]) && !w[0].comma && person_noun(&w[1]) && w[2].name)
            add(out, &n, max, &w[1], &w[2], text, &w[0], &w[2]);
        /* Margaret, my wife */
        else if (w[0].comma && w[0].s[0] >= 'A' && w[0].s[0] <= 'Z' && possessive(&w[1]) && person_noun(&w[2]))
            add(out, &n, max, &w[2], &w[0], text, &w[0], &w[2]);
    }
    return n;
}

int recall_alias_named(const struct recall_alias *a, const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text, *s, *end = p + n;
    for (size_t len; (len = text_next_word(&p, &s)) && s + len <= end;) {
        char key[TEXT_KEY_MAX + 1];
        key[text_word_key(s, len, key)] = 0;
        if (!strcmp(key, a->name))
            return 1;
    }
    return 0;
}
