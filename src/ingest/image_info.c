/* Image header parsing: PNG IHDR, JPEG SOFn, GIF screen descriptor, WebP VP8/VP8L/VP8X. */
#include "ingest/image_info.h"

#include <string.h>

#include "core/err.h"

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int png(const uint8_t *p, size_t n, struct image_info *out)
{
    /* signature (8), then the first chunk: length (4) = 13, "IHDR", width, height, depth, colour
     * type, compression, filter, interlace. */
    if (n < 8 + 8 + 13 || be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0)
        return DP_ERR_INVALID;
    uint32_t w = be32(p + 16), h = be32(p + 20);
    if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
        return DP_ERR_INVALID;
    out->width = w;
    out->height = h;
    return DP_OK;
}

static int jpeg(const uint8_t *p, size_t n, struct image_info *out)
{
    size_t i = 2; /* after SOI */
    for (;;) {
        /* A marker: 0xFF, any number of 0xFF fill bytes, then the code. */
        if (i >= n || p[i] != 0xff)
            return DP_ERR_INVALID;
        while (i < n && p[i] == 0xff)
            i++;
        if (i >= n)
            return DP_ERR_INVALID;
        uint8_t m = p[i++];
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
            continue; /* TEM, RSTn: no length */
        if (m == 0xd8 || m == 0xd9 || m == 0xda || m == 0x00)
            return DP_ERR_INVALID; /* SOI again, EOI or scan data before any frame header */
        if (i + 2 > n)
            return DP_ERR_INVALID;
        size_t len = be16(p + i);
        if (len < 2 || len > n - i)
            return DP_ERR_INVALID;
        int sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
        if (sof) {
            /* length (2), precision (1), height (2), width (2), components (1) … */
            if (len < 8)
                return DP_ERR_INVALID;
            uint32_t h = be16(p + i + 3), w = be16(p + i + 5);
            if (w == 0 || h == 0) /* a height defined later by DNL is not supported */
                return DP_ERR_INVALID;
            out->width = w;
            out->height = h;
            return DP_OK;
        }
        i += len;
    }
}

static int gif(const uint8_t *p, size_t n, struct image_info *out)
{
    /* "GIF87a"/"GIF89a", then the logical screen descriptor (7 bytes). */
    if (n < 13 || (memcmp(p + 3, "87a", 3) != 0 && memcmp(p + 3, "89a", 3) != 0))
        return DP_ERR_INVALID;
    uint32_t w = le16(p + 6), h = le16(p + 8);
    if (w == 0 || h == 0)
        return DP_ERR_INVALID;
    out->width = w;
    out->height = h;
    return DP_OK;
}

static int webp(const uint8_t *p, size_t n, struct image_info *out)
{
    /* "RIFF", size, "WEBP", then the first chunk: fourcc, size, payload from offset 20. */
    if (n < 20 || memcmp(p + 8, "WEBP", 4) != 0)
        return DP_ERR_INVALID;
    uint32_t riff = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    if (riff < 4 + 8)
        return DP_ERR_INVALID;
    const uint8_t *c = p + 12, *d = p + 20;
    uint32_t w, h;
    if (memcmp(c, "VP8 ", 4) == 0) {
        /* frame tag (3 bytes; bit 0 clear = key frame), start code 9d 01 2a, 14-bit sizes. */
        if (n < 30 || (d[0] & 1) || d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a)
            return DP_ERR_INVALID;
        w = le16(d + 6) & 0x3fff;
        h = le16(d + 8) & 0x3fff;
    } else if (memcmp(c, "VP8L", 4) == 0) {
        /* signature 0x2f, then 14 bits width-1, 14 bits height-1 (little-endian bit order). */
        if (n < 25 || d[0] != 0x2f)
            return DP_ERR_INVALID;
        uint32_t bits = (uint32_t)d[1] | (uint32_t)d[2] << 8 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 24;
        w = (bits & 0x3fff) + 1;
        h = ((bits >> 14) & 0x3fff) + 1;
        if (bits >> 29) /* version must be 0 */
            return DP_ERR_INVALID;
    } else if (memcmp(c, "VP8X", 4) == 0) {
        /* flags (1), reserved (3), canvas width-1 (24 bits), canvas height-1 (24 bits). */
        if (n < 30)
            return DP_ERR_INVALID;
        w = le24(d + 4) + 1;
        h = le24(d + 7) + 1;
    } else {
        return DP_ERR_INVALID;
    }
    if (w == 0 || h == 0)
        return DP_ERR_INVALID;
    out->width = w;
    out->height = h;
    return DP_OK;
}

int image_info(const uint8_t *p, size_t n, struct image_info *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return DP_ERR_INVALID;
    int rc = DP_ERR_INVALID;
    enum image_format f = IMAGE_UNKNOWN;
    const char *mime = NULL;
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        f = IMAGE_PNG, mime = "image/png", rc = png(p, n, out);
    else if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        f = IMAGE_JPEG, mime = "image/jpeg", rc = jpeg(p, n, out);
    else if (n >= 6 && memcmp(p, "GIF8", 4) == 0)
        f = IMAGE_GIF, mime = "image/gif", rc = gif(p, n, out);
    else if (n >= 12 && memcmp(p, "RIFF", 4) == 0)
        f = IMAGE_WEBP, mime = "image/webp", rc = webp(p, n, out);
    if (rc) {
        memset(out, 0, sizeof *out);
        return DP_ERR_INVALID;
    }
    out->format = f;
    out->mime = mime;
    return DP_OK;
}
