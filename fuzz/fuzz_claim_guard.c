/* libFuzzer target: the legacy guard's judge over a model's reply (outside data: whatever a model
 * says). The input is "reply\0memory". Checks that the sentence it names is a piece of the reply
 * and fits the room given, and that the judgement does not depend on the room. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brain/claim_guard.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 2);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = in[size + 1] = 0;
    const char *reply = in, *memory = in + strlen(in) + (strlen(in) < size ? 1 : 0);
    if (!utf8_valid(reply, strlen(reply)) || !utf8_valid(memory, strlen(memory))) {
        free(in); /* the brain hands the judge valid UTF-8 only */
        return 0;
    }
    char said[200], small[4];
    int a = claim_guard_unsupported(reply, &memory, 1, said, sizeof said);
    int b = claim_guard_unsupported(reply, &memory, 1, small, sizeof small);
    if (a != b || strlen(said) >= sizeof said || strlen(small) >= sizeof small || (a && !*said) || (!a && *said))
        abort();
    if (a && strlen(said) < sizeof said - 1 && !strstr(reply, said))
        abort();
    free(in);
    return 0;
}
