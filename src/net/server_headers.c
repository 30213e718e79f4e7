/* The headers every response carries: request id, security headers, CORS. */
#include "net/server.h"

#include <string.h>
#include <strings.h>

#include "net/server_internal.h"

enum cors_match server_origin_allowed(const struct server *s, const char *origin)
{
    if (!origin || !*origin || !s->cfg.cors_origins)
        return CORS_NO;
    size_t olen = strlen(origin);
    enum cors_match m = CORS_NO;
    for (const char *p = s->cfg.cors_origins; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if ((size_t)(e - p) == olen && !memcmp(p, origin, olen))
            return CORS_LISTED; /* a listed origin wins over "*" */
        if (e - p == 1 && *p == '*')
            m = CORS_ANY;
        p = e;
    }
    return m;
}

void server_add_common_headers(struct server *s, struct MHD_Response *r, const struct request *req)
{
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    if (*s->keep_alive)
        MHD_add_response_header(r, "Keep-Alive", s->keep_alive);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    enum cors_match m = server_origin_allowed(s, req->origin);
    if (m == CORS_NO)
        return;
    if (m == CORS_LISTED) {
        /* Only an origin named in the list may send the user's cookies and read the answer. */
        MHD_add_response_header(r, "Access-Control-Allow-Origin", req->origin);
        MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
    } else {
        /* "*" lets any page read public answers, never with credentials: reflecting the origin
         * with credentials would let every site act as the logged-in user. */
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    }
    MHD_add_response_header(r, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After, ETag");
    MHD_add_response_header(r, "Vary", "Origin");
}
