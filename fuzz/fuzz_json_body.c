/* libFuzzer target for json_parse_body(): the caps hold, and what it accepts round-trips through json_dump_compact. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"

#define FUZZ_BODY_MAX (64 * 1024)

/* Stops the run with a message libFuzzer records as a crash. */
static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_json_body: %s%s%s\n", what, msg ? ": " : "", msg ? msg : "");
    abort();
}

/* Nesting depth of a parsed value: a scalar is 0, [] and {} are 1. */
static int value_depth(const json_t *v)
{
    int d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach ((json_t *)v, k, e) {
            int de = value_depth(e);
            if (de > d)
                d = de;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            int de = value_depth(e);
            if (de > d)
                d = de;
        }
        return d + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    json_t *v = (json_t *)1;
    msg[0] = 0;
    int err = json_parse_body((const char *)data, size, FUZZ_BODY_MAX, &v, msg, sizeof msg);
    if (err) {
        if (v)
            fail("error return left *out set", msg);
        if (err != DP_ERR_BAD_JSON && err != DP_ERR_TOO_LARGE)
            fail("unexpected error code", dp_errcode(err));
        if (err == DP_ERR_TOO_LARGE && size <= FUZZ_BODY_MAX)
            fail("DP_ERR_TOO_LARGE under the cap", msg);
        if (!msg[0] || !memchr(msg, 0, sizeof msg))
            fail("error without a message", NULL);
        return 0;
    }
    if (!v)
        fail("DP_OK without a value", NULL);
    if (size > FUZZ_BODY_MAX)
        fail("accepted a body over the cap", NULL);
    if (!json_is_object(v) && !json_is_array(v))
        fail("accepted a top-level scalar", NULL);
    if (value_depth(v) > JSON_MAX_DEPTH)
        fail("accepted a document nested deeper than JSON_MAX_DEPTH", NULL);

    /* What we accepted, serialised, must parse again to an equal value. Escaping can make the
     * text longer than the input (a raw control byte becomes \u001f), so the cap is its length. */
    size_t len = 0;
    char *text = json_dump_compact(v, &len);
    if (text) {
        json_t *again = NULL;
        char msg2[256];
        err = json_parse_body(text, len, len, &again, msg2, sizeof msg2);
        if (err)
            fail("re-parse of json_dump_compact output failed", msg2);
        if (!json_equal(v, again))
            fail("round trip changed the value", text);
        json_decref(again);
        free(text);
    }
    json_decref(v);
    return 0;
}
