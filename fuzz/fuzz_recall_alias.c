/* libFuzzer target: appositions read out of memory text from outside (brain/recall_alias.c:
 * imported memoirs, documents, chats; stored text is valid UTF-8, checked on the way in). Input:
 * the text, read only when valid UTF-8. Every apposition found must lie inside
 * the text (at < end <= its length) with NUL-terminated noun and name, and its name must be found
 * again in the text it came from. Seeds: fuzz/corpus/fuzz_recall_alias/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brain/recall_alias.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = strndup((const char *)data, size);
    if (!text)
        abort();
    if (!utf8_valid(text, strlen(text))) {
        free(text);
        return 0;
    }
    struct recall_alias a[RECALL_ALIASES];
    int n = recall_aliases(text, a, RECALL_ALIASES);
    size_t len = strlen(text);
    if (n < 0 || n > RECALL_ALIASES)
        abort();
    for (int i = 0; i < n; i++) {
        if (a[i].at >= a[i].end || a[i].end > len || !memchr(a[i].noun, 0, sizeof a[i].noun) ||
            !memchr(a[i].name, 0, sizeof a[i].name))
            abort();
        if (!recall_alias_named(&a[i], text, len))
            abort();
    }
    free(text);
    return 0;
}
