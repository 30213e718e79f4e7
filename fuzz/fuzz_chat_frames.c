/* libFuzzer target for the events WebSocket's parsers: a client's frame (chat_frame_parse) and an
 * event as it arrives from pub/sub (chat_fanout_parse/next). The first byte picks the parser. What
 * is accepted must hold its invariants: valid chat ids, recipients as announced, and an encoded
 * fan-out parses back to the same recipients. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/events.h"
#include "chat/frame.h"
#include "core/err.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_chat_frames: %s\n", what);
    abort();
}

/* The fast reading of chat_frame_parse gives what jansson's gives, field by field. */
static void same_as_json(const uint8_t *p, size_t n, int err, const char *why, const struct chat_frame *f)
{
    struct chat_frame g;
    const char *why2 = NULL;
    int err2 = chat_frame_parse_json((const char *)p, n, &g, &why2);
    if (err != err2 || why != why2)
        fail("the fast reading and jansson's disagree on the outcome");
    if (!err && (f->kind != g.kind || strcmp(f->chat_id, g.chat_id) || strcmp(f->client_id, g.client_id) ||
                 strcmp(f->reply_to, g.reply_to) || f->away != g.away || !f->text != !g.text ||
                 (f->text && strcmp(f->text, g.text)) || !f->attachments != !g.attachments))
        fail("the fast reading and jansson's disagree on a field");
    chat_frame_clear(&g);
}

static void client_frame(const uint8_t *p, size_t n)
{
    struct chat_frame f;
    const char *why = NULL;
    int err = chat_frame_parse((const char *)p, n, &f, &why);
    if (err && !why)
        fail("refused without a reason");
    same_as_json(p, n, err, why, &f);
    if (err)
        return;
    if (n > CHAT_FRAME_MAX)
        fail("accepted a frame over the cap");
    if ((f.kind == CHAT_FRAME_TYPING_START || f.kind == CHAT_FRAME_TYPING_STOP) && !id_valid(f.chat_id))
        fail("accepted a typing frame without a valid chat id");
    chat_frame_clear(&f);
}

static void fanout(const uint8_t *p, size_t n)
{
    /* pub/sub hands over NUL-terminated messages */
    char *m = malloc(n + 1);
    if (!m)
        return;
    memcpy(m, p, n);
    m[n] = 0;
    struct chat_fanout f;
    if (chat_fanout_parse(m, n, &f) == DP_OK) {
        int announced = f.n, seen = 0;
        struct chat_recipient *r = calloc((size_t)announced, sizeof *r);
        char user[ID_LEN];
        int64_t seq;
        while (r && chat_fanout_next(&f, user, &seq)) {
            if (!*user || seq < 0)
                fail("a recipient without an id or with a negative seq");
            memcpy(r[seen].user_id, user, ID_LEN);
            r[seen++].seq = seq;
        }
        if (r && seen != announced)
            fail("recipients differ from the count announced");
        if (f.data_len < 2 || f.data[0] != '{' || f.data[f.data_len - 1] != '}')
            fail("accepted data that is not an object");
        /* Encode what was read and parse it again: the same recipients come back. */
        char *data = malloc(f.data_len + 1);
        if (data) {
            memcpy(data, f.data, f.data_len);
            data[f.data_len] = 0;
        }
        size_t len;
        char *again = r && data ? chat_fanout_encode(r, seen, f.type, data, &len) : NULL;
        struct chat_fanout g;
        if (again && (chat_fanout_parse(again, len, &g) || g.n != seen || strcmp(g.type, f.type)))
            fail("an encoded fan-out does not parse back");
        free(again);
        free(data);
        free(r);
    }
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fanout(data + 1, size - 1);
    else
        client_frame(data + 1, size - 1);
    return 0;
}
