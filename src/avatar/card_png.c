/* Character Cards in PNG: the card in a tEXt chunk ("chara" V2, "ccv3" V3), found and written. */
#include <sodium.h>
#include <string.h>
#include <zlib.h>

#include "avatar/card.h"
#include "avatar/card_impl.h"
#include "core/buf.h"
#include "core/err.h"

int card_png_scan(const void *p, size_t n, struct card_png_text *out, char *msg, size_t msglen)
{
    const unsigned char *q = p;
    memset(out, 0, sizeof *out);
    if (n < 8 || memcmp(q, card_png_sig, 8))
        return card_fail(msg, msglen, DP_ERR_INVALID, "not a PNG file (bad signature)");
    size_t at = 8;
    for (int first = 1;; first = 0) {
        if (n - at < 12)
            return card_fail(msg, msglen, DP_ERR_INVALID, "the PNG is truncated (no IEND chunk; it ends at byte %zu)",
                             n);
        uint32_t len = card_rd32be(q + at);
        const unsigned char *type = q + at + 4, *data = q + at + 8;
        if (len > 0x7fffffffu)
            return card_fail(msg, msglen, DP_ERR_INVALID, "bad PNG chunk length %u at byte %zu", len, at);
        if (len > n - at - 12)
            return card_fail(msg, msglen, DP_ERR_INVALID,
                             "the PNG is truncated (a %u-byte chunk at byte %zu runs past the end)", len, at);
        for (int i = 0; i < 4; i++)
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
                return card_fail(msg, msglen, DP_ERR_INVALID, "bad PNG chunk type at byte %zu", at);
        if (first && memcmp(type, "IHDR", 4))
            return card_fail(msg, msglen, DP_ERR_INVALID, "the PNG does not start with an IHDR chunk");
        if (card_crc32(0, type, 4 + (size_t)len) != card_rd32be(data + len))
            return card_fail(msg, msglen, DP_ERR_INVALID, "bad CRC in the PNG's %.4s chunk at byte %zu",
                             (const char *)type, at);
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
    card_wr32be(hdr, (uint32_t)(n1 + n2));
    memcpy(hdr + 4, type, 4);
    uint32_t c = card_crc32(0, type, 4);
    c = card_crc32(c, d1, n1);
    c = card_crc32(c, d2, n2);
    card_wr32be(crc, c);
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
    err = b3 && b2 ? buf_append(&b, card_png_sig, 8) : DP_ERR_NOMEM;
    const unsigned char *q = png;
    for (size_t at = 8; !err && at < n;) {
        uint32_t len = card_rd32be(q + at);
        const unsigned char *type = q + at + 4, *data = q + at + 8;
        int is_card_text = !memcmp(type, "tEXt", 4) &&
                           ((len >= 6 && !memcmp(data, "chara", 6)) || (len >= 5 && !memcmp(data, "ccv3", 5)));
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
    const unsigned char row[2] = {0, 0x80};                           /* filter none, mid grey */
    unsigned char z[64];
    uLongf zlen = sizeof z;
    if (compress(z, &zlen, row, sizeof row) != Z_OK)
        return DP_ERR_INTERNAL;
    struct buf b;
    buf_init(&b, 0);
    int err = buf_append(&b, card_png_sig, 8);
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
int card_png_text_decode(const char *t, size_t n, const char *which, char **out, size_t *out_len, char *msg,
                         size_t msglen)
{
    /* Base64 of CARD_JSON_MAX bytes, with room for line breaks. */
    const size_t b64_max = (CARD_JSON_MAX / 3 + 1) * 4 + CARD_JSON_MAX / 16;
    if (n > b64_max)
        return card_fail(msg, msglen, DP_ERR_TOO_LARGE, "the PNG's %s chunk holds more than %u bytes of card", which,
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
        return card_fail(msg, msglen, DP_ERR_INVALID, "the PNG's %s chunk is not valid base64", which);
    }
    bin[len] = 0;
    *out = bin;
    *out_len = len;
    return DP_OK;
}
