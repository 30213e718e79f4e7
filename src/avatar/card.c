/* Character Cards: detection, the PNG and zip containers, V1/V2→V3 normalisation, card ↔ avatar.
 *
 * What an import keeps for the round-trip, in the avatar's extensions column:
 *   {"card": {"spec", "spec_version"   the version it came in (informational),
 *             "data": {…}               every data field Doppel has no column for (tags, creator,
 *                                       mes_example, extensions, alternate_greetings, … and fields
 *                                       of later versions), unchanged,
 *             "top": {…}                unknown top-level fields (not V1 mirrors of data fields),
 *             "book": {…}               the lorebook's own fields (name, scan_depth, …), no entries,
 *             "entries": {mid: {…}}     each entry made a memory, keyed by the memory's id, less its
 *                                       content (the memory's text is the content),
 *             "kept_entries": […]}}     entries not made memories (disabled or empty), unchanged.
 * Each exported entry says in extensions.doppel what the memory was: {kind, source} and, for a line
 * of dialogue, {speaker, seq, dialogue} — so that an import keeps who said what to whom (a line
 * said to the avatar stays that speaker's, answered by the avatar's next turn) instead of making
 * every line a fact about the avatar. data.mes_example gets the transcripts' exchanges, in the
 * format's own "<START>\n{{user}}: …\n{{char}}: …" shape, unless the card brought its own.
 * An export writes all of it back, with the avatar's current fields and memories on top. An entry's
 * fields that an export writes anyway (enabled: true, use_regex/constant: false, empty extensions,
 * insertion_order equal to its place among the memories) are not kept. */
#include "avatar/card.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "avatar/avatar.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/text.h"
#include "core/utf8.h"
#include "ingest/dialogue.h"

/* Sets msg and returns err. */
static int fail(char *msg, size_t msglen, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t msglen, int err, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return err;
}

static uint32_t rd32be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16le(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void wr16le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void wr32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* zlib's crc32 takes a uInt length: feed it in pieces. */
static uint32_t crc32_of(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *q = p;
    while (n) {
        uInt take = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = (uint32_t)crc32(crc, q, take);
        q += take;
        n -= take;
    }
    return crc;
}

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

enum card_format card_detect(const void *p, size_t n)
{
    const unsigned char *q = p;
    if (n >= 8 && !memcmp(q, png_sig, 8))
        return CARD_FMT_PNG;
    if (n >= 4 && q[0] == 'P' && q[1] == 'K' && ((q[2] == 3 && q[3] == 4) || (q[2] == 5 && q[3] == 6)))
        return CARD_FMT_CHARX;
    size_t i = 0;
    if (n >= 3 && q[0] == 0xef && q[1] == 0xbb && q[2] == 0xbf)
        i = 3;
    while (i < n && (q[i] == ' ' || q[i] == '\t' || q[i] == '\r' || q[i] == '\n'))
        i++;
    return i < n && q[i] == '{' ? CARD_FMT_JSON : CARD_FMT_NONE;
}

const char *card_format_name(enum card_format f)
{
    switch (f) {
    case CARD_FMT_JSON:
        return "json";
    case CARD_FMT_PNG:
        return "png";
    case CARD_FMT_CHARX:
        return "charx";
    default:
        return "unknown";
    }
}

/* ---- PNG ---- */

int card_png_scan(const void *p, size_t n, struct card_png_text *out, char *msg, size_t msglen)
{
    const unsigned char *q = p;
    memset(out, 0, sizeof *out);
    if (n < 8 || memcmp(q, png_sig, 8))
        return fail(msg, msglen, DP_ERR_INVALID, "not a PNG file (bad signature)");
    size_t at = 8;
    for (int first = 1;; first = 0) {
        if (n - at < 12)
            return fail(msg, msglen, DP_ERR_INVALID, "the PNG is truncated (no IEND chunk; it ends at byte %zu)", n);
        uint32_t len = rd32be(q + at);
        const unsigned char *type = q + at + 4, *data = q + at + 8;
        if (len > 0x7fffffffu)
            return fail(msg, msglen, DP_ERR_INVALID, "bad PNG chunk length %u at byte %zu", len, at);
        if (len > n - at - 12)
            return fail(msg, msglen, DP_ERR_INVALID, "the PNG is truncated (a %u-byte chunk at byte %zu runs past the end)",
                        len, at);
        for (int i = 0; i < 4; i++)
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
                return fail(msg, msglen, DP_ERR_INVALID, "bad PNG chunk type at byte %zu", at);
        if (first && memcmp(type, "IHDR", 4))
            return fail(msg, msglen, DP_ERR_INVALID, "the PNG does not start with an IHDR chunk");
        if (crc32_of(0, type, 4 + (size_t)len) != rd32be(data + len))
            return fail(msg, msglen, DP_ERR_INVALID, "bad CRC in the PNG's %.4s chunk at byte %zu", (const char *)type,
                        at);
        if (!memcmp(type, "tEXt", 4)) {
            const unsigned char *nul = memchr(data, 0, len);
            if (nul) {
                size_t klen = (size_t)(nul - data);
                const char *text = (const char *)nul + 1;
                size_t tlen = len - klen - 1;
                /* The first chunk of each keyword counts; later copies are ignored. */
                if (klen == 5 && !memcmp(data, "chara", 5) && !out->chara) {
                    out->chara = text;
                    out->chara_len = tlen;
                } else if (klen == 4 && !memcmp(data, "ccv3", 4) && !out->ccv3) {
                    out->ccv3 = text;
                    out->ccv3_len = tlen;
                }
            }
        }
        at += 12 + (size_t)len;
        if (!memcmp(type, "IEND", 4))
            return DP_OK;
    }
}

/* Appends one PNG chunk (length, type, data, CRC). */
static int png_chunk(struct buf *b, const char *type, const void *d1, size_t n1, const void *d2, size_t n2)
{
    unsigned char hdr[8], crc[4];
    if (n1 + n2 > 0x7fffffffu)
        return DP_ERR_TOO_LARGE;
    wr32be(hdr, (uint32_t)(n1 + n2));
    memcpy(hdr + 4, type, 4);
    uint32_t c = crc32_of(0, type, 4);
    c = crc32_of(c, d1, n1);
    c = crc32_of(c, d2, n2);
    wr32be(crc, c);
    int err = buf_append(b, hdr, 8);
    if (!err && n1)
        err = buf_append(b, d1, n1);
    if (!err && n2)
        err = buf_append(b, d2, n2);
    if (!err)
        err = buf_append(b, crc, 4);
    return err;
}

/* The base64 (standard alphabet, padded) of a card's compact JSON; caller frees. */
static char *card_base64(const json_t *card)
{
    size_t n;
    char *s = card_dump(card, &n);
    if (!s)
        return NULL;
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b = malloc(cap);
    if (b)
        sodium_bin2base64(b, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    free(s);
    return b;
}

int card_png_embed(const void *png, size_t n, const json_t *card, char **out, size_t *out_len)
{
    struct card_png_text t;
    char msg[128];
    int err = card_png_scan(png, n, &t, msg, sizeof msg);
    if (err)
        return err;
    /* V2 readers get the same data under the V2 spec name: they ignore what they do not know. */
    json_t *v2 = json_copy((json_t *)card);
    if (!v2)
        return DP_ERR_NOMEM;
    json_object_set_new(v2, "spec", json_string("chara_card_v2"));
    json_object_set_new(v2, "spec_version", json_string("2.0"));
    char *b3 = card_base64(card), *b2 = card_base64(v2);
    json_decref(v2);
    struct buf b;
    buf_init(&b, 0);
    err = b3 && b2 ? buf_append(&b, png_sig, 8) : DP_ERR_NOMEM;
    const unsigned char *q = png;
    for (size_t at = 8; !err && at < n;) {
        uint32_t len = rd32be(q + at);
        const unsigned char *type = q + at + 4, *data = q + at + 8;
        int is_card_text = !memcmp(type, "tEXt", 4) && ((len >= 6 && !memcmp(data, "chara", 6)) ||
                                                         (len >= 5 && !memcmp(data, "ccv3", 5)));
        if (!memcmp(type, "IEND", 4)) {
            err = png_chunk(&b, "tEXt", "chara", 6, b2, strlen(b2));
            if (!err)
                err = png_chunk(&b, "tEXt", "ccv3", 5, b3, strlen(b3));
        }
        if (!err && !is_card_text)
            err = buf_append(&b, q + at, 12 + (size_t)len);
        if (!memcmp(type, "IEND", 4))
            break;
        at += 12 + (size_t)len;
    }
    free(b2);
    free(b3);
    if (err) {
        buf_cleanup(&b);
        return err;
    }
    *out = buf_steal(&b, out_len);
    return DP_OK;
}

int card_png_placeholder(char **out, size_t *out_len)
{
    unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0}; /* 1×1, 8-bit grey */
    const unsigned char row[2] = {0, 0x80};                            /* filter none, mid grey */
    unsigned char z[64];
    uLongf zlen = sizeof z;
    if (compress(z, &zlen, row, sizeof row) != Z_OK)
        return DP_ERR_INTERNAL;
    struct buf b;
    buf_init(&b, 0);
    int err = buf_append(&b, png_sig, 8);
    if (!err)
        err = png_chunk(&b, "IHDR", ihdr, sizeof ihdr, NULL, 0);
    if (!err)
        err = png_chunk(&b, "IDAT", z, zlen, NULL, 0);
    if (!err)
        err = png_chunk(&b, "IEND", NULL, 0, NULL, 0);
    if (err) {
        buf_cleanup(&b);
        return err;
    }
    *out = buf_steal(&b, out_len);
    return DP_OK;
}

/* Decodes the base64 text of a PNG card chunk into a new NUL-terminated buffer. Line breaks and
 * spaces are ignored; padding is optional. */
static int png_text_decode(const char *t, size_t n, const char *which, char **out, size_t *out_len, char *msg,
                           size_t msglen)
{
    /* Base64 of CARD_JSON_MAX bytes, with room for line breaks. */
    const size_t b64_max = (CARD_JSON_MAX / 3 + 1) * 4 + CARD_JSON_MAX / 16;
    if (n > b64_max)
        return fail(msg, msglen, DP_ERR_TOO_LARGE, "the PNG's %s chunk holds more than %u bytes of card", which,
                    CARD_JSON_MAX);
    size_t cap = n / 4 * 3 + 3;
    char *bin = malloc(cap + 1);
    if (!bin)
        return DP_ERR_NOMEM;
    size_t len = 0;
    if (sodium_base642bin((unsigned char *)bin, cap, t, n, " \t\r\n", &len, NULL, sodium_base64_VARIANT_ORIGINAL) &&
        sodium_base642bin((unsigned char *)bin, cap, t, n, " \t\r\n", &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING)) {
        free(bin);
        return fail(msg, msglen, DP_ERR_INVALID, "the PNG's %s chunk is not valid base64", which);
    }
    bin[len] = 0;
    *out = bin;
    *out_len = len;
    return DP_OK;
}

/* ---- zip ---- */

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_END_SIG 0x06054b50u

void card_zip_close(struct card_zip *z)
{
    for (size_t i = 0; z->entries && i < z->count; i++)
        free(z->entries[i].name);
    free(z->entries);
    memset(z, 0, sizeof *z);
}

/* 1 when an entry name is safe to think of as a relative path: no absolute path, drive letter,
 * backslash, control character, "." or ".." segment, or empty segment (but a trailing '/'). */
static int zip_name_safe(const char *s, size_t n)
{
    if (n == 0 || s[0] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\' || c == ':')
            return 0;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        size_t seg = j - i;
        if ((seg == 0 && j < n) || (seg == 1 && s[i] == '.') || (seg == 2 && s[i] == '.' && s[i + 1] == '.'))
            return 0;
        i = j + 1;
    }
    return 1;
}

/* A printable, shortened copy of an entry name for messages. */
static void zip_name_show(const char *s, size_t n, char out[64])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 60; i++)
        out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > 60)
        out[k - 1] = '~';
    out[k] = 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int card_zip_open(struct card_zip *z, const void *p, size_t n, char *msg, size_t msglen)
{
    memset(z, 0, sizeof *z);
    const unsigned char *q = p;
    z->p = q;
    z->n = n;
    if (n < 22)
        return fail(msg, msglen, DP_ERR_INVALID, "not a zip file (too short)");
    /* The end record is in the last 22 + 65535 bytes; the last signature that fits wins. */
    size_t eocd = 0;
    int found = 0;
    for (size_t i = n - 22;; i--) {
        if (rd32le(q + i) == ZIP_END_SIG && i + 22 + rd16le(q + i + 20) <= n) {
            eocd = i;
            found = 1;
            break;
        }
        if (i == 0 || n - 22 - i >= 65535)
            break;
    }
    if (!found)
        return fail(msg, msglen, DP_ERR_INVALID, "not a zip file (no end of central directory; truncated?)");
    const unsigned char *e = q + eocd;
    uint16_t disk = rd16le(e + 4), cd_disk = rd16le(e + 6), on_disk = rd16le(e + 8), total = rd16le(e + 10);
    uint32_t cd_size = rd32le(e + 12), cd_off = rd32le(e + 16);
    if (total == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "zip64 archives are not supported");
    if (disk || cd_disk || on_disk != total)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "multi-part zip archives are not supported");
    if (total > CARD_ZIP_ENTRIES_MAX)
        return fail(msg, msglen, DP_ERR_TOO_LARGE, "the zip has %u entries; at most %d", total, CARD_ZIP_ENTRIES_MAX);
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return fail(msg, msglen, DP_ERR_INVALID, "the zip's central directory lies outside the file (truncated?)");
    if (total == 0)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the zip is empty");
    z->entries = calloc(total, sizeof *z->entries);
    if (!z->entries)
        return DP_ERR_NOMEM;
    size_t pos = cd_off, cd_end = (size_t)cd_off + cd_size;
    char shown[64];
    for (size_t k = 0; k < total; k++) {
        if (cd_end - pos < 46 || rd32le(q + pos) != ZIP_CENTRAL_SIG)
            return fail(msg, msglen, DP_ERR_INVALID, "the zip's central directory is damaged (entry %zu)", k);
        const unsigned char *c = q + pos;
        uint16_t flags = rd16le(c + 8), method = rd16le(c + 10), nlen = rd16le(c + 28), xlen = rd16le(c + 30),
                 clen = rd16le(c + 32);
        uint32_t crc = rd32le(c + 16), csize = rd32le(c + 20), usize = rd32le(c + 24), lho = rd32le(c + 42);
        if ((size_t)46 + nlen + xlen + clen > cd_end - pos)
            return fail(msg, msglen, DP_ERR_INVALID, "the zip's central directory is damaged (entry %zu)", k);
        const char *name = (const char *)c + 46;
        zip_name_show(name, nlen, shown);
        if (nlen > CARD_ZIP_NAME_MAX || !zip_name_safe(name, nlen))
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "unsafe zip entry name \"%s\" (absolute, \"..\" or odd)",
                        shown);
        if (memchr(name, 0, nlen))
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "unsafe zip entry name \"%s\"", shown);
        if (flags & 0x41)
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "encrypted zip entries are not supported (\"%s\")", shown);
        if (csize == 0xffffffffu || usize == 0xffffffffu || lho == 0xffffffffu)
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "zip64 entries are not supported (\"%s\")", shown);
        if (method == 0 && csize != usize)
            return fail(msg, msglen, DP_ERR_INVALID, "stored zip entry \"%s\" has different sizes", shown);
        z->total += usize;
        if (z->total > CARD_ZIP_TOTAL_MAX)
            return fail(msg, msglen, DP_ERR_TOO_LARGE, "the zip declares more than %u MiB uncompressed",
                        CARD_ZIP_TOTAL_MAX >> 20);
        /* The local header must be where the directory says, say the same name, and its data must
         * end before the directory starts. */
        if (lho > cd_off || cd_off - lho < 30 || rd32le(q + lho) != ZIP_LOCAL_SIG)
            return fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" has no local header", shown);
        uint16_t lnlen = rd16le(q + lho + 26), lxlen = rd16le(q + lho + 28);
        size_t data_off = (size_t)lho + 30 + lnlen + lxlen;
        if (data_off > cd_off || csize > cd_off - data_off)
            return fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" runs past its bounds (truncated?)", shown);
        if (lnlen != nlen || memcmp(q + lho + 30, name, nlen))
            return fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\": local header and directory disagree", shown);
        struct card_zip_entry *en = &z->entries[z->count];
        if (!(en->name = malloc((size_t)nlen + 1)))
            return DP_ERR_NOMEM;
        memcpy(en->name, name, nlen);
        en->name[nlen] = 0;
        en->method = method;
        en->flags = flags;
        en->crc = crc;
        en->csize = csize;
        en->usize = usize;
        en->data_off = data_off;
        z->count++;
        pos += (size_t)46 + nlen + xlen + clen;
    }
    /* Two entries of one name would make "which card.json?" ambiguous. */
    char **names = malloc(z->count * sizeof *names);
    if (!names)
        return DP_ERR_NOMEM;
    for (size_t i = 0; i < z->count; i++)
        names[i] = z->entries[i].name;
    qsort(names, z->count, sizeof *names, name_cmp);
    int dup = 0;
    for (size_t i = 1; i < z->count && !dup; i++)
        if (!strcmp(names[i - 1], names[i])) {
            dup = 1;
            zip_name_show(names[i], strlen(names[i]), shown);
        }
    free(names);
    if (dup)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the zip holds two entries named \"%s\"", shown);
    return DP_OK;
}

long card_zip_find(const struct card_zip *z, const char *name)
{
    for (size_t i = 0; i < z->count; i++)
        if (!strcmp(z->entries[i].name, name))
            return (long)i;
    return -1;
}

int card_zip_read(const struct card_zip *z, size_t i, size_t max, char **out, size_t *out_len, char *msg,
                  size_t msglen)
{
    const struct card_zip_entry *e = &z->entries[i];
    char shown[64];
    zip_name_show(e->name, strlen(e->name), shown);
    if (e->usize > max)
        return fail(msg, msglen, DP_ERR_TOO_LARGE, "zip entry \"%s\" is %u bytes; at most %zu", shown, e->usize, max);
    if (e->method != 0 && e->method != 8)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "zip entry \"%s\" uses compression method %u (only stored and "
                    "deflate are supported)", shown, e->method);
    /* One byte more than declared, so that a stream that would go on is caught. */
    char *buf = malloc((size_t)e->usize + 1);
    if (!buf)
        return DP_ERR_NOMEM;
    const unsigned char *src = z->p + e->data_off;
    if (e->method == 0) {
        memcpy(buf, src, e->usize);
    } else {
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -15) != Z_OK) {
            free(buf);
            return DP_ERR_NOMEM;
        }
        s.next_in = (Bytef *)src;
        s.avail_in = e->csize;
        s.next_out = (Bytef *)buf;
        s.avail_out = e->usize + 1;
        int rc = inflate(&s, Z_FINISH);
        uLong got = s.total_out;
        inflateEnd(&s);
        if (rc != Z_STREAM_END || got != e->usize) {
            free(buf);
            if (got > e->usize || (rc != Z_STREAM_END && s.avail_out == 0))
                return fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" inflates to more than the %u bytes it "
                            "declares", shown, e->usize);
            return fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" is damaged (%s)", shown,
                        rc == Z_STREAM_END ? "shorter than declared" : "bad deflate data");
        }
    }
    if (crc32_of(0, buf, e->usize) != e->crc) {
        free(buf);
        return fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" fails its CRC check", shown);
    }
    buf[e->usize] = 0;
    *out = buf;
    *out_len = e->usize;
    return DP_OK;
}

int card_zip_write(const struct card_zip_file *files, size_t n, char **out, size_t *out_len)
{
    if (n > 0xffff)
        return DP_ERR_TOO_LARGE;
    struct meta {
        uint32_t crc, csize, off;
        uint16_t method;
    } *m = calloc(n ? n : 1, sizeof *m);
    if (!m)
        return DP_ERR_NOMEM;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (tm.tm_year < 80) /* DOS dates start in 1980 */
        tm = (struct tm){.tm_year = 80, .tm_mday = 1};
    uint32_t dtime = (uint32_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    uint32_t ddate = (uint32_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    struct buf b;
    buf_init(&b, 0);
    int err = DP_OK;
    unsigned char h[46];
    for (size_t i = 0; i < n && !err; i++) {
        const struct card_zip_file *f = &files[i];
        size_t nlen = strlen(f->name);
        if (nlen > 0xffff || f->len > 0xfffffffeu || b.len > 0xfffffffeu) {
            err = DP_ERR_TOO_LARGE;
            break;
        }
        m[i].crc = crc32_of(0, f->data, f->len);
        m[i].off = (uint32_t)b.len;
        const void *data = f->data;
        size_t dlen = f->len;
        unsigned char *z = NULL;
        if (f->deflate && f->len) {
            z_stream s;
            memset(&s, 0, sizeof s);
            if (deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
                err = DP_ERR_NOMEM;
                break;
            }
            uLong bound = deflateBound(&s, (uLong)f->len);
            z = malloc(bound);
            s.next_in = (Bytef *)f->data;
            s.avail_in = (uInt)f->len;
            s.next_out = z;
            s.avail_out = (uInt)bound;
            int rc = z ? deflate(&s, Z_FINISH) : Z_MEM_ERROR;
            if (rc == Z_STREAM_END && s.total_out < f->len) {
                data = z;
                dlen = s.total_out;
                m[i].method = 8;
            }
            deflateEnd(&s);
        }
        m[i].csize = (uint32_t)dlen;
        memset(h, 0, 30);
        wr32le(h, ZIP_LOCAL_SIG);
        wr16le(h + 4, 20);
        wr16le(h + 6, 0x0800); /* names are UTF-8 */
        wr16le(h + 8, m[i].method);
        wr16le(h + 10, dtime);
        wr16le(h + 12, ddate);
        wr32le(h + 14, m[i].crc);
        wr32le(h + 18, m[i].csize);
        wr32le(h + 22, (uint32_t)f->len);
        wr16le(h + 26, (uint32_t)nlen);
        err = buf_append(&b, h, 30);
        if (!err)
            err = buf_append(&b, f->name, nlen);
        if (!err && dlen)
            err = buf_append(&b, data, dlen);
        free(z);
    }
    size_t cd_off = b.len;
    for (size_t i = 0; i < n && !err; i++) {
        size_t nlen = strlen(files[i].name);
        memset(h, 0, 46);
        wr32le(h, ZIP_CENTRAL_SIG);
        wr16le(h + 4, 3 << 8 | 20); /* made by: Unix, 2.0 */
        wr16le(h + 6, 20);
        wr16le(h + 8, 0x0800);
        wr16le(h + 10, m[i].method);
        wr16le(h + 12, dtime);
        wr16le(h + 14, ddate);
        wr32le(h + 16, m[i].crc);
        wr32le(h + 20, m[i].csize);
        wr32le(h + 24, (uint32_t)files[i].len);
        wr16le(h + 28, (uint32_t)nlen);
        wr32le(h + 38, 0100644u << 16); /* -rw-r--r-- */
        wr32le(h + 42, m[i].off);
        err = buf_append(&b, h, 46);
        if (!err)
            err = buf_append(&b, files[i].name, nlen);
    }
    if (!err && b.len > 0xfffffff0u)
        err = DP_ERR_TOO_LARGE;
    if (!err) {
        memset(h, 0, 22);
        wr32le(h, ZIP_END_SIG);
        wr16le(h + 8, (uint32_t)n);
        wr16le(h + 10, (uint32_t)n);
        wr32le(h + 12, (uint32_t)(b.len - cd_off));
        wr32le(h + 16, (uint32_t)cd_off);
        err = buf_append(&b, h, 22);
    }
    free(m);
    if (err) {
        buf_cleanup(&b);
        return err;
    }
    *out = buf_steal(&b, out_len);
    return DP_OK;
}

/* ---- normalisation and import ---- */

json_t *card_normalize(const json_t *in, int *spec, char *msg, size_t msglen)
{
    if (!json_is_object(in)) {
        fail(msg, msglen, 0, "the card must be a JSON object");
        return NULL;
    }
    const char *s = json_get_str(in, "spec");
    json_t *data = json_object_get(in, "data");
    int v;
    if (s && !strcmp(s, "chara_card_v3"))
        v = 3;
    else if (s && !strcmp(s, "chara_card_v2"))
        v = 2;
    else if (!json_object_get(in, "spec") && json_is_string(json_object_get(in, "name")))
        v = 1, data = (json_t *)in; /* V1: the fields at the top */
    else if (s && !strncmp(s, "chara_card_v", 12) && json_is_object(data))
        v = 3; /* a later version: read what V3 knows (the spec asks us to import it) */
    else {
        fail(msg, msglen, 0, "not a character card (spec is not chara_card_v2/v3, and there is no top-level name)");
        return NULL;
    }
    if (!json_is_object(data)) {
        fail(msg, msglen, 0, "the card's data must be an object");
        return NULL;
    }
    /* V1 had no spec and no data wrapper; nothing else differs. V2 → V3 adds fields only, which
     * card_build fills with their defaults on the way out. */
    json_t *card = json_pack("{s:s,s:s,s:o}", "spec", "chara_card_v3", "spec_version", "3.0", "data",
                             v == 1 ? json_copy(data) : json_incref(data));
    *spec = v;
    return card;
}

/* The data fields that are avatar columns (never kept in extensions.card.data). */
static const char *const mapped_fields[] = {"name", "description", "personality", "scenario", "first_mes", NULL};

static int is_mapped(const char *k)
{
    for (const char *const *f = mapped_fields; *f; f++)
        if (!strcmp(*f, k))
            return 1;
    return 0;
}

static const char *const memory_kinds[] = {"fact", "qa", "passage", "utterance", NULL};

static const char *known_kind(const char *s)
{
    for (const char *const *k = memory_kinds; s && *k; k++)
        if (!strcmp(*k, s))
            return *k;
    return NULL;
}

/* 1 when s starts with a line "Q: …"/"Question: …" and a later line starts "A: …"/"Answer: …". */
static int looks_like_qa(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t q = !strncasecmp(s, "question:", 9) ? 9 : (!strncasecmp(s, "q:", 2) || !strncasecmp(s, "q.", 2)) ? 2 : 0;
    if (!q)
        return 0;
    for (const char *nl = strchr(s, '\n'); nl; nl = strchr(nl + 1, '\n')) {
        const char *l = nl + 1;
        while (*l == ' ' || *l == '\t')
            l++;
        if (!strncasecmp(l, "a:", 2) || !strncasecmp(l, "a.", 2) || !strncasecmp(l, "answer:", 7))
            return 1;
    }
    return 0;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* A text field of data: absent or null → "", a string, or an error. */
static int text_field(json_t *data, const char *key, size_t max, const char **out, char *msg, size_t msglen)
{
    json_t *v = json_object_get(data, key);
    if (!v || json_is_null(v)) {
        *out = "";
        return DP_OK;
    }
    if (!json_is_string(v))
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.%s must be a string", key);
    if (json_string_length(v) > max)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.%s is %zu bytes; an avatar keeps at most %zu", key,
                    json_string_length(v), max);
    *out = json_string_value(v);
    return DP_OK;
}

/* The card's JSON text, however it was wrapped; *text is the caller's (free). */
static int card_text(const unsigned char *p, size_t n, enum card_format f, char **text, size_t *len, char *msg,
                     size_t msglen)
{
    int err;
    if (f == CARD_FMT_JSON) {
        if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
            p += 3, n -= 3;
        if (n > CARD_JSON_MAX)
            return fail(msg, msglen, DP_ERR_TOO_LARGE, "the card is %zu bytes of JSON; at most %u", n, CARD_JSON_MAX);
        if (!(*text = malloc(n + 1)))
            return DP_ERR_NOMEM;
        memcpy(*text, p, n);
        (*text)[n] = 0;
        *len = n;
        return DP_OK;
    }
    if (f == CARD_FMT_PNG) {
        struct card_png_text t;
        if ((err = card_png_scan(p, n, &t, msg, msglen)))
            return err;
        if (!t.ccv3 && !t.chara)
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                        "the PNG holds no character card (no chara or ccv3 tEXt chunk)");
        /* The spec: ccv3 wins when both are there. */
        return t.ccv3 ? png_text_decode(t.ccv3, t.ccv3_len, "ccv3", text, len, msg, msglen)
                      : png_text_decode(t.chara, t.chara_len, "chara", text, len, msg, msglen);
    }
    struct card_zip z;
    if (!(err = card_zip_open(&z, p, n, msg, msglen))) {
        long i = card_zip_find(&z, "card.json");
        if (i < 0)
            err = fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the .charx has no card.json at its root");
        else
            err = card_zip_read(&z, (size_t)i, CARD_JSON_MAX, text, len, msg, msglen);
    }
    card_zip_close(&z);
    return err;
}

void card_import_cleanup(struct card_import *imp)
{
    json_decref(imp->card);
    json_decref(imp->extensions);
    free(imp->memories);
    memset(imp, 0, sizeof *imp);
}

/* The lorebook: entries become memories (their other fields kept by memory id), disabled and
 * empty ones are kept aside; the book's own fields are kept. */
static int import_book(struct card_import *imp, json_t *book, json_t *store, char *msg, size_t msglen)
{
    if (!book || json_is_null(book))
        return DP_OK;
    if (!json_is_object(book))
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.character_book must be an object");
    json_t *entries = json_object_get(book, "entries");
    if (entries && !json_is_null(entries) && !json_is_array(entries))
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "data.character_book.entries must be an array");
    size_t n = json_array_size(entries);
    if (n > CARD_BOOK_MAX)
        return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the lorebook has %zu entries; at most %d", n, CARD_BOOK_MAX);
    json_t *own = json_copy(book), *by_id = json_object(), *kept = json_array();
    if (!own || !by_id || !kept) {
        json_decref(own), json_decref(by_id), json_decref(kept);
        return DP_ERR_NOMEM;
    }
    json_object_del(own, "entries");
    json_object_set_new(store, "book", own);
    json_object_set_new(store, "entries", by_id);
    if (n && !(imp->memories = calloc(n, sizeof *imp->memories))) {
        json_decref(kept);
        return DP_ERR_NOMEM;
    }
    json_t *dialogues = json_object(); /* {dialogue in the card: its new id} */
    if (!dialogues) {
        json_decref(kept);
        return DP_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(entries, i), *content;
        if (!json_is_object(e)) {
            json_decref(kept), json_decref(dialogues);
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "character_book.entries[%zu] must be an object", i);
        }
        content = json_object_get(e, "content");
        if (content && !json_is_null(content) && !json_is_string(content)) {
            json_decref(kept), json_decref(dialogues);
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE, "character_book.entries[%zu].content must be a string", i);
        }
        const char *text = json_is_string(content) ? json_string_value(content) : "";
        if (json_string_length(content) > CARD_ENTRY_MAX) {
            json_decref(kept), json_decref(dialogues);
            return fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                        "character_book.entries[%zu].content is %zu bytes; at most %d", i,
                        json_string_length(content), CARD_ENTRY_MAX);
        }
        if (json_is_false(json_object_get(e, "enabled")) || is_blank(text)) {
            json_array_append(kept, e);
            continue;
        }
        struct card_memory *m = &imp->memories[imp->nmemories++];
        id_new(m->id);
        m->text = text;
        m->seq = (long)i;
        json_t *ext = json_object_get(e, "extensions"), *doppel = json_object_get(ext, "doppel");
        m->kind = known_kind(json_get_str(doppel, "kind"));
        if (!m->kind)
            m->kind = looks_like_qa(text) ? "qa" : "fact";
        /* Who said it, and where in which dialogue: a line said to the avatar stays that speaker's
         * line (recall answers it with the avatar's next turn), never a fact about the avatar. */
        const char *speaker = json_get_str(doppel, "speaker");
        if (speaker && *speaker && strlen(speaker) <= CARD_SPEAKER_MAX)
            m->speaker = speaker;
        if (!strcmp(m->kind, "utterance")) {
            json_t *seq = json_object_get(doppel, "seq");
            if (json_is_integer(seq) && json_integer_value(seq) >= 0 && json_integer_value(seq) < (1LL << 40))
                m->seq = (long)json_integer_value(seq);
            /* Each dialogue of the card gets a new id of its own; lines without one share one. */
            const char *was = json_get_str(doppel, "dialogue");
            json_t *known = json_object_get(dialogues, was ? was : "");
            if (known) {
                snprintf(m->dialogue, sizeof m->dialogue, "%s", json_string_value(known));
            } else {
                id_new(m->dialogue);
                json_object_set_new(dialogues, was ? was : "", json_string(m->dialogue));
            }
        }
        /* What the entry says besides its text; Doppel's own extension is rewritten on export. */
        json_t *meta = json_copy(e);
        if (!meta) {
            json_decref(kept), json_decref(dialogues);
            return DP_ERR_NOMEM;
        }
        json_object_del(meta, "content");
        const char *keys_by = json_get_str(doppel, "keys");
        if (keys_by && !strcmp(keys_by, "made"))
            json_object_del(meta, "keys");
        if (doppel) {
            json_t *ext2 = json_copy(ext);
            json_object_del(ext2, "doppel");
            json_object_set_new(meta, "extensions", ext2);
        }
        /* What an export writes anyway need not be kept (the avatar's JSON carries this store). */
        if (json_is_true(json_object_get(meta, "enabled")))
            json_object_del(meta, "enabled");
        if (json_is_false(json_object_get(meta, "use_regex")))
            json_object_del(meta, "use_regex");
        if (json_is_false(json_object_get(meta, "constant")))
            json_object_del(meta, "constant");
        json_t *e2 = json_object_get(meta, "extensions");
        if (json_is_object(e2) && !json_object_size(e2))
            json_object_del(meta, "extensions");
        json_t *order = json_object_get(meta, "insertion_order");
        if (json_is_integer(order) && json_integer_value(order) == (json_int_t)(imp->nmemories - 1))
            json_object_del(meta, "insertion_order");
        json_object_set_new(by_id, m->id, meta);
    }
    json_decref(dialogues);
    imp->kept_aside = json_array_size(kept);
    if (imp->kept_aside)
        json_object_set_new(store, "kept_entries", kept);
    else
        json_decref(kept);
    return DP_OK;
}

/* An asset whose file came inside the card (embeded://, __asset:) is not imported, so its
 * reference would dangle: external ones (https:, ccdefault:, data:) are kept. */
static int asset_is_embedded(json_t *a)
{
    const char *uri = json_get_str(a, "uri");
    return uri && (!strncmp(uri, "embeded://", 10) || !strncmp(uri, "embedded://", 11) || !strncmp(uri, "__asset:", 8));
}

int card_import_parse(const void *p, size_t n, struct card_import *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    if (n > CARD_INPUT_MAX)
        return fail(msg, msglen, DP_ERR_TOO_LARGE, "the card is %zu bytes; at most %u", n, CARD_INPUT_MAX);
    enum card_format f = card_detect(p, n);
    if (f == CARD_FMT_NONE)
        return fail(msg, msglen, DP_ERR_UNSUPPORTED,
                    "not a character card: expected Character Card JSON, a PNG with a card, or a .charx (zip)");
    char *text = NULL;
    size_t len = 0;
    int err = card_text(p, n, f, &text, &len, msg, msglen);
    if (err)
        return err;
    json_t *root = NULL;
    err = json_parse_body(text, len, CARD_JSON_MAX, &root, msg, msglen);
    free(text);
    if (err)
        return err;
    out->format = f;
    out->card = card_normalize(root, &out->spec, msg, msglen);
    if (!out->card) {
        json_decref(root);
        return DP_ERR_UNPROCESSABLE;
    }
    json_t *data = json_object_get(out->card, "data");
    const char *name;
    if ((err = text_field(data, "name", AVATAR_NAME_MAX, &name, msg, msglen)) ||
        (err = text_field(data, "description", AVATAR_TEXT_MAX, &out->description, msg, msglen)) ||
        (err = text_field(data, "personality", AVATAR_TEXT_MAX, &out->personality, msg, msglen)) ||
        (err = text_field(data, "scenario", AVATAR_TEXT_MAX, &out->scenario, msg, msglen)) ||
        (err = text_field(data, "first_mes", AVATAR_TEXT_MAX, &out->greeting, msg, msglen)))
        goto out_fail;
    int name_ok = *name != 0;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            name_ok = 0;
    if (!name_ok) {
        err = fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                   "data.name must be 1 to %d bytes without control characters", AVATAR_NAME_MAX);
        goto out_fail;
    }
    out->name = name;
    /* What a Doppel export recorded about the avatar itself. */
    json_t *doppel = json_object_get(json_object_get(data, "extensions"), "doppel");
    const char *kind = json_get_str(doppel, "kind"), *brain = json_get_str(doppel, "brain");
    /* An account's self avatar is made by the server, never by an import. */
    out->kind = kind && !avatar_check_kind(kind) && strcmp(kind, "self")
                    ? (!strcmp(kind, "legacy") ? "legacy" : !strcmp(kind, "trainer") ? "trainer" : "character")
                    : "character";
    out->brain = brain && !strcmp(brain, "generative") ? "generative" : "recall";

    json_t *store = json_object(), *kept_data = json_object();
    out->extensions = json_pack("{s:o}", "card", store);
    if (!store || !kept_data || !out->extensions) {
        json_decref(kept_data);
        err = DP_ERR_NOMEM;
        goto out_fail;
    }
    json_t *spec = json_object_get(root, "spec"), *version = json_object_get(root, "spec_version");
    if (json_is_string(spec))
        json_object_set(store, "spec", spec);
    if (json_is_string(version))
        json_object_set(store, "spec_version", version);
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v)
    {
        if (is_mapped(k) || !strcmp(k, "character_book"))
            continue;
        if (!strcmp(k, "assets") && json_is_array(v)) {
            json_t *keep = json_array();
            size_t i;
            json_t *a;
            json_array_foreach(v, i, a) if (!asset_is_embedded(a)) json_array_append(keep, a);
            json_object_set_new(kept_data, k, keep);
            continue;
        }
        json_object_set(kept_data, k, v);
    }
    json_object_set_new(store, "data", kept_data);
    if (out->spec >= 2) {
        /* Top-level fields besides spec/data, less the V1 copies of data fields that V2 writers
         * put there for V1 readers (they would go stale). */
        json_t *top = json_object();
        json_object_foreach(root, k, v)
        {
            if (!strcmp(k, "spec") || !strcmp(k, "spec_version") || !strcmp(k, "data") || is_mapped(k) ||
                !strcmp(k, "mes_example"))
                continue;
            json_object_set(top, k, v);
        }
        if (json_object_size(top))
            json_object_set_new(store, "top", top);
        else
            json_decref(top);
    }
    if ((err = import_book(out, json_object_get(data, "character_book"), store, msg, msglen)))
        goto out_fail;
    json_decref(root);
    return DP_OK;
out_fail:
    json_decref(root);
    card_import_cleanup(out);
    return err;
}

/* ---- export ---- */

char *card_dump(const json_t *card, size_t *len)
{
    return json_dump_compact(card, len);
}

static size_t dumped_size(const json_t *v)
{
    size_t n = 0;
    char *s = json_dump_compact(v, &n);
    free(s);
    return s ? n : (size_t)-1 / 2;
}

static json_t *str_or_empty(const json_t *obj, const char *key)
{
    const char *s = json_get_str(obj, key);
    return json_string(s ? s : "");
}

/* v, or JSON null (a singleton in jansson) when v is NULL. */
static json_t *or_null(json_t *v)
{
    return v ? v : json_null();
}

/* One lorebook entry of a memory: what the import kept of the entry (if it came from a card),
 * its text, keys (the original ones, else card_keywords_in), and extensions.doppel {kind, source},
 * plus for a line of dialogue who said it, its place and its dialogue: {speaker, seq, dialogue}
 * (a dialogue is the media it was transcribed from, or the one an earlier import recorded), so that
 * an import knows who said what to whom. */
static json_t *memory_entry(const json_t *mem, const json_t *kept_meta, size_t order, const struct card_key_ctx *ctx)
{
    const char *text = json_get_str(mem, "text");
    json_t *e = json_is_object(kept_meta) ? json_copy((json_t *)kept_meta) : json_object();
    if (!e)
        return NULL;
    int made_keys = !json_is_array(json_object_get(e, "keys"));
    if (made_keys) {
        json_t *keys = card_keywords_in(text ? text : "", CARD_KEYS_MAX, ctx);
        json_object_set_new(e, "keys", keys ? keys : json_array());
    }
    json_object_set_new(e, "content", json_string(text ? text : ""));
    json_t *ext = json_object_get(e, "extensions");
    ext = json_is_object(ext) ? json_copy(ext) : json_object();
    json_t *media = json_object_get(mem, "media_id");
    json_t *source = json_is_string(media) ? json_pack("{s:O,s:O,s:O}", "media_id", media, "start_ms",
                                                       or_null(json_object_get(mem, "start_ms")), "end_ms",
                                                       or_null(json_object_get(mem, "end_ms")))
                                           : NULL;
    const char *kind = json_get_str(mem, "kind");
    json_t *doppel = json_pack("{s:s,s:o}", "kind", kind ? kind : "fact", "source", source ? source : json_null());
    const char *speaker = json_get_str(mem, "speaker"), *dialogue = json_get_str(mem, "dialogue");
    json_t *seq = json_object_get(mem, "seq");
    /* Keys Doppel made are made again on the next export (from the text as it is then); an
     * import drops them. Keys a card's author wrote are kept. */
    if (doppel && made_keys)
        json_object_set_new(doppel, "keys", json_string("made"));
    if (doppel && speaker)
        json_object_set_new(doppel, "speaker", json_string(speaker));
    if (doppel && kind && !strcmp(kind, "utterance")) {
        if (json_is_integer(seq))
            json_object_set(doppel, "seq", seq);
        if (dialogue)
            json_object_set_new(doppel, "dialogue", json_string(dialogue));
    }
    json_object_set_new(ext, "doppel", doppel);
    json_object_set_new(e, "extensions", ext);
    /* V3 asks for these; a kept entry already has its own. */
    if (!json_object_get(e, "enabled"))
        json_object_set_new(e, "enabled", json_true());
    if (!json_object_get(e, "insertion_order"))
        json_object_set_new(e, "insertion_order", json_integer((json_int_t)order));
    if (!json_object_get(e, "use_regex"))
        json_object_set_new(e, "use_regex", json_false());
    if (!json_object_get(e, "constant"))
        json_object_set_new(e, "constant", json_false());
    return e;
}

/* 1 when memory b is the next line of a and answers it: both utterances of one dialogue, b right
 * after a, by another speaker. */
static int answers(const json_t *a, const json_t *b)
{
    const char *ka = json_get_str(a, "kind"), *kb = json_get_str(b, "kind");
    const char *da = json_get_str(a, "dialogue"), *db = json_get_str(b, "dialogue");
    const char *sa = json_get_str(a, "speaker"), *sb = json_get_str(b, "speaker");
    json_t *qa = json_object_get(a, "seq"), *qb = json_object_get(b, "seq");
    return ka && kb && !strcmp(ka, "utterance") && !strcmp(kb, "utterance") && da && db && !strcmp(da, db) && sa &&
           sb && strcmp(sa, sb) && json_is_integer(qa) && json_is_integer(qb) &&
           json_integer_value(qb) == json_integer_value(qa) + 1;
}

/* Example dialogue in the card format's own shape ("<START>\n{{user}}: …\n{{char}}: …"): the
 * exchanges of the avatar's transcripts where someone spoke to the avatar and it answered, in
 * order, up to CARD_EXAMPLES_MAX bytes. NULL when there are none (or out of memory). */
#define CARD_EXAMPLES_MAX 8192
static char *dialogue_examples(const char *name, const json_t *memories)
{
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 1; i < json_array_size(memories); i++) {
        json_t *q = json_array_get(memories, i - 1), *a = json_array_get(memories, i);
        if (!answers(q, a) || dialogue_speaker_is_self(json_get_str(q, "speaker"), name) ||
            !dialogue_speaker_is_self(json_get_str(a, "speaker"), name))
            continue;
        const char *qt = json_get_str(q, "text"), *at = json_get_str(a, "text");
        if (!qt || !at || b.len + strlen(qt) + strlen(at) + 32 > CARD_EXAMPLES_MAX)
            continue;
        if (buf_printf(&b, "%s<START>\n{{user}}: %s\n{{char}}: %s", b.len ? "\n" : "", qt, at)) {
            buf_cleanup(&b);
            return NULL;
        }
    }
    return b.len ? buf_steal(&b, NULL) : (buf_cleanup(&b), NULL);
}

json_t *card_build(const json_t *avatar, const json_t *memories, const json_t *assets, size_t *omitted)
{
    if (omitted)
        *omitted = 0;
    json_t *store = json_object_get(json_object_get(avatar, "extensions"), "card");
    json_t *kept = json_object_get(store, "data");
    json_t *card = json_object(), *data = json_object();
    if (!card || !data) {
        json_decref(card);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(card, "spec", json_string("chara_card_v3"));
    json_object_set_new(card, "spec_version", json_string("3.0"));
    json_object_set_new(card, "data", data);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(store, "top"), k, v)
    {
        if (strcmp(k, "spec") && strcmp(k, "spec_version") && strcmp(k, "data"))
            json_object_set(card, k, v);
    }
    /* Doppel's fields first, then what the import kept, then V3's defaults for what is missing. */
    json_object_set_new(data, "name", str_or_empty(avatar, "name"));
    json_object_set_new(data, "description", str_or_empty(avatar, "description"));
    json_object_set_new(data, "personality", str_or_empty(avatar, "personality"));
    json_object_set_new(data, "scenario", str_or_empty(avatar, "scenario"));
    json_object_set_new(data, "first_mes", str_or_empty(avatar, "greeting"));
    json_object_foreach(kept, k, v)
    {
        if (!is_mapped(k) && strcmp(k, "character_book") && !json_object_get(data, k))
            json_object_set(data, k, v);
    }
    static const char *const empty_strings[] = {"mes_example", "creator_notes", "system_prompt",
                                                "post_history_instructions", "creator", "character_version", NULL};
    static const char *const empty_arrays[] = {"alternate_greetings", "tags", "group_only_greetings", NULL};
    /* Example dialogue from the transcripts, unless the card brought its own (an earlier export's,
     * marked in extensions.doppel, is made again from the memories as they are now). */
    json_t *kept_doppel = json_object_get(json_object_get(kept, "extensions"), "doppel");
    const char *examples = json_get_str(data, "mes_example"), *made_by = json_get_str(kept_doppel, "examples");
    int made_examples = 0;
    if (!examples || !*examples || (made_by && !strcmp(made_by, "memories"))) {
        char *ex = dialogue_examples(json_get_str(avatar, "name"), memories);
        if (ex) {
            json_object_set_new(data, "mes_example", json_string(ex));
            made_examples = 1;
        } else if (examples && *examples) {
            json_object_set_new(data, "mes_example", json_string(""));
        }
        free(ex);
    }
    for (const char *const *f = empty_strings; *f; f++)
        if (!json_object_get(data, *f))
            json_object_set_new(data, *f, json_string(""));
    for (const char *const *f = empty_arrays; *f; f++)
        if (!json_object_get(data, *f))
            json_object_set_new(data, *f, json_array());
    json_t *ext = json_object_get(data, "extensions");
    ext = json_is_object(ext) ? json_copy(ext) : json_object();
    json_t *doppel = json_object_get(ext, "doppel");
    doppel = json_is_object(doppel) ? json_copy(doppel) : json_object();
    json_object_set_new(doppel, "kind", str_or_empty(avatar, "kind"));
    json_object_set_new(doppel, "brain", str_or_empty(avatar, "brain"));
    if (made_examples)
        json_object_set_new(doppel, "examples", json_string("memories"));
    else
        json_object_del(doppel, "examples");
    json_object_set_new(ext, "doppel", doppel);
    json_object_set_new(data, "extensions", ext);
    if (assets && json_array_size(assets)) {
        json_t *all = json_array();
        json_t *old = json_object_get(data, "assets");
        size_t i;
        json_t *a;
        json_array_foreach(old, i, a) if (!asset_is_embedded(a)) json_array_append(all, a);
        json_array_extend(all, (json_t *)assets);
        json_object_set_new(data, "assets", all);
    }

    json_t *book_kept = json_object_get(store, "book"), *by_id = json_object_get(store, "entries"),
           *aside = json_object_get(store, "kept_entries");
    size_t nmem = json_array_size(memories);
    if (!json_is_object(book_kept) && !nmem && !json_array_size(aside))
        return card;
    json_t *book = json_is_object(book_kept) ? json_copy(book_kept) : json_object();
    json_t *entries = json_array();
    if (!json_object_get(book, "extensions"))
        json_object_set_new(book, "extensions", json_object());
    json_object_set_new(book, "entries", entries);
    json_object_set_new(data, "character_book", book);
    /* Keys are chosen against the whole lorebook: a word few entries hold tells them apart. */
    struct card_key_ctx ctx;
    int have_ctx = !card_key_ctx_init(&ctx, json_get_str(avatar, "name"));
    for (size_t i = 0; have_ctx && i < nmem; i++) {
        const char *t = json_get_str(json_array_get(memories, i), "text");
        if (t && card_key_ctx_add(&ctx, t)) {
            card_key_ctx_cleanup(&ctx);
            have_ctx = 0;
        }
    }
    /* The budget: what is left of CARD_JSON_MAX once the rest of the card is written. */
    size_t used = dumped_size(card) + 64, count = 0;
    for (size_t i = 0; i < nmem + json_array_size(aside); i++) {
        json_t *e;
        if (i < nmem) {
            json_t *m = json_array_get(memories, i);
            const char *mid = json_get_str(m, "id");
            e = memory_entry(m, mid ? json_object_get(by_id, mid) : NULL, i, have_ctx ? &ctx : NULL);
        } else {
            e = json_incref(json_array_get(aside, i - nmem));
        }
        size_t sz = e ? dumped_size(e) + 1 : 0;
        if (!e || count >= CARD_BOOK_MAX || used + sz > CARD_JSON_MAX) {
            json_decref(e);
            if (omitted && i < nmem)
                ++*omitted;
            continue;
        }
        used += sz;
        count++;
        json_array_append_new(entries, e);
    }
    if (have_ctx)
        card_key_ctx_cleanup(&ctx);
    return card;
}

/* ---- keywords ----
 *
 * The keys of an exported entry are what a reader's lorebook scanner matches to bring the entry up,
 * so they must name what the memory is about: proper names first ("Lisbon", "Eddie"), then content
 * words that are rare in this avatar's lorebook (a word every entry holds would trigger them all).
 * Never function words, the avatar's own name (every entry is about it), words of address
 * ("grandpa", "honey"), chat-app names that transcripts mention ("WhatsApp"), booleans or numbers.
 * Inflections count as one word ("planted", "plants" → the shortest form seen), compared through
 * text_word_key, the same folding search uses. */

static const char *const never_keys[] = {
    /* function and filler words besides the toolkit's stop words (core/text.c) */
    "above", "again", "against", "also", "always", "among", "another", "anything", "around", "because", "being",
    "below", "between", "both", "cannot", "char", "doing", "down", "during", "each", "either",
    "else", "even", "ever", "every", "further", "having", "here", "hers", "herself", "himself", "into", "itself",
    "like", "made", "make", "many", "might", "more", "most", "much", "must", "myself", "never", "often", "once",
    "only", "other", "ours", "ourselves", "over", "own", "same", "should", "since", "something", "still", "such",
    "these", "those", "though", "through", "thus", "till", "together", "under", "until", "upon", "user", "want",
    "wants", "well", "while", "whom", "whose", "within", "without", "yours", "yourself", "yourselves",
    "went", "said", "says", "know", "knows", "quite", "shall", "onto", "not", "no", "yes", "yeah", "yep", "nope",
    "okay", "ok", "oh", "ah", "hmm", "haha", "lol", "too", "now", "one", "got", "get", "gets", "getting", "going",
    "gonna", "come", "came", "coming", "tell", "told", "think", "thought", "figure", "figured", "guess", "mean",
    "meant", "maybe", "sure", "right", "look", "looked", "looking", "thing", "things", "stuff", "lot", "lots",
    "good", "great", "nice", "little", "big", "pretty", "kind", "sort", "way", "time", "times", "day", "today",
    "need", "feel", "felt", "seem", "seems", "let", "lets", "put", "take", "took", "give", "gave", "see", "saw",
    "seen", "try", "tried", "use", "used", "just", "really", "very", "back", "still", "anyway", "though", "thanks",
    "thank", "please", "hello", "hey", "hi", "bye", "out", "off", "yet", "ago", "via", "per", "etc", "did", "anyone",
    "someone", "everyone", "nobody", "anybody", "somebody", "everybody", "nothing", "everything", "done", "doing",
    /* booleans and empties */
    "true", "false", "null", "none", "nil", "undefined",
    /* words of address: they name the listener, not the topic */
    "grandpa", "grandma", "granddad", "grandad", "grandmother", "grandfather", "granny", "gran", "nana", "nan",
    "papa", "mama", "mom", "mum", "mommy", "mummy", "dad", "daddy", "honey", "dear", "darling", "sweetie",
    "sweetheart", "love", "buddy", "mate", "pal", "sir", "madam", "ma'am", "guys", "folks", "everyone",
    /* chat applications named by transcripts and their system lines */
    "whatsapp", "telegram", "signal", "messenger", "imessage", "facebook", "instagram", "discord", "slack",
    "wechat", "viber", "skype", "sms", "mms", "omitted", "media", "message", "messages", "deleted", "encrypted",
    NULL};

static int never_key(const unsigned char *w, size_t n)
{
    char low[24];
    if (text_is_stop(w, n))
        return 1;
    if (n >= sizeof low)
        return 0;
    low[text_fold_word(w, n, low, sizeof low - 1)] = 0;
    for (const char *const *s = never_keys; *s; s++)
        if (!strcmp(*s, low))
            return 1;
    return 0;
}

/* 1 when w has no letter (a number, a date, a time). */
static int no_letter(const unsigned char *w, size_t n)
{
    for (size_t i = 0, l; i < n; i += l) {
        if (text_is_letter(utf8_get(w + i, &l)))
            return 0;
    }
    return 1;
}

struct kw {
    char key[TEXT_KEY_MAX + 1]; /* text_word_key, NUL-terminated */
    const char *p;               /* its shortest surface form in the text */
    size_t n;
    int count, capital_mid, lower, first;
};

/* The distinct candidate words of text (at most max), in order of appearance. */
static int kw_scan(const char *text, struct kw *out, int max, const struct card_key_ctx *ctx)
{
    enum { SCAN_BYTES = 8192 };
    size_t len = strnlen(text, SCAN_BYTES);
    /* End the window on a character boundary (text is UTF-8). */
    if (len == SCAN_BYTES)
        len = utf8_cut(text, len);
    char *copy = strndup(text, len);
    if (!copy)
        return 0;
    int nw = 0, sentence_start = 1;
    const unsigned char *p = (const unsigned char *)copy, *start;
    size_t n;
    while ((n = text_next_word(&p, &start))) {
        /* Sentence ends between the previous word and this one decide whether a capital means a name. */
        for (const unsigned char *b = start; b > (const unsigned char *)copy; b--) {
            unsigned char c = b[-1];
            if (c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '"') {
                sentence_start = 1;
                break;
            }
            if (c != ' ' && c != '\t' && c != '\r' && c != '(' && c != '\'' && c != '*')
                break;
        }
        size_t l;
        unsigned first_cp = utf8_get(start, &l);
        int upper = text_is_upper(first_cp), at_start = sentence_start;
        sentence_start = 0;
        size_t cps = 0;
        for (size_t i = 0; i < n; i += l, cps++)
            utf8_get(start + i, &l);
        if (cps < 3 || n > 40 || no_letter(start, n) || never_key(start, n))
            continue;
        char key[TEXT_KEY_MAX + 1];
        size_t kl = text_word_key(start, n, key);
        key[kl] = 0;
        if (ctx && ctx->exclude && json_object_get(ctx->exclude, key))
            continue;
        int at = -1;
        for (int k = 0; k < nw && at < 0; k++)
            if (!strcmp(out[k].key, key))
                at = k;
        if (at < 0) {
            if (nw == max)
                continue;
            at = nw++;
            memset(&out[at], 0, sizeof out[at]);
            memcpy(out[at].key, key, kl + 1);
            out[at].p = text + (start - (const unsigned char *)copy);
            out[at].n = n;
            out[at].first = at;
        } else if (n < out[at].n) {
            out[at].p = text + (start - (const unsigned char *)copy);
            out[at].n = n;
        }
        out[at].count++;
        if (upper && !at_start)
            out[at].capital_mid = 1;
        if (!upper)
            out[at].lower = 1;
    }
    free(copy);
    return nw;
}

static double kw_score(const struct kw *w, const struct card_key_ctx *ctx)
{
    /* A capital mid-sentence and never lower case: a name. Capitalised only at sentence starts:
     * perhaps a name ("Margaret grew tomatoes."). */
    double s = w->lower ? 0 : w->capital_mid ? 3 : 1.5;
    if (ctx && ctx->ndocs > 1) {
        json_t *df = json_object_get(ctx->df, w->key);
        double d = df ? (double)json_integer_value(df) : 1;
        s += log(((double)ctx->ndocs + 1) / (d + 0.5));
    } else {
        s += 1;
    }
    s += 0.5 * log(1 + w->count) + 0.05 * (double)(w->n > 12 ? 12 : w->n);
    return s;
}

int card_key_ctx_add(struct card_key_ctx *ctx, const char *text)
{
    struct kw words[256];
    int nw = kw_scan(text, words, 256, ctx);
    for (int i = 0; i < nw; i++) {
        json_t *v = json_object_get(ctx->df, words[i].key);
        if (json_object_set_new(ctx->df, words[i].key, json_integer(v ? json_integer_value(v) + 1 : 1)))
            return DP_ERR_NOMEM;
    }
    ctx->ndocs++;
    return DP_OK;
}

int card_key_ctx_init(struct card_key_ctx *ctx, const char *avatar_name)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->df = json_object();
    ctx->exclude = json_object();
    if (!ctx->df || !ctx->exclude) {
        card_key_ctx_cleanup(ctx);
        return DP_ERR_NOMEM;
    }
    const unsigned char *p = (const unsigned char *)(avatar_name ? avatar_name : ""), *start;
    size_t n;
    while ((n = text_next_word(&p, &start))) {
        char key[TEXT_KEY_MAX + 1];
        size_t kl = text_word_key(start, n, key);
        key[kl] = 0;
        json_object_set_new(ctx->exclude, key, json_true());
    }
    return DP_OK;
}

void card_key_ctx_cleanup(struct card_key_ctx *ctx)
{
    json_decref(ctx->df);
    json_decref(ctx->exclude);
    memset(ctx, 0, sizeof *ctx);
}

json_t *card_keywords_in(const char *text, size_t max, const struct card_key_ctx *ctx)
{
    enum { MAX_WORDS = 256 };
    struct kw *words = malloc(MAX_WORDS * sizeof *words);
    json_t *keys = json_array();
    if (!words || !keys) {
        free(words);
        json_decref(keys);
        return NULL;
    }
    int nw = kw_scan(text, words, MAX_WORDS, ctx);
    double score[MAX_WORDS];
    for (int k = 0; k < nw; k++)
        score[k] = kw_score(&words[k], ctx);
    while (json_array_size(keys) < max) {
        int best = -1;
        for (int k = 0; k < nw; k++)
            if (words[k].count > 0 && (best < 0 || score[k] > score[best] + 1e-9))
                best = k;
        if (best < 0)
            break;
        /* A word most of a large lorebook holds would bring up every entry: not a key. */
        json_t *df = ctx ? json_object_get(ctx->df, words[best].key) : NULL;
        int common = ctx && ctx->ndocs >= 10 && df && (size_t)json_integer_value(df) * 2 > ctx->ndocs &&
                     !words[best].capital_mid;
        words[best].count = 0;
        if (common)
            continue;
        char w[41];
        /* Names keep their case; other words are matched case-insensitively anyway. */
        if (words[best].lower)
            w[text_lower_word((const unsigned char *)words[best].p, words[best].n, w, sizeof w - 1)] = 0;
        else {
            memcpy(w, words[best].p, words[best].n);
            w[words[best].n] = 0;
        }
        json_array_append_new(keys, json_string(w));
    }
    free(words);
    return keys;
}

json_t *card_keywords(const char *text, size_t max)
{
    return card_keywords_in(text, max, NULL);
}
