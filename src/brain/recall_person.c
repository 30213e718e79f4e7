/* Third person about the avatar → first person (see recall_person.h).
 *
 * Works word by word over ASCII-cased English: a word is a run of letters (and an apostrophe
 * inside it); everything between words is copied as it is. Only words that refer to the avatar
 * change, so a sentence about anyone else reads exactly as written. */
#include "brain/recall_person.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "ingest/dialogue.h"

enum pronoun_set { NONE = 0, MALE, FEMALE };

/* The text being made; err once an append failed (out of memory). */
struct sink {
    struct buf b;
    int err;
};

static void add(struct sink *o, const char *s, size_t n)
{
    if (!o->err && n)
        o->err = buf_append(&o->b, s, n);
}

struct word {
    const char *s;
    size_t n;
};

static int is_letter(char c)
{
    return isalpha((unsigned char)c) || (c & 0x80);
}

/* The word starting at or after *p (letters with inner apostrophes); its start in w, *p moved
 * past it. 0 at the end of text. */
static int next_word(const char **p, struct word *w)
{
    const char *s = *p;
    while (*s && !is_letter(*s))
        s++;
    if (!*s)
        return 0;
    const char *e = s;
    while (is_letter(*e) || ((*e == '\'') && is_letter(e[1])))
        e++;
    w->s = s;
    w->n = (size_t)(e - s);
    *p = e;
    return 1;
}

static int word_is(const struct word *w, const char *lit)
{
    return w->n == strlen(lit) && !strncasecmp(w->s, lit, w->n);
}

/* 1 when the text before position at (from start) ends a sentence or is empty: a subject there
 * opens it. */
static int opens_sentence(const char *start, const char *at)
{
    while (at > start && (at[-1] == ' ' || at[-1] == '"' || at[-1] == '\n'))
        at--;
    return at == start || at[-1] == '.' || at[-1] == '!' || at[-1] == '?' || at[-1] == ':';
}

/* The verb right after a new "I", made to agree: is → am, has → have, does → do, goes → go,
 * a third-person -s dropped (drinks → drink, watches → watch, flies → fly). Appends to out. */
static void agree(struct sink *out, const struct word *v)
{
    static const char *const keep[] = {"was",  "always", "sometimes", "perhaps", "towards", "afterwards",
                                       "less", "this",   "thus",      "us",      "yes",     NULL};
    if (word_is(v, "is")) {
        add(out, "am", 2);
        return;
    }
    if (word_is(v, "has")) {
        add(out, "have", 4);
        return;
    }
    if (word_is(v, "does") || word_is(v, "goes")) {
        add(out, v->s, v->n - 2);
        return;
    }
    int plain = v->n > 2 && islower((unsigned char)v->s[0]) && v->s[v->n - 1] == 's' && v->s[v->n - 2] != 's' &&
                v->s[v->n - 2] != 'u' && v->s[v->n - 2] != '\'';
    for (const char *const *k = keep; *k && plain; k++)
        plain = !word_is(v, *k);
    if (!plain) {
        add(out, v->s, v->n);
        return;
    }
    if (v->n > 3 && !strncmp(v->s + v->n - 3, "ies", 3)) {
        add(out, v->s, v->n - 3);
        add(out, "y", 1);
    } else if (v->n > 3 && v->s[v->n - 2] == 'e' &&
               (v->s[v->n - 3] == 'x' || v->s[v->n - 3] == 'z' ||
                (v->n > 4 && (!strncmp(v->s + v->n - 4, "ch", 2) || !strncmp(v->s + v->n - 4, "sh", 2)))))
        add(out, v->s, v->n - 2);
    else
        add(out, v->s, v->n - 1);
}

char *recall_first_person(const char *text, const char *name)
{
    size_t gl = 0;
    const char *given = name ? dialogue_given_name(name, &gl) : NULL;
    if (!text || !given || gl == 0)
        return NULL;
    size_t fl = strlen(given); /* the name from the given name on: "Henry Walsh" */
    struct sink out = {.err = 0};
    buf_init(&out.b, strlen(text) * 2 + 16);
    enum pronoun_set set = NONE;
    int named = 0, subject = 0; /* subject: the word before was a new "I" */
    struct word prev = {NULL, 0};
    const char *copied = text, *p = text;
    struct word w;
    while (next_word(&p, &w)) {
        add(&out, copied, (size_t)(w.s - copied));
        copied = p;
        int was_subject = subject;
        subject = 0;
        /* the name: the full name from the given name, or the given name alone */
        size_t take = 0;
        if (!strncmp(w.s, given, fl) && !is_letter(w.s[fl]) && w.s[fl] != '\'')
            take = fl;
        else if (w.n >= gl && !strncmp(w.s, given, gl) && (w.n == gl || (w.n == gl + 2 && !strncmp(w.s + gl, "'s", 2))))
            take = gl;
        if (take && (take > gl || w.n == gl || w.n == gl + 2)) {
            int possessive = !strncmp(w.s + take, "'s", 2) && !is_letter(w.s[take + 2]);
            int after_be = prev.s && (word_is(&prev, "is") || word_is(&prev, "was") || word_is(&prev, "named") ||
                                      word_is(&prev, "called"));
            if (after_be) {
                add(&out, w.s, take + (possessive ? 2 : 0));
            } else {
                int opens = opens_sentence(text, w.s);
                if (possessive)
                    add(&out, opens ? "My" : "my", 2);
                else if (opens ||
                         (prev.s && (word_is(&prev, "and") || word_is(&prev, "but") || word_is(&prev, "then"))))
                    add(&out, "I", 1), subject = 1;
                else
                    add(&out, "me", 2);
                named = 1;
            }
            copied = p = w.s + take + (possessive ? 2 : 0);
            prev = w;
            continue;
        }
        /* the pronouns that refer to the avatar once it has been named: the first set used */
        if (named && set == NONE) {
            if (word_is(&w, "he") || word_is(&w, "his") || word_is(&w, "him") || word_is(&w, "himself"))
                set = MALE;
            else if (word_is(&w, "she") || word_is(&w, "her") || word_is(&w, "hers") || word_is(&w, "herself"))
                set = FEMALE;
        }
        int cap = isupper((unsigned char)w.s[0]);
        const char *with = NULL;
        if (set == MALE || set == FEMALE) {
            int m = set == MALE;
            if (word_is(&w, m ? "he" : "she"))
                with = "I", subject = 1;
            else if (word_is(&w, m ? "him" : "hers"))
                with = cap ? "Me" : "me";
            else if (word_is(&w, m ? "his" : "her")) {
                /* "her" before a word is "my", at the end of a clause "me" */
                const char *q = p;
                while (*q == ' ')
                    q++;
                with = !m && !is_letter(*q) ? (cap ? "Me" : "me") : (cap ? "My" : "my");
            } else if (word_is(&w, m ? "himself" : "herself"))
                with = cap ? "Myself" : "myself";
        }
        if (with)
            add(&out, with, strlen(with));
        else if (was_subject)
            agree(&out, &w);
        else
            add(&out, w.s, w.n);
        prev = w;
    }
    add(&out, copied, strlen(copied));
    if (!named || out.err || !out.b.data) {
        buf_cleanup(&out.b);
        return NULL;
    }
    return buf_steal(&out.b, NULL);
}
