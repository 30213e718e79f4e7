/* The OpenAI-compatible stream, one SSE line at a time: content pieces in order, usage and the
 * finish reason kept, [DONE] seen, an error chunk reported, anything else skipped. */
#include <string.h>

#include "core/buf.h"
#include "providers/llm.h"
#include "../test.h"

static int collect(void *ctx, const char *text, size_t len)
{
    return buf_append(ctx, text, len) != 0;
}

#define LINE(p, s, b) llm_openai_line(p, s, strlen(s), collect, b)

TEST(llm_stream_chunks_usage_done)
{
    struct llm_result res = {.prompt_tokens = -1, .completion_tokens = -1};
    struct llm_openai_parse p = {0, 0, "", &res};
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(LINE(&p, ": keep-alive", &b), 0);
    CHECK_EQ_INT(LINE(&p, "", &b), 0);
    LINE(&p, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}", &b);
    LINE(&p, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}", &b);
    LINE(&p, "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\"}}]}", &b);
    LINE(&p, "event: message", &b);
    LINE(&p, "data: not json", &b);
    LINE(&p, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}", &b);
    LINE(&p, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}", &b);
    CHECK_EQ_INT(p.done, 0);
    LINE(&p, "data: [DONE]", &b);
    CHECK_EQ_INT(p.done, 1);
    CHECK_EQ_INT(p.failed, 0);
    buf_append(&b, "", 0);
    CHECK_EQ_STR(b.data, "Hello \xc3\xa9");
    CHECK_EQ_INT((int)res.deltas, 2);
    CHECK_EQ_STR(res.finish_reason, "length");
    CHECK_EQ_INT((int)res.prompt_tokens, 12);
    CHECK_EQ_INT((int)res.completion_tokens, 3);
    buf_cleanup(&b);
}

TEST(llm_stream_error_chunk)
{
    struct llm_result res = {0};
    struct llm_openai_parse p = {0, 0, "", &res};
    const char *line = "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
    CHECK_EQ_INT(llm_openai_line(&p, line, strlen(line), NULL, NULL), 0);
    CHECK_EQ_INT(p.failed, 1);
    CHECK_EQ_STR(p.error, "overloaded");
}
