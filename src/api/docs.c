/* The API reference page (/api/docs): a static page, compiled in, that renders /api/v1/openapi.json. */
#include "api/docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const struct embedded_file *find(const char *name)
{
    for (const struct embedded_file *f = docs_assets; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (dot && !strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    return "text/html; charset=utf-8";
}

/* Answers with an embedded file; its ETag is its size and FNV-1a hash (the binary's build fixes both). */
static int serve(const struct request *req, struct response *res, const struct embedded_file *f)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < f->len; i++)
        h = (h ^ f->data[i]) * 1099511628211ULL;
    char etag[48];
    snprintf(etag, sizeof etag, "\"%zx-%llx\"", f->len, (unsigned long long)h);
    res_header(res, "ETag", etag);
    res_header(res, "Cache-Control", "no-cache");
    if (req->if_none_match && strstr(req->if_none_match, etag)) {
        res_body(res, 304, "", NULL, 0);
        return DP_OK;
    }
    char *copy = malloc(f->len + 1);
    if (!copy)
        return DP_ERR_NOMEM;
    memcpy(copy, f->data, f->len + 1);
    res_body(res, 200, type_of(f->name), copy, f->len);
    return DP_OK;
}

int docs_page(struct request *req, struct response *res)
{
    const struct embedded_file *f = find("index.html");
    if (!f)
        return DP_ERR_NOT_FOUND;
    return serve(req, res, f);
}

int docs_asset(struct request *req, struct response *res)
{
    const char *name = req_param(req, "file");
    const struct embedded_file *f = name && strcmp(name, "index.html") ? find(name) : NULL;
    if (!f) {
        res_error(res, req, DP_ERR_NOT_FOUND, "no such file of the docs page");
        return DP_ERR_NOT_FOUND;
    }
    return serve(req, res, f);
}
