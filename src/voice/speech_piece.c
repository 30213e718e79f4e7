/* Cutting a reply for speech as it is written (speech_piece.h). */
#include "voice/speech_piece.h"

#include <ctype.h>

#include "core/text.h"
#include "core/utf8.h"

#define CLAUSE_MIN 8 /* bytes of a first clause at least: "Yes," alone waits for more */

static int clause_end(const char *q, int more)
{
    if (*q != ',' && *q != ';' && *q != ':')
        return 0;
    if (q[1] == ' ' || q[1] == '\n')
        return 1;
    /* At the end of what came: whole when nothing more comes, or after a letter. */
    return !q[1] && (!more || (q[-1] & 0x80) || isalpha((unsigned char)q[-1]));
}

size_t speech_piece_len(const char *p, size_t max, int first, int more)
{
    const char *e = text_sentence_end(p);
    size_t len = (size_t)(e - p);
    int whole = !more || *e; /* something follows the sentence's end */
    if (first)
        for (size_t i = CLAUSE_MIN - 1; i < len; i++)
            if (clause_end(p + i, more)) {
                len = i + 1;
                whole = 1;
                break;
            }
    if (!whole && len < max)
        return 0;
    if (len > max)
        len = utf8_cut(p, max);
    return len ? len : 1;
}
