/* The legacy guard's judge (see claim_guard.h): first-person sentences weighed against the words
 * of the memories offered, by word key. Deliberately simple and cheap (one pass over the reply
 * and its support, no model): it catches the invented fact, and a borderline sentence costs one
 * regeneration at worst. */
#include "brain/claim_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"

#define KEYS_MAX 4096 /* support word keys compared (the rest of a long support is ignored) */
#define SENTENCE_WORDS_MAX 64

struct keys {
    char (*k)[TEXT_KEY_MAX];
    size_t *len;
    int n;
};

static int is_first_person(const unsigned char *w, size_t len)
{
    static const char *const words[] = {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (text_lower_eq((const char *)w, len, words[i], strlen(words[i])))
            return 1;
    return 0;
}

/* A sentence that says it does not know is no claim. */
static int is_hedge(const char *s, size_t len)
{
    static const char *const hedges[] = {"n't remember", "n’t remember", "not remember", "n't recall",
                                         "n’t recall",   "not recall",   "not sure",     "n't know",
                                         "n’t know",     "no memory",    "can't say",    "can’t say"};
    char buf[1024];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    for (size_t i = 0; i < sizeof hedges / sizeof *hedges; i++)
        if (strcasestr(buf, hedges[i]))
            return 1;
    return 0;
}

static void add_keys(struct keys *ks, const char *text)
{
    const unsigned char *p = (const unsigned char *)text, *w;
    size_t len;
    while (ks->n < KEYS_MAX && (len = text_next_word(&p, &w))) {
        if (text_is_stop(w, len))
            continue;
        ks->len[ks->n] = text_word_key(w, len, ks->k[ks->n]);
        ks->n++;
    }
}

static int has_key(const struct keys *ks, const char *k, size_t len)
{
    for (int i = 0; i < ks->n; i++)
        if (ks->len[i] == len && !memcmp(ks->k[i], k, len))
            return 1;
    return 0;
}

/* 1 when sentence s[0..len) claims something about the speaker that support does not hold. */
static int unsupported(const char *s, size_t len, const struct keys *support)
{
    size_t end = len;
    while (end && (s[end - 1] == ' ' || s[end - 1] == '\n' || s[end - 1] == '"'))
        end--;
    if (!end || s[end - 1] == '?' || is_hedge(s, len))
        return 0;
    char *copy = strndup(s, len);
    if (!copy)
        return 0;
    const unsigned char *p = (const unsigned char *)copy, *w;
    size_t wl;
    int first = 0, words = 0, found = 0;
    while ((wl = text_next_word(&p, &w)) && words < SENTENCE_WORDS_MAX) {
        if (is_first_person(w, wl)) {
            first = 1;
            continue;
        }
        if (text_is_stop(w, wl))
            continue;
        char k[TEXT_KEY_MAX];
        size_t kl = text_word_key(w, wl, k);
        words++;
        found += has_key(support, k, kl);
    }
    free(copy);
    return first && words >= 2 && found * 2 < words;
}

int claim_guard_unsupported(const char *reply, const char *const *support, int n, char *out, size_t cap)
{
    if (cap)
        out[0] = 0;
    struct keys ks = {malloc(KEYS_MAX * sizeof *ks.k), malloc(KEYS_MAX * sizeof *ks.len), 0};
    int bad = 0;
    if (!ks.k || !ks.len)
        goto out; /* out of memory: the reply goes as it is rather than not at all */
    for (int i = 0; i < n; i++)
        if (support[i])
            add_keys(&ks, support[i]);
    for (const char *p = reply; *p && !bad;) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *e = text_sentence_end(p);
        if (e == p)
            break;
        if ((bad = unsupported(p, (size_t)(e - p), &ks)) && cap)
            snprintf(out, cap, "%.*s", (int)(e - p), p);
        p = e;
    }
out:
    free(ks.k);
    free(ks.len);
    return bad;
}
