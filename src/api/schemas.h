/* The JSON Schemas of the API's bodies: named component schemas, and the notation route tables use. */
#ifndef DP_SCHEMAS_H
#define DP_SCHEMAS_H

/*
 * J(...) turns JSON written as C tokens into a string literal, so that schemas read as JSON:
 *     J({"type": "object", "required": ["id"]})  →  "{\"type\": \"object\", \"required\": [\"id\"]}"
 * (keep each fragment under 4095 characters, the longest string literal C11 promises.)
 *
 * A route's `openapi` fragment is an OpenAPI operation object, merged into the generated one, with
 * these short forms that api/openapi.c expands:
 *   "requestBody": "Name"       a required application/json body of schema Name
 *   "responses": {"201": "Name"} an application/json response of schema Name ("Page<Name>": a page of
 *                                Name, {items: [Name], next_cursor}); {"204": "-"}: no body
 *   "query": {"q": {schema}}     optional query parameters (a "description" in the schema moves to
 *                                the parameter)
 *   "paged": true                ?limit= (1–200, default 50) and ?cursor= (a page's next_cursor)
 *   "errors": [403, 409]         Error responses, each with the codes that status carries
 * A schema written as a string anywhere in "responses"/"requestBody" is a component name.
 * The generator adds what every route of a kind answers: 401 (authenticated routes), 400, 413
 * (bodies), 404 (path parameters), 429, 503, 501 (not implemented).
 */
#define J(...) #__VA_ARGS__

struct api_schema {
    const char *name; /* the component's name: #/components/schemas/NAME */
    const char *json; /* a JSON Schema (2020-12) */
};

/* The component schemas, terminated by {0}. */
extern const struct api_schema api_schemas[];

#endif
