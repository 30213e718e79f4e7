/* JSON helpers over jansson for outside input: duplicate keys rejected, depth and size capped. */
#ifndef DP_JSON_H
#define DP_JSON_H

#include <jansson.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 32 /* deeper documents are refused before parsing */

/* Parses a request body. Rejects: empty or over max bytes (DP_ERR_TOO_LARGE), nesting deeper
 * than JSON_MAX_DEPTH, duplicate object keys, invalid UTF-8, trailing garbage (DP_ERR_BAD_JSON).
 * On error msg (size msglen) says what and where. *out is owned by the caller (json_decref). */
int json_parse_body(const char *p, size_t n, size_t max, json_t **out, char *msg, size_t msglen);

/* Serialises v compactly; caller frees. NULL on allocation failure. */
char *json_dump_compact(const json_t *v, size_t *len);

/* Serialises v compactly with numbers at 15 significant digits, for documents whose reals are
 * rounded for display (0.469 prints as 0.469, not 0.46899999999999997); caller frees. */
char *json_dump_display(const json_t *v, size_t *len);

/* Field readers for validated objects: NULL/-1 when absent or of another type. */
const char *json_get_str(const json_t *obj, const char *key);

#endif
