/* Speakers of an avatar's memories (see speakers.h). */
#include "brain/speakers.h"

#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "ingest/dialogue.h"

/* The label of "Name: text": up to the first colon followed by a space, when what comes before it
 * looks like a name (a capital first, letters, digits, spaces and . ' ’ - only, at most
 * DIALOGUE_SPEAKER_WORDS words). */
static size_t prefix_label(const char *text, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t at = 0, words = 1;
    for (int first = 1; p[at] && at <= DIALOGUE_SPEAKER_MAX; first = 0) {
        size_t n;
        uint32_t cp = utf8_get(p + at, &n);
        if (cp == ':')
            break;
        if (first ? !text_is_upper(cp)
                  : !(text_is_letter(cp) || (cp >= '0' && cp <= '9') || cp == ' ' || cp == '.' || cp == '\'' ||
                      cp == 0x2019 || cp == '-'))
            return 0;
        words += cp == ' ';
        at += n;
    }
    if (at == 0 || p[at] != ':' || (p[at + 1] != ' ' && p[at + 1]) || words > DIALOGUE_SPEAKER_WORDS || at >= cap ||
        p[at - 1] == ' ')
        return 0;
    memcpy(out, text, at);
    out[at] = 0;
    return at;
}

size_t speaker_label(const char *speaker, const char *kind, const char *text, char *out, size_t cap)
{
    out[0] = 0;
    if (speaker && *speaker)
        return (size_t)snprintf(out, cap, "%s", speaker) < cap ? strlen(out) : 0;
    if (!kind || strcmp(kind, "utterance") || !text)
        return 0;
    return prefix_label(text, out, cap);
}

int speakers_id(struct speakers *sp, const char *label, size_t n)
{
    if (!n || n >= sizeof sp->s[0].label)
        return 0;
    for (int i = 0; i < sp->n; i++)
        if (text_lower_eq(sp->s[i].label, strlen(sp->s[i].label), label, n))
            return i + 1;
    if (sp->n == SPEAKERS_MAX)
        return 0;
    int id = sp->n++;
    memcpy(sp->s[id].label, label, n);
    sp->s[id].label[n] = 0;
    sp->s[id].nkeys = 0;
    const unsigned char *t = (const unsigned char *)sp->s[id].label, *s;
    for (size_t len; sp->s[id].nkeys < SPEAKER_KEYS && (len = text_next_word(&t, &s));) {
        int k = sp->s[id].nkeys++;
        sp->s[id].len[k] = (uint8_t)text_word_key(s, len, sp->s[id].key[k]);
    }
    return id + 1;
}

int speakers_named(const struct speakers *sp, const char *key, size_t n)
{
    for (int i = 0; i < sp->n; i++)
        for (int k = 0; k < sp->s[i].nkeys; k++)
            if (sp->s[i].len[k] == n && !memcmp(sp->s[i].key[k], key, n))
                return i + 1;
    return 0;
}
