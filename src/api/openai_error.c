/* OpenAI-shaped errors (see openai_error.h). */
#include "api/openai_error.h"

#include <stdarg.h>
#include <stdio.h>

#include "api/api_util.h"

int openai_error(struct response *res, int err, const char *type, const char *code, const char *param, const char *fmt,
                 ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    res_json(res, http_status_for_err(err),
             json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message", msg, "type", type, "param", param, "code", code));
    return err;
}
