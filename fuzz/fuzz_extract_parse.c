/* libFuzzer target: a language model's answer to the memory extraction prompt (brain/extract.h
 * extract_parse): strict JSON, repaired JSON, or a list of lines. Checks that what is accepted is a
 * non-empty list of at most EXTRACT_FACTS_MAX facts, each a non-empty text of at most
 * EXTRACT_FACT_MAX bytes with an importance in [0, 1]; and that the trait evidence read from it
 * (extract_parse_traits) names only known traits, with a score in [0, 1] and evidence of at most
 * EXTRACT_EVIDENCE_MAX bytes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brain/extract.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *facts = NULL;
    int how = -1;
    int err = extract_parse((const char *)data, size, &facts, &how);
    if (err == DP_OK) {
        size_t n = json_array_size(facts);
        if (!n || n > EXTRACT_FACTS_MAX || how < 0 || how > 2)
            abort();
        size_t i;
        json_t *f;
        json_array_foreach (facts, i, f) {
            const char *t = json_string_value(json_object_get(f, "text"));
            double imp = json_number_value(json_object_get(f, "importance"));
            if (!t || !*t || strlen(t) > EXTRACT_FACT_MAX || imp < 0 || imp > 1)
                abort();
        }
    } else if (facts) {
        abort();
    }
    json_decref(facts);
    json_t *traits = extract_parse_traits((const char *)data, size);
    if (!traits || json_array_size(traits) > EXTRACT_TRAITS_MAX)
        abort();
    size_t i;
    json_t *t;
    json_array_foreach (traits, i, t) {
        const char *name = json_string_value(json_object_get(t, "trait"));
        const char *ev = json_string_value(json_object_get(t, "evidence"));
        double v = json_number_value(json_object_get(t, "score"));
        int known = 0;
        for (const char *const *k = extract_trait_names; name && *k; k++)
            known |= !strcmp(*k, name);
        if (!known || !ev || !*ev || strlen(ev) > EXTRACT_EVIDENCE_MAX || v < 0 || v > 1)
            abort();
    }
    json_decref(traits);
    return 0;
}
