/* Errors of the OpenAI-compatible facade in OpenAI's shape {error:{message, type, param, code}},
 * so that SDKs raise their own exception types. */
#ifndef DP_API_OPENAI_ERROR_H
#define DP_API_OPENAI_ERROR_H

struct response;

/* Answers the status err stands for with OpenAI's error shape; returns err so that handlers can
 * `return openai_error(…)`. param may be NULL. */
int openai_error(struct response *res, int err, const char *type, const char *code, const char *param, const char *fmt,
                 ...) __attribute__((format(printf, 6, 7)));

/* The OpenAPI answers of a facade route that fails in OpenAI's shape. */
#define OPENAI_ERRORS                                                                                                                    \
    "\"400\": {\"description\": \"invalid request\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}, "              \
    "\"401\": {\"description\": \"no valid token\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}, "               \
    "\"404\": {\"description\": \"no such model\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}, "                \
    "\"429\": {\"description\": \"rate limited\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}, "                 \
    "\"500\": {\"description\": \"failure\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}, "                      \
    "\"501\": {\"description\": \"the brain cannot answer here\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}, " \
    "\"503\": {\"description\": \"a dependency is down\", \"content\": {\"application/json\": {\"schema\": \"OpenAIError\"}}}"
#endif
