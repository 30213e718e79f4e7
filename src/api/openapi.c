/* The OpenAPI 3.1 document, generated from the route tables so that it cannot drift. */
#include <ctype.h>
#include <string.h>

#include "api/app.h"
#include "core/json.h"
#include "core/log.h"
#include "net/router.h"

#ifndef DOPPEL_VERSION
#define DOPPEL_VERSION "0.1.0"
#endif

static json_t *error_response(const char *desc)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", desc, "content", "application/json", "schema", "$ref",
                     "#/components/schemas/Error");
}

static json_t *path_params(const char *path)
{
    json_t *params = json_array();
    for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            break;
        json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1, (size_t)(e - p - 1), "in",
                                                "path", "required", 1, "schema", "type", "string"));
    }
    return params;
}

/* operationId: method + path words, e.g. get_api_v1_avatars_id. */
static void operation_id(const struct route *rt, char *out, size_t n)
{
    size_t at = 0;
    for (const char *p = rt->method; *p && at + 1 < n; p++)
        out[at++] = (char)tolower((unsigned char)*p);
    for (const char *p = rt->path; *p && at + 1 < n; p++) {
        if (isalnum((unsigned char)*p))
            out[at++] = *p;
        else if ((*p == '/' || *p == '-' || *p == '.' || *p == '_') && out[at - 1] != '_')
            out[at++] = '_';
    }
    while (at && out[at - 1] == '_')
        at--;
    out[at] = 0;
}

static void add_route(const struct route *rt, void *arg)
{
    if (rt->flags & ROUTE_HIDDEN)
        return;
    json_t *paths = arg;
    json_t *item = json_object_get(paths, rt->path);
    if (!item) {
        item = json_object();
        json_object_set_new(paths, rt->path, item);
    }
    char opid[160], method[16];
    operation_id(rt, opid, sizeof opid);
    size_t i = 0;
    for (; rt->method[i] && i + 1 < sizeof method; i++)
        method[i] = (char)tolower((unsigned char)rt->method[i]);
    method[i] = 0;

    json_t *op = json_pack("{s:s,s:s,s:[s]}", "summary", rt->summary ? rt->summary : "", "operationId", opid, "tags",
                           rt->tag ? rt->tag : "misc");
    json_t *params = path_params(rt->path);
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    json_t *responses = json_object();
    if (rt->flags & ROUTE_NOT_IMPLEMENTED) {
        json_object_set_new(op, "x-doppel-status", json_string("not_implemented"));
        json_object_set_new(responses, "501", error_response("Not implemented yet"));
    } else if (rt->flags & ROUTE_WEBSOCKET) {
        json_object_set_new(responses, "101", json_pack("{s:s}", "description", "Switching to WebSocket"));
    } else {
        json_object_set_new(responses, "200", json_pack("{s:s,s:{s:{}}}", "description", "Success", "content",
                                                        "application/json"));
    }
    json_object_set_new(responses, "default", error_response("Error"));
    json_object_set_new(op, "responses", responses);
    if (rt->flags & ROUTE_PUBLIC)
        json_object_set_new(op, "security", json_array());
    if (rt->flags & ROUTE_JSON)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 1, "content", "application/json", "schema",
                                      "type", "object"));
    if (rt->openapi) {
        json_error_t jerr;
        json_t *extra = json_loads(rt->openapi, 0, &jerr);
        DP_ASSERT(extra && json_is_object(extra)); /* route tables are ours: a bad fragment is a bug */
        /* Parameters add to the path's own; everything else replaces. */
        json_t *more = json_object_get(extra, "parameters"), *have = json_object_get(op, "parameters");
        if (json_is_array(more) && json_is_array(have)) {
            json_array_extend(have, more);
            json_object_del(extra, "parameters");
        }
        json_object_update(op, extra);
        json_decref(extra);
    }
    json_object_set_new(item, method, op);
}

char *openapi_generate(const struct router *r, size_t *len)
{
    json_t *paths = json_object();
    router_each(r, add_route, paths);
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s,s:{s:s}},s:o,s:[{s:[]}],s:{s:{s:{s:s,s:s,s:s}},s:{s:{s:s,s:[s],s:{s:{s:s,s:[s,s,s],"
        "s:{s:{s:s},s:{s:s},s:{s:s}}}}}}}}",
        "openapi", "3.1.0", "info", "title", "Doppel API", "version", DOPPEL_VERSION, "description",
        "Self-hosted AI avatars: accounts, avatars, memory, conversations, voice, chat. Routes marked "
        "x-doppel-status: not_implemented answer 501 until built.",
        "license", "name", "MIT", "paths", paths, "security", "bearer", "components", "securitySchemes", "bearer",
        "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "schemas", "Error", "type", "object", "required",
        "error", "properties", "error", "type", "object", "required", "code", "message", "request_id", "properties",
        "code", "type", "string", "message", "type", "string", "request_id", "type", "string");
    DP_ASSERT(doc);
    char *s = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    if (s && len)
        *len = strlen(s);
    return s;
}
