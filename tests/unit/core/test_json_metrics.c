/* Unit tests of the strict JSON body reader and the metrics registry. */
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "core/err.h"
#include "core/json.h"
#include "core/metrics.h"

static int parse(const char *s, size_t max)
{
    json_t *v;
    char msg[256];
    int err = json_parse_body(s, strlen(s), max, &v, msg, sizeof msg);
    if (!err)
        json_decref(v);
    return err;
}

TEST(json_body_accepts_and_rejects)
{
    CHECK_EQ_INT(parse("{\"a\":1,\"b\":[1,2,{\"c\":\"\\u00e9\"}]}", 1024), DP_OK);
    CHECK_EQ_INT(parse("", 1024), DP_ERR_BAD_JSON);
    CHECK_EQ_INT(parse("{\"a\":1,\"a\":2}", 1024), DP_ERR_BAD_JSON);
    CHECK_EQ_INT(parse("{\"a\":1} trailing", 1024), DP_ERR_BAD_JSON);
    CHECK_EQ_INT(parse("{\"a\":\"\xff\"}", 1024), DP_ERR_BAD_JSON);
    CHECK_EQ_INT(parse("{\"a\":1}", 3), DP_ERR_TOO_LARGE);
    char deep[200] = "", *p = deep;
    for (int i = 0; i < 40; i++)
        *p++ = '[';
    for (int i = 0; i < 40; i++)
        *p++ = ']';
    CHECK_EQ_INT(parse(deep, 1024), DP_ERR_BAD_JSON);
    /* Brackets inside strings do not count towards depth. */
    CHECK_EQ_INT(parse("{\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}", 1024), DP_OK);
}

TEST(json_error_message_says_where)
{
    json_t *v;
    char msg[256];
    CHECK_EQ_INT(json_parse_body("{\n\"a\": }", 8, 1024, &v, msg, sizeof msg), DP_ERR_BAD_JSON);
    CHECK(strstr(msg, "line 2") != NULL);
}

TEST(metrics_render_prometheus_text)
{
    const char *ln[] = {"route", "status"};
    struct metric *c = metric_new(METRIC_COUNTER, "t_requests_total", "requests", 2, ln, NULL, 0);
    struct metric *h =
        metric_new(METRIC_HISTOGRAM, "t_latency_seconds", "latency", 0, NULL, (const double[]){0.1, 1}, 2);
    metric_add(c, (const char *[]){"/a\"b", "200"}, 2);
    metric_add(c, (const char *[]){"/a\"b", "200"}, 1);
    metric_observe(h, NULL, 0.05);
    metric_observe(h, NULL, 0.5);
    metric_observe(h, NULL, 5);
    CHECK(metric_value(c, (const char *[]){"/a\"b", "200"}) == 3);
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(metrics_render(&b), DP_OK);
    CHECK(strstr(b.data, "# TYPE t_requests_total counter\n") != NULL);
    CHECK(strstr(b.data, "t_requests_total{route=\"/a\\\"b\",status=\"200\"} 3\n") != NULL);
    CHECK(strstr(b.data, "t_latency_seconds_bucket{le=\"0.1\"} 1\n") != NULL);
    CHECK(strstr(b.data, "t_latency_seconds_bucket{le=\"1\"} 2\n") != NULL);
    CHECK(strstr(b.data, "t_latency_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
    CHECK(strstr(b.data, "t_latency_seconds_count 3\n") != NULL);
    CHECK(strstr(b.data, "t_latency_seconds_sum 5.55\n") != NULL);
    buf_cleanup(&b);
}

TEST(json_dump_display_prints_rounded_numbers_as_rounded)
{
    json_t *v = json_pack("{s:f,s:f,s:i}", "score", 0.469, "big", 12345.678, "n", 3);
    char *full = json_dump_compact(v, NULL), *shown = json_dump_display(v, NULL);
    CHECK(strstr(full, "0.46899999999999997") != NULL); /* what the default (exact) dump shows */
    CHECK_EQ_STR(shown, "{\"score\":0.469,\"big\":12345.678,\"n\":3}");
    free(full);
    free(shown);
    json_decref(v);
}
