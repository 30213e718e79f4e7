/* Chat and dialogue transcripts: detects them in extracted text and splits them into utterances. */
#ifndef DP_INGEST_DIALOGUE_H
#define DP_INGEST_DIALOGUE_H

#include <stddef.h>
#include <stdint.h>

#define DIALOGUE_SPEAKER_MAX 40          /* bytes of a speaker name */
#define DIALOGUE_SPEAKER_WORDS 4         /* words of a speaker name on a plain "Name: text" line */
#define DIALOGUE_STAMPED_SPEAKER_WORDS 6 /* … after a chat timestamp (contact names may be longer) */
#define DIALOGUE_TEXT_MAX                                                                                              \
    20000                              /* bytes of one utterance's text (= MEMORY_TEXT_MAX); longer
                                            ones are split into consecutive utterances */
#define DIALOGUE_MAX_UTTERANCES 500000 /* more: DP_ERR_TOO_LARGE (the caller keeps it a document) */

/* Detection thresholds (see dialogue_parse()). */
#define DIALOGUE_MIN_UTTERANCES 4
#define DIALOGUE_MIN_SPEAKERS 2
#define DIALOGUE_MIN_SHARE_PLAIN 60   /* % of non-empty lines that must start an utterance */
#define DIALOGUE_MIN_SHARE_STAMPED 25 /* … when the lines carry chat timestamps */

struct utterance {
    const char *speaker; /* NUL-terminated, as first written in the text (trimmed); points into the
                            dialogue's speakers[], valid until dialogue_cleanup() */
    char *text;          /* NUL-terminated, valid UTF-8, never empty: the message, its continuation
                            lines joined with "\n"; owned by the dialogue */
    size_t len;          /* bytes in text, at most DIALOGUE_TEXT_MAX */
    size_t char_start;   /* byte offset into the source of the text's first byte */
    size_t char_end;     /* byte offset one past its last byte; never inside a UTF-8 sequence */
    int seq;             /* 0, 1, 2 … in the order of the text */
    size_t stamp_start;  /* its chat timestamp: source bytes [stamp_start, stamp_end), empty: none */
    size_t stamp_end;
    int64_t occurred_ms; /* when it was sent (ms since the epoch, the chat's local time as UTC) read
                            from the timestamp (ingest/chat_time.h: day/month order guessed from
                            the whole file), 0 when not known */
};

struct dialogue {
    struct utterance *u; /* n utterances; NULL when n is 0 */
    int n;
    char **speakers; /* nspeakers distinct names, in order of first appearance */
    int nspeakers;
};

/* Reads text[0..len) as a chat or dialogue transcript. Recognised lines (after trimming spaces):
 *
 *   Name: message                          plain, interview or screenplay style ("ANNA: …")
 *   12/03/2021, 14:22 - Name: message      WhatsApp (Android; any digit/.,-: date and time, AM/PM)
 *   [12/03/2021, 14:22:05] Name: message   WhatsApp (iOS), or any "[timestamp] Name: message"
 *
 * A plain name has 1–DIALOGUE_SPEAKER_WORDS words, at most DIALOGUE_SPEAKER_MAX bytes, starts with a
 * letter, holds only letters, digits, spaces and . ' ’ - _ ( ) &, and is not a URL scheme ("http:").
 * After a timestamp any name without a colon (up to DIALOGUE_STAMPED_SPEAKER_WORDS words) is taken;
 * a timestamped line without "Name:" is a system line ("Messages are end-to-end encrypted") and is
 * skipped. The colon must be followed by a space or end the line (also "：", full width). Other
 * lines continue the previous utterance; blank lines are ignored; lines before the first utterance
 * (a title) are not stored. When timestamped lines are at least as many as plain ones, only they
 * start utterances (a "Note: …" line inside a WhatsApp message stays in the message). Names that
 * differ only in ASCII or Latin-1 letter case are one speaker, spelled as first seen.
 *
 * The text is a dialogue when, in that mode,
 *   - lines starting an utterance are ≥ DIALOGUE_MIN_SHARE_PLAIN % of the non-empty lines
 *     (≥ DIALOGUE_MIN_SHARE_STAMPED % for timestamped lines),
 *   - there are ≥ DIALOGUE_MIN_SPEAKERS speakers and ≥ DIALOGUE_MIN_UTTERANCES utterances, and
 *   - for plain lines, ≥ 2/3 of the utterances come from speakers who speak more than once (so a
 *     form of "Field: value" lines, or a document with a few "Note:" lines, stays a document).
 *
 * An utterance longer than DIALOGUE_TEXT_MAX becomes several consecutive ones of the same speaker,
 * cut at a line end, else a space, else a character boundary.
 *
 * Returns DP_OK with *out filled (out->n is 0 when the text is not a dialogue, is empty, is not
 * valid UTF-8 or holds a NUL byte); free with dialogue_cleanup(). DP_ERR_TOO_LARGE when it is a
 * dialogue of more than DIALOGUE_MAX_UTTERANCES utterances; DP_ERR_NOMEM. On error *out is empty.
 * Never reads outside text[0..len). Deterministic. */
int dialogue_parse(const char *text, size_t len, struct dialogue *out);

/* 1 when msg[0..len) (the message of one chat line, after "Name:") is a notice the chat app wrote
 * rather than something the person said: an attachment left out of the export ("<Media omitted>",
 * "image omitted", "<attached: …>", "… (file attached)"), "This message was deleted", calls
 * ("Missed voice call"), the end-to-end encryption notice, "null" and a few more. dialogue_parse()
 * stores no utterance for such a line; text on the lines after it (a caption) is the speaker's. A
 * trailing "<This message was edited>" is dropped from messages. */
int dialogue_is_notice(const char *msg, size_t len);

/* 1 when a dialogue speaker label names the avatar called name: the same name, or one of its
 * words ("Joe" or "Grandpa" for "Grandpa Joe"), or a label holding the name's first word after
 * any title ("Grandpa Henry" for "Henry Walsh", not "Katie Walsh"), ignoring case (text_lower).
 * Transcripts label the avatar's own lines so; every other label is someone speaking to it. */
int dialogue_speaker_is_self(const char *label, const char *name);

/* The given name in a person's name: its first word after any title ("Joe" of "Grandpa Joe",
 * "Henry" of "Henry Walsh"), *len bytes long (0 when the name is blank). Borrowed from name. */
const char *dialogue_given_name(const char *name, size_t *len);

/* Frees what dialogue_parse() put into *d and zeroes it; safe on a zeroed or cleaned struct. */
void dialogue_cleanup(struct dialogue *d);

#endif
