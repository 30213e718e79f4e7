/* Who said each of an avatar's memories, for speaker-aware search: a question that names a person
 * ("What did Caroline research?") is about what that person said far more often than about what
 * the others said to them (on LoCoMo's conversations, 96 % of the turns answering a question that
 * names one of the two speakers are that speaker's own).
 *
 * A memory's speaker is its `speaker` column, or for an utterance stored as "Name: text" (a client
 * adding a chat line by line) the label before the colon (1–DIALOGUE_SPEAKER_WORDS words starting
 * with a capital letter). Speakers are numbered per index; a query names one when one of its words
 * has the key of a word of the speaker's label ("Joe" names "Grandpa Joe"). */
#ifndef DP_SPEAKERS_H
#define DP_SPEAKERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/text.h"

#define SPEAKERS_MAX 255 /* distinct speakers told apart per avatar (more: the rest count as none) */
#define SPEAKER_KEYS 4   /* words of a label matched */

struct speakers {
    int n;
    struct {
        char label[48];
        int nkeys;
        char key[SPEAKER_KEYS][TEXT_KEY_MAX];
        uint8_t len[SPEAKER_KEYS];
    } s[SPEAKERS_MAX];
};

/* The speaker label of a memory (speaker column, kind, text; any may be NULL) into out (cap
 * bytes, NUL-terminated): its length, 0 when the memory has no speaker. */
size_t speaker_label(const char *speaker, const char *kind, const char *text, char *out, size_t cap);

/* The number (1 …) of the speaker labelled label[0..n) in sp, added when new; 0 when n is 0 or
 * the table is full. Labels differing only in case are one speaker. */
int speakers_id(struct speakers *sp, const char *label, size_t n);

/* The speaker (1 …) whose label holds a word with key key[0..n), 0 for none. */
int speakers_named(const struct speakers *sp, const char *key, size_t n);

#endif
