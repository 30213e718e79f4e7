/* Character Cards (V1/V2/V3 JSON, PNG with chara/ccv3 tEXt chunks, .charx zip): detection,
 * parsing, V2→V3 normalisation, card ↔ avatar fields, and the PNG and zip readers and writers.
 * Pure: no database, no files, no network — so that it can be unit tested and fuzzed. */
#ifndef DP_CARD_H
#define DP_CARD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

/* Caps on everything that comes from outside. */
#define CARD_INPUT_MAX (20u << 20)     /* a whole import: JSON, PNG or .charx (the route's body cap) */
#define CARD_JSON_MAX (2u << 20)       /* the card's JSON text, however it is wrapped */
#define CARD_BOOK_MAX 5000             /* lorebook entries */
#define CARD_ENTRY_MAX 65536           /* bytes of one lorebook entry's content */
#define CARD_ZIP_TOTAL_MAX (64u << 20) /* declared uncompressed bytes of all entries of a zip */
#define CARD_ZIP_ENTRIES_MAX 4096      /* entries of a zip */
#define CARD_ZIP_NAME_MAX 1024         /* bytes of an entry name */
#define CARD_SPEAKER_MAX 200           /* bytes of a speaker label kept from an entry */
#define CARD_KEYS_MAX 5                /* words made into the keys of an exported entry */

enum card_format { CARD_FMT_NONE = 0, CARD_FMT_JSON, CARD_FMT_PNG, CARD_FMT_CHARX };

/* The format of an input, from its first bytes (never a Content-Type): PNG signature, zip local
 * header ("PK\3\4") or a '{' after an optional BOM and white space. CARD_FMT_NONE otherwise. */
enum card_format card_detect(const void *p, size_t n);
const char *card_format_name(enum card_format f);

/* A lorebook entry that becomes a memory. */
struct card_memory {
    char id[ID_LEN];       /* assigned at parse time, increasing in entry order */
    const char *text;      /* the entry's content; borrowed from card_import.card */
    const char *kind;      /* static: "fact" | "qa" (or the kind a Doppel export recorded) */
    long seq;              /* the entry's position in the lorebook; an utterance's place in its dialogue */
    const char *speaker;   /* who said it (extensions.doppel.speaker), borrowed; NULL when unknown */
    char dialogue[ID_LEN]; /* an utterance's dialogue: a new id per dialogue of the card; "" otherwise */
};

/* A parsed card, ready to become an avatar and its memories. */
struct card_import {
    enum card_format format; /* the container it came in */
    int spec;                /* 1, 2 or 3: the version it was written in */
    json_t *card;            /* the card normalised to V3 (owned) */
    const char *name;        /* the avatar's fields, borrowed from card; never NULL */
    const char *description, *personality, *scenario, *greeting;
    const char *kind, *brain;     /* static strings: from extensions.doppel, else character/recall */
    json_t *extensions;           /* the avatar's extensions column: {"card": {…}} (owned) */
    struct card_memory *memories; /* owned; nmemories of them */
    size_t nmemories;
    size_t kept_aside; /* entries kept for the round-trip but not made memories
                                     (disabled or empty) */
};

/* Parses an import of any format (detected from the bytes). On success fills *out (release with
 * card_import_cleanup) and returns DP_OK. Errors, with msg saying what in words:
 *   DP_ERR_TOO_LARGE     over CARD_INPUT_MAX, a card over CARD_JSON_MAX, a zip over its caps
 *   DP_ERR_UNSUPPORTED   not JSON, PNG or zip
 *   DP_ERR_BAD_JSON      the card is not valid JSON (or nested too deep, or has duplicate keys)
 *   DP_ERR_INVALID       a damaged container: truncated, bad CRC, malformed zip
 *   DP_ERR_UNPROCESSABLE a sound container without a usable card, unsafe zip entries, a card
 *                        whose fields do not fit an avatar (name, sizes, entry count)
 *   DP_ERR_NOMEM
 * *out is zeroed on error. */
int card_import_parse(const void *p, size_t n, struct card_import *out, char *msg, size_t msglen);
void card_import_cleanup(struct card_import *imp);

/* Normalises a parsed card object (V1 flat, V2 or V3) to a new V3 card; *spec gets 1, 2 or 3.
 * NULL with msg set when it is not a character card. */
json_t *card_normalize(const json_t *in, int *spec, char *msg, size_t msglen);

/* Builds the V3 card of an avatar.
 *   avatar    an avatar's JSON as avatar_from_row gives it (name, kind, brain, description,
 *             personality, scenario, greeting, extensions); visibility is never exported
 *   memories  an array of {id, kind, text, media_id, start_ms, end_ms} in order (the lorebook),
 *             or NULL for no lorebook
 *   assets    the V3 assets of files shipped alongside (a .charx's assets/…), or NULL
 * Entries stop at CARD_BOOK_MAX and when the card's text would pass CARD_JSON_MAX, so that what
 * is exported can be imported again; *omitted (may be NULL) counts the memories left out.
 * Returns a new reference, NULL when out of memory. */
json_t *card_build(const json_t *avatar, const json_t *memories, const json_t *assets, size_t *omitted);

/* A card as the compact JSON text an export writes; caller frees. NULL when out of memory. */
char *card_dump(const json_t *card, size_t *len);

/* What keys are chosen against: how many of the lorebook's entries hold each word (so that rare
 * words win) and the words never to use (the avatar's own name). */
struct card_key_ctx {
    json_t *df;      /* {word key: entries holding it} (owned) */
    json_t *exclude; /* {word key: true} (owned) */
    size_t ndocs;    /* entries added */
};
/* Starts a context excluding the words of avatar_name (may be NULL). DP_ERR_NOMEM. */
int card_key_ctx_init(struct card_key_ctx *ctx, const char *avatar_name);
/* Counts the words of one entry's text. DP_ERR_NOMEM. */
int card_key_ctx_add(struct card_key_ctx *ctx, const char *text);
void card_key_ctx_cleanup(struct card_key_ctx *ctx);

/* Up to max keys for an entry of text, best first: proper names, then words rare in ctx (may be
 * NULL: this text alone); never stop words, words of address, chat-app names, booleans, numbers or
 * the excluded words. Inflections are one word (its shortest form seen); names keep their case,
 * other words are lower-cased. A new array of strings; NULL when out of memory. */
json_t *card_keywords_in(const char *text, size_t max, const struct card_key_ctx *ctx);
json_t *card_keywords(const char *text, size_t max);

/* ---- PNG ---- */

/* The card texts of a PNG: the base64 text of its `chara` and `ccv3` tEXt chunks (borrowed from
 * the PNG bytes, NULL when absent). */
struct card_png_text {
    const char *chara;
    size_t chara_len;
    const char *ccv3;
    size_t ccv3_len;
};

/* Walks every chunk up to IEND, checking each one's length against what is left and its CRC.
 * DP_ERR_INVALID (msg set) for a bad signature, a truncated file, a bad CRC, a missing IEND. */
int card_png_scan(const void *p, size_t n, struct card_png_text *out, char *msg, size_t msglen);

/* A copy of png with its chara/ccv3 chunks replaced by ones holding card (ccv3: the V3 card;
 * chara: the same card as V2, for V2-only readers), inserted before IEND. *out is the caller's
 * (free). DP_ERR_INVALID when png is not a sound PNG, DP_ERR_NOMEM. */
int card_png_embed(const void *png, size_t n, const json_t *card, char **out, size_t *out_len);

/* A 1×1 grey PNG, for a card with no picture; caller frees. */
int card_png_placeholder(char **out, size_t *out_len);

/* ---- zip (.charx) ---- */

struct card_zip_entry {
    char *name;      /* NUL-terminated copy */
    uint16_t method; /* 0 stored, 8 deflate */
    uint16_t flags;
    uint32_t crc;
    uint32_t csize;  /* compressed bytes */
    uint32_t usize;  /* declared uncompressed bytes */
    size_t data_off; /* where the compressed bytes start in the archive */
};

/* A validated archive; entries borrow nothing but the archive's bytes (which must outlive it). */
struct card_zip {
    const unsigned char *p;
    size_t n;
    struct card_zip_entry *entries;
    size_t count;
    uint64_t total; /* declared uncompressed bytes of all entries */
};

/* Reads the central directory and checks every entry before anything is extracted: at most
 * CARD_ZIP_ENTRIES_MAX entries, declared sizes summing to at most CARD_ZIP_TOTAL_MAX, names that
 * are relative, without "..", backslashes or control characters, unique, not encrypted, local
 * headers that agree with the directory. DP_ERR_INVALID / DP_ERR_UNPROCESSABLE /
 * DP_ERR_TOO_LARGE with msg set. Release with card_zip_close (also after an error). */
int card_zip_open(struct card_zip *z, const void *p, size_t n, char *msg, size_t msglen);
void card_zip_close(struct card_zip *z);
/* The index of the entry named name, or -1. */
long card_zip_find(const struct card_zip *z, const char *name);
/* Extracts entry i (stored or deflate) into a new buffer (NUL-terminated, caller frees), refusing
 * one whose declared size is over max and one whose actual size or CRC differs from what the
 * directory declared. */
int card_zip_read(const struct card_zip *z, size_t i, size_t max, char **out, size_t *out_len, char *msg,
                  size_t msglen);

/* One file of a zip to write. */
struct card_zip_file {
    const char *name;
    const void *data;
    size_t len;
    int deflate; /* 1: compress (text); 0: store (already compressed images) */
};

/* Writes a zip of files (no zip64: the total must stay under 4 GiB). *out is the caller's.
 * DP_ERR_TOO_LARGE past 4 GiB, DP_ERR_NOMEM. */
int card_zip_write(const struct card_zip_file *files, size_t n, char **out, size_t *out_len);

#endif
