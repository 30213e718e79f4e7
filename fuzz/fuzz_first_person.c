/* libFuzzer target: the recall brain's third → first person rewrite (brain/recall_person.c) over
 * memory text from outside (imported biographies, cards, documents). Input: the avatar's name,
 * a NUL byte, then the text. The rewrite must end, stay NUL-terminated within twice the text's
 * length plus a little (each replaced word is at most as long as "Myself"), and change nothing
 * when the text does not name the avatar. Seeds: fuzz/corpus/fuzz_first_person/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brain/recall_person.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul || size > 65536)
        return 0;
    char *name = strndup((const char *)data, (size_t)(nul - data));
    char *text = strndup((const char *)nul + 1, size - (size_t)(nul - data) - 1);
    if (!name || !text)
        abort();
    char *out = recall_first_person(text, name);
    if (out && strlen(out) > strlen(text) * 2 + 8)
        abort();
    free(out);
    free(name);
    free(text);
    return 0;
}
