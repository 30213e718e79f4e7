/* libFuzzer target: image_info() on arbitrary bytes. It must stay within the buffer (ASan checks),
 * and what it accepts must have a size, a type, and survive any extra trailing bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ingest/image_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_info a, b;
    int rc = image_info(data, size, &a);
    if (rc != DP_OK) {
        if (rc != DP_ERR_INVALID || a.width || a.height || a.format != IMAGE_UNKNOWN)
            abort();
        return 0;
    }
    if (!a.width || !a.height || !a.mime || a.format == IMAGE_UNKNOWN)
        abort();
    /* The same header followed by more bytes reads the same. */
    uint8_t *more = malloc(size + 16);
    if (!more)
        return 0;
    memcpy(more, data, size);
    memset(more + size, 0xff, 16);
    if (image_info(more, size + 16, &b) != DP_OK || b.width != a.width || b.height != a.height || b.format != a.format)
        abort();
    free(more);
    return 0;
}
