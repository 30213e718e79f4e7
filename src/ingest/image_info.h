/* Image dimensions from file headers (PNG, JPEG, GIF, WebP) without decoding any pixels. */
#ifndef DP_INGEST_IMAGE_INFO_H
#define DP_INGEST_IMAGE_INFO_H

#include <stddef.h>
#include <stdint.h>

enum image_format { IMAGE_UNKNOWN = 0, IMAGE_PNG, IMAGE_JPEG, IMAGE_GIF, IMAGE_WEBP };

struct image_info {
    enum image_format format;
    const char *mime; /* static string: "image/png" … */
    uint32_t width;   /* pixels, > 0 */
    uint32_t height;  /* pixels, > 0 */
};

/* Reads the format and size of the image in p[0..n) (a prefix of the file is enough: PNG 29
 * bytes, GIF 13, WebP 30, JPEG up to its frame header). Every read is bounds-checked and the
 * pixels are never touched, so any bytes are safe to pass.
 *   PNG   the IHDR chunk, which must come first
 *   JPEG  the first SOFn frame header, walking the marker segments before it
 *   GIF   the logical screen descriptor
 *   WebP  the VP8 (lossy) key frame, VP8L (lossless) or VP8X (extended) header
 * Returns DP_OK and fills *out, or DP_ERR_INVALID (*out zeroed) for anything else: another
 * format, a truncated or inconsistent header, a zero width or height. */
int image_info(const uint8_t *p, size_t n, struct image_info *out);

#endif
