/* libFuzzer target for the direct JSON writer (core/json_writer.c): whatever bytes it is given as
 * strings (names, texts a database holds), the document is valid JSON that jansson reads back, a
 * string that was valid UTF-8 reads back as it was, and nesting is refused past its cap.
 * Input: pieces separated by 0xfe; a piece's first byte picks what it becomes (string value, key
 * with a value, open or close an array or object, number). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json_writer.h"
#include "core/utf8.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_json_writer: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    struct buf b;
    buf_init(&b, 1 << 20);
    struct jw w;
    jw_init(&w, &b);
    jw_arr(&w); /* an outer array, so that any sequence of values is a document */
    const char *last_valid = NULL;
    size_t last_len = 0;
    int top_values = 0;
    for (size_t at = 0; at < size;) {
        const uint8_t *end = memchr(data + at, 0xfe, size - at);
        size_t n = end ? (size_t)(end - (data + at)) : size - at;
        const char *piece = (const char *)data + at + (n > 0);
        size_t len = n > 0 ? n - 1 : 0;
        int op = n > 0 ? data[at] % 6 : 0;
        int top = w.depth == 1;
        if (op == 0 || (op == 1 && !w.is_obj[w.depth - 1])) { /* a string value (in an object: after a key) */
            if (w.is_obj[w.depth - 1])
                jw_key(&w, "k");
            jw_strn(&w, piece, len);
            if (top && utf8_valid(piece, len) && !memchr(piece, 0, len))
                last_valid = piece, last_len = len, top_values++;
            else if (top)
                last_valid = NULL, top_values++;
        } else if (op == 1) { /* a key from the input, then its value */
            char key[64];
            size_t kn = len < sizeof key - 1 ? len : sizeof key - 1;
            memcpy(key, piece, kn);
            key[kn] = 0;
            jw_key(&w, key);
            jw_int(&w, (int64_t)len);
        } else if (op == 2 || op == 3) { /* open an array or an object (as a value or a key's) */
            if (w.depth >= JW_MAX_DEPTH - 1)
                break;
            if (w.is_obj[w.depth - 1])
                jw_key(&w, "c");
            if (top)
                last_valid = NULL, top_values++;
            if (op == 2)
                jw_arr(&w);
            else
                jw_obj(&w);
        } else if (op == 4) { /* close the innermost container, never the outer array */
            if (w.depth > 1) {
                if (w.is_obj[w.depth - 1])
                    jw_obj_end(&w);
                else
                    jw_arr_end(&w);
            }
        } else { /* a number made of the piece's bytes */
            double v = 0;
            memcpy(&v, piece, len < sizeof v ? len : sizeof v);
            if (w.is_obj[w.depth - 1])
                jw_key(&w, "n");
            jw_real(&w, v);
            if (top)
                last_valid = NULL, top_values++;
        }
        at += n + (end != NULL);
    }
    while (w.depth > 0 && !w.err) {
        if (w.is_obj[w.depth - 1])
            jw_obj_end(&w);
        else
            jw_arr_end(&w);
    }
    int err = jw_finish(&w);
    if (err && err != DP_ERR_TOO_LARGE)
        fail("a well-used writer failed");
    if (!err) {
        json_error_t e;
        json_t *doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &e);
        if (!doc || !json_is_array(doc))
            fail("the document is not JSON");
        if ((int)json_array_size(doc) != top_values)
            fail("the outer array does not hold every value written");
        if (last_valid) { /* the last top-level value, a valid string, reads back as it was */
            json_t *s = json_array_get(doc, json_array_size(doc) - 1);
            if (!json_is_string(s) || json_string_length(s) != last_len ||
                memcmp(json_string_value(s), last_valid, last_len))
                fail("a valid UTF-8 string did not read back as written");
        }
        json_decref(doc);
    }
    buf_cleanup(&b);
    return 0;
}
