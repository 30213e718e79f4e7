/* libFuzzer target: dialogue detection and splitting on arbitrary bytes, as given and after the
 * plain-text extractor (which makes any bytes valid UTF-8). Checks the contract of
 * dialogue_parse(): in-bounds, ordered offsets, valid UTF-8 texts and names within their caps,
 * seq 0, 1, 2 …, each text starting and ending with the bytes its offsets point at, and the
 * same result twice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"
#include "ingest/dialogue.h"
#include "ingest/extract.h"

static void check(const char *t, size_t len)
{
    struct dialogue d, again;
    int err = dialogue_parse(t, len, &d);
    if (err != DP_OK && err != DP_ERR_TOO_LARGE)
        abort();
    if (err || !d.n) {
        if (d.n || d.u || d.nspeakers || d.speakers)
            abort();
        return;
    }
    if (d.n < DIALOGUE_MIN_UTTERANCES || d.nspeakers < DIALOGUE_MIN_SPEAKERS || !utf8_valid(t, len))
        abort();
    for (int i = 0; i < d.nspeakers; i++) {
        size_t k = strlen(d.speakers[i]);
        if (!k || k > DIALOGUE_SPEAKER_MAX || !utf8_valid(d.speakers[i], k))
            abort();
    }
    size_t prev_end = 0;
    for (int i = 0; i < d.n; i++) {
        const struct utterance *u = &d.u[i];
        int known = 0;
        for (int s = 0; s < d.nspeakers; s++)
            known |= u->speaker == d.speakers[s];
        if (!known || u->seq != i || !u->len || u->len > DIALOGUE_TEXT_MAX || strlen(u->text) != u->len ||
            !utf8_valid(u->text, u->len))
            abort();
        if (u->char_start < prev_end || u->char_start >= u->char_end || u->char_end > len ||
            u->char_end - u->char_start < u->len)
            abort();
        if (t[u->char_start] != u->text[0] || t[u->char_end - 1] != u->text[u->len - 1])
            abort();
        prev_end = u->char_end;
    }
    if (dialogue_parse(t, len, &again) != DP_OK || again.n != d.n)
        abort();
    for (int i = 0; i < d.n; i++)
        if (strcmp(again.u[i].text, d.u[i].text) || strcmp(again.u[i].speaker, d.u[i].speaker) ||
            again.u[i].char_start != d.u[i].char_start)
            abort();
    dialogue_cleanup(&again);
    dialogue_cleanup(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check((const char *)data, size);
    struct buf b;
    buf_init(&b, 1 << 20);
    if (extract_plain((const char *)data, size, &b) == DP_OK && b.len)
        check(b.data, b.len);
    buf_cleanup(&b);
    return 0;
}
