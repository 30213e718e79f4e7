/* Private to the card files (card.c: normalisation, import, export; card_png.c; card_zip.c;
 * card_keys.c): byte order, CRC and the error helper they share. */
#ifndef DP_CARD_IMPL_H
#define DP_CARD_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Sets msg and returns err. */
int card_fail(char *msg, size_t msglen, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline uint32_t card_rd32be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t card_rd16le(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t card_rd32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void card_wr32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void card_wr16le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void card_wr32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* zlib's crc32 over any length (it takes a uInt: fed in pieces). */
uint32_t card_crc32(uint32_t crc, const void *p, size_t n);

/* The PNG signature. */
extern const unsigned char card_png_sig[8];

/* Decodes a PNG text chunk's card (base64 JSON) named which; see card_png.c. */
int card_png_text_decode(const char *t, size_t n, const char *which, char **out, size_t *out_len, char *msg,
                         size_t msglen);

#endif
