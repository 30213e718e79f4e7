/* Splits extracted text into overlapping passages of ~100–300 words for the memory store. */
#ifndef DP_INGEST_PASSAGES_H
#define DP_INGEST_PASSAGES_H

#include <stddef.h>

#define PASSAGE_MIN_WORDS 100    /* every passage but the last of a section has at least this */
#define PASSAGE_MAX_WORDS 300    /* no passage has more (counting its overlap and heading lines) */
#define PASSAGE_OVERLAP_WORDS 40 /* at most this much of a passage is repeated by the next one */

struct passage {
    char *text;         /* NUL-terminated: the section's heading lines as context (only when the passage
                           does not itself start with them), a blank line, then text[char_start..char_end);
                           owned, freed by passages_free() */
    size_t len;         /* bytes in text */
    size_t context_len; /* bytes of text before the source excerpt (0: no context) */
    size_t char_start;  /* byte offset into the source text where the excerpt starts */
    size_t char_end;    /* byte offset one past its end; [char_start, char_end) never splits a UTF-8
                           sequence and starts and ends at word boundaries */
    int page;           /* 1-based page holding char_start; 0 when the text has no pages */
    int words;          /* words in text[char_start..char_end) */
};

/* Splits text[0..len) into passages (algorithm at the top of passages.c): consecutive passages
 * of one section overlap, together they cover every non-space byte of text, and each knows its
 * page (page_starts: npages ascending byte offsets where pages start, as extract_text() gives;
 * NULL and 0 when unknown). Offsets are bytes. Deterministic: same input, same passages.
 *
 * On DP_OK, *out is an array of *n passages (NULL and 0 for text that is only whitespace); free
 * it with passages_free(). Errors: DP_ERR_INVALID (npages < 0, page_starts NULL while npages > 0,
 * or not ascending), DP_ERR_TOO_LARGE (len over 4 GiB), DP_ERR_NOMEM; *out NULL and *n 0. */
int passages_split(const char *text, size_t len, const size_t *page_starts, int npages, struct passage **out, int *n);

/* Frees an array from passages_split() and its texts; p may be NULL. */
void passages_free(struct passage *p, int n);

#endif
