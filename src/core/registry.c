/* Backend registries (see registry.h). */
#include "core/registry.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"

int registry_add(struct registry *r, const struct backend *b)
{
    if (r->n >= REGISTRY_MAX)
        return DP_ERR_TOO_LARGE;
    if (registry_find(r, b->name))
        return DP_ERR_CONFLICT;
    r->rows[r->n++] = b;
    return DP_OK;
}

const struct backend *registry_find(const struct registry *r, const char *name)
{
    for (int i = 0; name && i < r->n; i++)
        if (!strcmp(r->rows[i]->name, name))
            return r->rows[i];
    return NULL;
}

const struct backend *registry_for_url(const struct registry *r, const char *url)
{
    if (!url)
        return NULL;
    for (int i = 0; i < r->n; i++)
        for (const char *const *s = r->rows[i]->schemes; s && *s; s++)
            if (!strncasecmp(url, *s, strlen(*s)))
                return r->rows[i];
    for (int i = 0; i < r->n; i++)
        if (!strcasecmp(url, r->rows[i]->name))
            return r->rows[i];
    if (r->fallback >= 0 && r->fallback < r->n && !strstr(url, "://"))
        return r->rows[r->fallback];
    return NULL;
}
