/* A direct JSON writer for responses whose shape the code fixes (lists, records): values are
 * appended to a buffer as they are written, with no tree in between (jansson stays for parsing
 * input and for documents built piece by piece). Strings from outside are escaped and made valid
 * UTF-8 (a broken sequence becomes U+FFFD), so that any bytes a database holds make a valid
 * document. Errors are sticky: the first one (out of memory, the buffer's cap, nesting past
 * JW_MAX_DEPTH, a value where a key is due) is kept and jw_finish returns it. */
#ifndef DP_JSON_WRITER_H
#define DP_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define JW_MAX_DEPTH 32

struct jw {
    struct buf *out;
    int err;                       /* the first error (DP_ERR_*), DP_OK so far */
    int depth;                     /* open containers */
    uint8_t is_obj[JW_MAX_DEPTH];  /* the container at each depth is an object */
    uint8_t members[JW_MAX_DEPTH]; /* it has a member already (a comma comes before the next) */
    int after_key;                 /* a key was written: its value comes next */
};

/* Writes into out (appended to what it holds; its cap applies). */
void jw_init(struct jw *w, struct buf *out);
void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
/* A string value; NULL writes null. */
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
/* A number as jansson writes it (%.17g, with ".0" when it would read as an integer); NaN and
 * infinities, which JSON cannot hold, write null. */
void jw_real(struct jw *w, double v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A value that is JSON text already (a document this server stored); the caller vouches for it. */
void jw_raw(struct jw *w, const char *json, size_t n);
/* key and value in one call, for records. */
void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_kint(struct jw *w, const char *key, int64_t v);
void jw_kbool(struct jw *w, const char *key, int v);
/* DP_OK when every write succeeded and every container is closed, else the first error
 * (DP_ERR_INVALID for unbalanced use). */
int jw_finish(const struct jw *w);

#endif
