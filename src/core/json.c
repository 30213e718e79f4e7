/* Strict JSON body parsing and small jansson helpers. */
#include "core/json.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* Nesting depth of a JSON text, ignoring brackets inside strings; stops once past limit. */
static int json_depth_exceeds(const char *p, size_t n, int limit)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > limit)
                return 1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

int json_parse_body(const char *p, size_t n, size_t max, json_t **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (n > max) {
        snprintf(msg, msglen, "the body is larger than %zu bytes", max);
        return DP_ERR_TOO_LARGE;
    }
    if (n == 0) {
        snprintf(msg, msglen, "a JSON body is required");
        return DP_ERR_BAD_JSON;
    }
    if (json_depth_exceeds(p, n, JSON_MAX_DEPTH)) {
        snprintf(msg, msglen, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        return DP_ERR_BAD_JSON;
    }
    json_error_t jerr;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL * 0, &jerr);
    if (!v) {
        snprintf(msg, msglen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return DP_ERR_BAD_JSON;
    }
    *out = v;
    return DP_OK;
}

char *json_dump_compact(const json_t *v, size_t *len)
{
    /* jansson's default (17 significant digits) round-trips every double exactly; fewer digits
     * would print 0.9 prettily but change timestamps and other precise values. */
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && len)
        *len = strlen(s);
    return s;
}

char *json_dump_display(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (s && len)
        *len = strlen(s);
    return s;
}

const char *json_get_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
