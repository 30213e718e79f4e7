/* The OpenAPI 3.1 document, generated from the route tables so that it cannot drift. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/schemas.h"
#include "core/json.h"
#include "core/log.h"
#include "net/router.h"

#ifndef DOPPEL_VERSION
#define DOPPEL_VERSION "0.1.0"
#endif

/* The error codes each status carries (the codes come from core/err.c and a few named ones). */
static const struct {
    int status;
    const char *text;
    const char *codes[6];
} error_statuses[] = {
    {400, "Invalid input", {"invalid_input", "invalid_json"}},
    {401,
     "Not authenticated",
     {"unauthenticated", "invalid_credentials", "totp_required", "invalid_totp", "invalid_refresh_token"}},
    {403, "Forbidden", {"forbidden"}},
    {404, "Not found (also what the caller may not see)", {"not_found"}},
    {405, "Method not allowed", {"method_not_allowed"}},
    {409, "Conflict with the current state", {"conflict"}},
    {413, "Too large", {"too_large", "quota_exceeded"}},
    {415, "Unsupported media type", {"unsupported_media_type"}},
    {416, "Range not satisfiable", {"range_not_satisfiable"}},
    {422, "Semantically invalid", {"unprocessable"}},
    {426, "Upgrade required (WebSocket only)", {"upgrade_required"}},
    {429, "Rate limited (see Retry-After)", {"rate_limited"}},
    {431, "Too many request headers", {"too_many_headers"}},
    {500,
     "Internal error (a bug or a failed write; nothing half-done is kept)",
     {"internal_error", "io_error", "out_of_memory"}},
    {501, "Not implemented yet", {"not_implemented"}},
    {503, "A dependency is unavailable", {"unavailable", "database_error"}},
    {504, "Deadline exceeded", {"timeout"}},
};

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No content";
    case 206:
        return "Partial content";
    case 304:
        return "Not modified";
    default:
        break;
    }
    for (size_t i = 0; i < sizeof error_statuses / sizeof *error_statuses; i++)
        if (error_statuses[i].status == status)
            return error_statuses[i].text;
    return "Response";
}

/* An Error response whose code is one of those of its status: the component ErrorNNN, made on first use. */
static json_t *error_response(int status, json_t *schemas)
{
    char name[16], ref[48];
    snprintf(name, sizeof name, "Error%d", status);
    snprintf(ref, sizeof ref, "#/components/schemas/%s", name);
    if (!json_object_get(schemas, name)) {
        json_t *codes = json_array();
        for (size_t i = 0; i < sizeof error_statuses / sizeof *error_statuses; i++)
            if (error_statuses[i].status == status)
                for (size_t c = 0; c < 6 && error_statuses[i].codes[c]; c++)
                    json_array_append_new(codes, json_string(error_statuses[i].codes[c]));
        json_t *schema =
            json_pack("{s:s,s:s}", "description", status_text(status), "$ref", "#/components/schemas/Error");
        if (json_array_size(codes))
            json_object_set_new(schema, "properties",
                                json_pack("{s:{s:{s:{s:o}}}}", "error", "properties", "code", "enum", codes));
        else
            json_decref(codes);
        json_object_set_new(schemas, name, schema);
    }
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", status_text(status), "content", "application/json",
                     "schema", "$ref", ref);
}

/* A schema written as a component name: "Name", or "Page<Name>" (registered in schemas on first use). */
static json_t *named_schema(const char *name, json_t *schemas)
{
    char ref[160], item[96], page[112]; /* page outlives the branch: name may point at it */
    if (!strncmp(name, "Page<", 5) && name[strlen(name) - 1] == '>') {
        snprintf(item, sizeof item, "%.*s", (int)(strlen(name) - 6), name + 5);
        snprintf(page, sizeof page, "%sPage", item);
        if (!json_object_get(schemas, page)) {
            snprintf(ref, sizeof ref, "#/components/schemas/%s", item);
            json_object_set_new(schemas, page,
                                json_pack("{s:s,s:s,s:[s,s],s:b,s:{s:{s:s,s:{s:s}},s:{s:[s,s],s:s}}}", "description",
                                          "A page of a list: pass next_cursor as ?cursor= for the next one", "type",
                                          "object", "required", "items", "next_cursor", "additionalProperties", 0,
                                          "properties", "items", "type", "array", "items", "$ref", ref, "next_cursor",
                                          "type", "string", "null", "description", "null on the last page"));
        }
        name = page;
        snprintf(ref, sizeof ref, "#/components/schemas/%s", page);
    } else {
        snprintf(ref, sizeof ref, "#/components/schemas/%s", name);
    }
    DP_ASSERT(json_object_get(schemas, name)); /* a route names a schema that does not exist: a bug */
    return json_pack("{s:s}", "$ref", ref);
}

/* Expands the short forms of a route's responses (see api/schemas.h). */
static void expand_responses(json_t *responses, json_t *schemas)
{
    const char *status;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(responses, tmp, status, v)
    {
        int code = atoi(status);
        if (json_is_string(v)) {
            const char *name = json_string_value(v);
            json_t *resp = json_pack("{s:s}", "description", status_text(code));
            if (strcmp(name, "-"))
                json_object_set_new(resp, "content",
                                    json_pack("{s:{s:o}}", "application/json", "schema", named_schema(name, schemas)));
            json_object_set_new(responses, status, resp);
        } else if (json_is_object(v)) {
            if (!json_object_get(v, "description"))
                json_object_set_new(v, "description", json_string(status_text(code)));
            json_t *content = json_object_get(v, "content"), *media;
            const char *type;
            json_object_foreach (content, type, media) {
                json_t *s = json_object_get(media, "schema");
                if (json_is_string(s))
                    json_object_set_new(media, "schema", named_schema(json_string_value(s), schemas));
            }
        }
    }
}

/* Merges a route's fragment into its operation, expanding the short forms. */
static void merge_fragment(json_t *op, const struct route *rt, json_t *schemas)
{
    json_error_t jerr;
    json_t *extra = json_loads(rt->openapi, 0, &jerr);
    if (!extra || !json_is_object(extra))
        DP_LOG(LOG_ERROR, "[openapi] %s %s: %s (line %d col %d)", rt->method, rt->path, jerr.text, jerr.line,
               jerr.column);
    DP_ASSERT(extra && json_is_object(extra)); /* route tables are ours: a bad fragment is a bug */
    json_t *params = json_object_get(op, "parameters");
    json_t *query = json_object_get(extra, "query");
    const char *name;
    json_t *schema;
    json_object_foreach (query, name, schema) {
        json_t *p = json_pack("{s:s,s:s,s:b,s:O}", "name", name, "in", "query", "required", 0, "schema", schema);
        json_t *d = json_object_get(schema, "description");
        if (d) {
            json_object_set(p, "description", d);
            json_object_del(json_object_get(p, "schema"), "description");
        }
        json_array_append_new(params, p);
    }
    json_object_del(extra, "query");
    if (json_is_true(json_object_get(extra, "paged"))) {
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:s,s:{s:s,s:i,s:i,s:i}}", "name", "limit", "in", "query",
                                                "required", 0, "description", "items per page", "schema", "type",
                                                "integer", "minimum", 1, "maximum", 200, "default", 50));
        json_array_append_new(params,
                              json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", "cursor", "in", "query", "required", 0,
                                        "description", "next_cursor of the previous page", "schema", "type", "string"));
    }
    json_object_del(extra, "paged");
    /* Parameters add to the path's own; one with the same name and place replaces it (e.g. an enum). */
    json_t *more = json_object_get(extra, "parameters"), *p;
    size_t k;
    json_array_foreach (more, k, p) {
        size_t at = json_array_size(params);
        for (size_t n = 0; n < json_array_size(params); n++) {
            json_t *have = json_array_get(params, n);
            if (json_equal(json_object_get(have, "name"), json_object_get(p, "name")) &&
                json_equal(json_object_get(have, "in"), json_object_get(p, "in")))
                at = n;
        }
        if (at < json_array_size(params))
            json_array_set(params, at, p);
        else
            json_array_append(params, p);
    }
    json_object_del(extra, "parameters");

    json_t *responses = json_object_get(op, "responses");
    json_t *errors = json_object_get(extra, "errors");
    size_t i;
    json_t *e;
    json_array_foreach (errors, i, e) {
        char st[8];
        snprintf(st, sizeof st, "%d", (int)json_integer_value(e));
        json_object_set_new(responses, st, error_response((int)json_integer_value(e), schemas));
    }
    json_object_del(extra, "errors");
    json_t *given = json_object_get(extra, "responses");
    if (given) {
        expand_responses(given, schemas);
        json_object_update(responses, given);
        json_object_del(extra, "responses");
    }
    json_t *body = json_object_get(extra, "requestBody");
    if (json_is_string(body)) {
        json_object_set_new(extra, "requestBody",
                            json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content", "application/json", "schema",
                                      named_schema(json_string_value(body), schemas)));
    } else if (json_is_object(body)) {
        json_t *content = json_object_get(body, "content"), *media;
        const char *type;
        json_object_foreach (content, type, media) {
            json_t *s = json_object_get(media, "schema");
            if (json_is_string(s))
                json_object_set_new(media, "schema", named_schema(json_string_value(s), schemas));
        }
    }
    json_object_update(op, extra);
    json_decref(extra);
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

/* The error answers every route of a kind may give, whatever its handler does. */
static void common_errors(const struct route *rt, json_t *responses, json_t *schemas)
{
    int api = !strncmp(rt->path, "/api/", 5) || !strncmp(rt->path, "/v1/", 4);
    if (rt->flags & ROUTE_NOT_IMPLEMENTED) {
        json_object_set_new(responses, "501", error_response(501, schemas));
        return;
    }
    json_object_set_new(responses, "400", error_response(400, schemas)); /* e.g. too many query arguments */
    json_object_set_new(responses, "431", error_response(431, schemas)); /* decided before routing */
    if (strcmp(rt->method, "GET") && strcmp(rt->method, "DELETE"))
        json_object_set_new(responses, "413", error_response(413, schemas)); /* the body over the route's cap */
    if (!(rt->flags & ROUTE_PUBLIC))
        json_object_set_new(responses, "401", error_response(401, schemas));
    if (strchr(rt->path, '{'))
        json_object_set_new(responses, "404", error_response(404, schemas));
    if (api) {
        json_object_set_new(responses, "500", error_response(500, schemas));
        json_object_set_new(responses, "429", error_response(429, schemas));
        json_object_set_new(responses, "503", error_response(503, schemas));
    }
}

struct gen {
    json_t *paths;
    json_t *schemas;
};

static void add_route(const struct route *rt, void *arg)
{
    struct gen *g = arg;
    if (rt->flags & ROUTE_HIDDEN)
        return;
    json_t *item = json_object_get(g->paths, rt->path);
    if (!item) {
        item = json_object();
        json_object_set_new(g->paths, rt->path, item);
    }
    char opid[160], method[16];
    operation_id(rt, opid, sizeof opid);
    size_t i = 0;
    for (; rt->method[i] && i + 1 < sizeof method; i++)
        method[i] = (char)tolower((unsigned char)rt->method[i]);
    method[i] = 0;

    json_t *op = json_pack("{s:s,s:s,s:[s]}", "summary", rt->summary ? rt->summary : "", "operationId", opid, "tags",
                           rt->tag ? rt->tag : "misc");
    json_object_set_new(op, "parameters", path_params(rt->path));
    json_t *responses = json_object();
    json_object_set_new(op, "responses", responses);
    common_errors(rt, responses, g->schemas);
    if (rt->flags & ROUTE_NOT_IMPLEMENTED)
        json_object_set_new(op, "x-doppel-status", json_string("not_implemented"));
    else if (rt->flags & ROUTE_WEBSOCKET)
        json_object_set_new(responses, "101", json_pack("{s:s}", "description", "Switching to WebSocket"));
    if (rt->flags & ROUTE_PUBLIC)
        json_object_set_new(op, "security", json_array());
    if (rt->flags & ROUTE_JSON)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 1, "content", "application/json", "schema",
                                      "type", "object"));
    if (rt->openapi)
        merge_fragment(op, rt, g->schemas);
    if (!json_array_size(json_object_get(op, "parameters")))
        json_object_del(op, "parameters");
    json_object_set_new(item, method, op);
}

char *openapi_generate(const struct router *r, size_t *len)
{
    struct gen g = {json_object(), json_object()};
    for (const struct api_schema *s = api_schemas; s->name; s++) {
        json_error_t jerr;
        json_t *schema = json_loads(s->json, 0, &jerr);
        if (!schema)
            DP_LOG(LOG_ERROR, "[openapi] schema %s: %s (col %d)", s->name, jerr.text, jerr.column);
        DP_ASSERT(schema); /* a bad schema is a bug */
        json_object_set_new(g.schemas, s->name, schema);
    }
    router_each(r, add_route, &g);
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s,s:{s:s}},s:o,s:[{s:[]}],s:{s:{s:{s:s,s:s,s:s}},s:o}}", "openapi", "3.1.0", "info", "title",
        "Doppel API", "version", DOPPEL_VERSION, "description",
        "Self-hosted AI avatars: accounts, avatars, memory, conversations, voice, chat. Errors are "
        "{error:{code,message,request_id}}; lists are pages {items, next_cursor} (?limit= default 50, max 200; "
        "?cursor=). Routes marked x-doppel-status: not_implemented answer 501 until built. A readable version: "
        "/api/docs.",
        "license", "name", "MIT", "paths", g.paths, "security", "bearer", "components", "securitySchemes", "bearer",
        "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "schemas", g.schemas);
    DP_ASSERT(doc);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (s && len)
        *len = strlen(s);
    return s;
}
