/* Where a reply's text is cut for speech while the brain may still be writing it. */
#ifndef DP_VOICE_SPEECH_PIECE_H
#define DP_VOICE_SPEECH_PIECE_H

#include <stddef.h>

/* The length of the piece to speak at p (p starts at a word, not a space), 0 when it is not whole
 * yet: a sentence, or for a reply's first piece (first) its first clause, so that speech starts a
 * few words in. While more text may come (more), a sentence is whole only once something follows
 * its end (a "." may be "Mr." or "3.5"); a clause's comma at the end of what came counts after a
 * letter (never "1," of "1,000"). At most max bytes, never inside a UTF-8 character. */
size_t speech_piece_len(const char *p, size_t max, int first, int more);

#endif
