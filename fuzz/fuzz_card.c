/* libFuzzer target: the Character Card import parser (format detection, PNG chunks and base64,
 * zip directory and inflate, JSON, V1/V2→V3 normalisation, lorebook). What parses must survive an
 * export and a second import with the same fields and memories. Seeds: fuzz/corpus/fuzz_card/
 * (written by tests/fixtures/cards/cardlib.mjs --seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avatar/card.h"
#include "core/err.h"

static int same(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct card_import a, b;
    char msg[256];
    if (card_import_parse(data, size, &a, msg, sizeof msg))
        return 0;
    json_t *avatar = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "name", a.name, "kind", a.kind, "brain", a.brain,
                               "description", a.description, "personality", a.personality, "scenario", a.scenario,
                               "greeting", a.greeting, "extensions", a.extensions);
    json_t *mems = json_array();
    for (size_t i = 0; i < a.nmemories; i++)
        json_array_append_new(mems, json_pack("{s:s,s:s,s:s}", "id", a.memories[i].id, "kind", a.memories[i].kind,
                                              "text", a.memories[i].text));
    size_t omitted = 0, len = 0;
    json_t *card = card_build(avatar, mems, NULL, &omitted);
    char *text = card ? card_dump(card, &len) : NULL;
    if (!text)
        abort();
    int err = card_import_parse(text, len, &b, msg, sizeof msg);
    /* A V1 card's fields move one level down (into data), which may pass the depth cap. */
    if (err == DP_ERR_BAD_JSON && a.spec == 1)
        goto out;
    if (err == DP_ERR_TOO_LARGE && len > CARD_JSON_MAX)
        goto out;
    if (err)
        abort();
    if (!same(a.name, b.name) || !same(a.description, b.description) || !same(a.personality, b.personality) ||
        !same(a.scenario, b.scenario) || !same(a.greeting, b.greeting) || !same(a.kind, b.kind) ||
        !same(a.brain, b.brain) || a.kept_aside != b.kept_aside || b.nmemories + omitted != a.nmemories)
        abort();
    for (size_t i = 0; !omitted && i < a.nmemories; i++)
        if (!same(a.memories[i].text, b.memories[i].text) || !same(a.memories[i].kind, b.memories[i].kind))
            abort();
    card_import_cleanup(&b);
out:
    free(text);
    json_decref(card);
    json_decref(mems);
    json_decref(avatar);
    card_import_cleanup(&a);
    return 0;
}
