/* Citation marks in a reply a language model streams: the prompt numbers the memories it offers
 * ([1], [2] …) and the model cites them as [1] or [1, 3] (or by a memory's id). The marks are taken
 * out of the text as it streams — a mark naming a memory that was offered becomes a citation, one
 * naming anything else is dropped — and the rest of the text passes through untouched, piece by
 * piece, holding back only an open '[' until it is known to be a mark or text. */
#ifndef DP_CITE_MARKS_H
#define DP_CITE_MARKS_H

#include <stddef.h>

#include "core/buf.h"

#define CITE_MARK_MAX 160   /* bytes of one mark, brackets included (four ids fit) */
#define CITE_OFFERED_MAX 64 /* memories one reply may cite */

struct cite_marks {
    int n;                                                /* memories offered, numbered 1..n */
    const char *const *ids;                               /* their ids */
    void (*out)(void *ctx, const char *text, size_t len); /* the text without marks */
    void *ctx;
    char pending[CITE_MARK_MAX + 1]; /* an open mark */
    size_t plen;
    size_t held_spaces;          /* spaces not passed on yet: a mark after them takes them away */
    int after_mark;              /* a mark was just taken out: a word right after it gets a space */
    int cited[CITE_OFFERED_MAX]; /* indexes (0-based) of the memories cited, in order of first mark */
    int ncited;
    int dropped; /* cited items that name no memory offered */
    struct buf scratch;
};

void cite_marks_init(struct cite_marks *m, const char *const *ids, int n,
                     void (*out)(void *ctx, const char *text, size_t len), void *ctx);
/* Feeds the next piece of the reply; out() gets what can be passed on now. */
void cite_marks_feed(struct cite_marks *m, const char *text, size_t len);
/* The reply ended: an open '[' was text after all (trailing spaces are dropped). */
void cite_marks_end(struct cite_marks *m);
void cite_marks_cleanup(struct cite_marks *m);

#endif
