/* libFuzzer target: an embeddings provider's answer (embed_openai_answer). The input is one byte
 * of input count, then the JSON. Checks that an accepted answer gives n unit-length rows. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "providers/embed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int n = 1 + data[0] % EMBED_BATCH_MAX;
    json_t *answer = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    float *v = NULL;
    int dims = 0;
    char why[200];
    int err = embed_openai_answer(200, answer, n, &v, &dims, why, sizeof why);
    if (err == DP_OK) {
        if (!v || dims < 1 || dims > EMBED_DIMS_MAX)
            abort();
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j < dims; j++)
                sum += (double)v[(size_t)i * dims + j] * v[(size_t)i * dims + j];
            if (sum != 0 && fabs(sum - 1) > 1e-3 && isfinite(sum))
                abort();
        }
    } else if (v) {
        abort();
    }
    free(v);
    json_decref(answer);
    return 0;
}
