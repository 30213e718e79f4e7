/* Descriptions and stable codes of the dp_err enum. */
#include "core/err.h"

static const struct {
    const char *code;
    const char *text;
} err_table[DP_ERR__COUNT] = {
    [DP_OK] = {"ok", "success"},
    [DP_ERR_NOMEM] = {"out_of_memory", "out of memory"},
    [DP_ERR_INVALID] = {"invalid_input", "invalid input"},
    [DP_ERR_NOT_FOUND] = {"not_found", "not found"},
    [DP_ERR_CONFLICT] = {"conflict", "conflict with the current state"},
    [DP_ERR_TOO_LARGE] = {"too_large", "too large"},
    [DP_ERR_UNSUPPORTED] = {"unsupported_media_type", "unsupported media type"},
    [DP_ERR_UNPROCESSABLE] = {"unprocessable", "semantically invalid"},
    [DP_ERR_UNAUTHORIZED] = {"unauthenticated", "authentication required"},
    [DP_ERR_FORBIDDEN] = {"forbidden", "not allowed"},
    [DP_ERR_RATE_LIMITED] = {"rate_limited", "too many requests"},
    [DP_ERR_UNAVAILABLE] = {"unavailable", "a dependency is unavailable"},
    [DP_ERR_IO] = {"io_error", "input/output error"},
    [DP_ERR_DB] = {"database_error", "database error"},
    [DP_ERR_NOT_IMPLEMENTED] = {"not_implemented", "not implemented yet"},
    [DP_ERR_TIMEOUT] = {"timeout", "deadline exceeded"},
    [DP_ERR_INTERNAL] = {"internal_error", "internal error"},
    [DP_ERR_BAD_JSON] = {"invalid_json", "the body is not valid JSON"},
    [DP_ERR_CANCELLED] = {"cancelled", "cancelled"},
    [DP_ERR_WOULDBLOCK] = {"internal_error", "would block"},
    [DP_ERR_QUOTA] = {"quota_exceeded", "quota exceeded"},
};

const char *dp_strerror(int err)
{
    if (err < 0 || err >= DP_ERR__COUNT || !err_table[err].text)
        return "unknown error";
    return err_table[err].text;
}

const char *dp_errcode(int err)
{
    if (err < 0 || err >= DP_ERR__COUNT || !err_table[err].code)
        return "internal_error";
    return err_table[err].code;
}
