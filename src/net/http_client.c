/* Outbound JSON POST on libcurl's easy interface. Blocking by design: provider calls run on
 * worker threads, which have nothing else to do while they wait. */
#include "net/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

int http_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? DP_OK : DP_ERR_IO;
}

struct sink {
    struct buf b;
    int too_large;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    int err = buf_append(&s->b, p, size * n);
    s->too_large |= err == DP_ERR_TOO_LARGE;
    return err ? 0 : size * n; /* 0 aborts the transfer */
}

int http_post_json(const struct http_post *p, long *status, json_t **answer, char *why, size_t whylen)
{
    char dummy[1];
    if (!why)
        why = dummy, whylen = sizeof dummy;
    why[0] = 0;
    *answer = NULL;
    *status = 0;
    char *body = json_dumps(p->body, JSON_COMPACT);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    char auth[600];
    if (h && p->bearer && *p->bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->bearer);
        h = curl_slist_append(h, auth);
    }
    struct sink s = {0};
    buf_init(&s.b, p->answer_max);
    int err = DP_ERR_NOMEM;
    if (!body || !c || !h)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (s.too_large) {
        snprintf(why, whylen, "the answer is larger than %zu bytes", p->answer_max);
        err = DP_ERR_TOO_LARGE;
        goto out;
    }
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
        err = DP_ERR_UNAVAILABLE;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (s.b.len)
        *answer = json_loadb(s.b.data, s.b.len, 0, NULL);
    err = DP_OK;
out:
    buf_cleanup(&s.b);
    curl_slist_free_all(h);
    if (c)
        curl_easy_cleanup(c);
    free(body);
    return err;
}
