/* The brains by name (core/registry.h) and what every brain's caller shares. */
#include <stdlib.h>
#include <string.h>

#include "brain/brain.h"
#include "core/registry.h"

static const struct backend brain_recall_row = {"recall", NULL, 0, &brain_recall_ops};
static const struct backend brain_generative_row = {"generative", NULL, 0, &brain_generative_ops};

static struct registry brain_backends = {"brain", {&brain_recall_row, &brain_generative_row}, 2, -1};

struct registry *brain_registry(void)
{
    return &brain_backends;
}

const struct brain_ops *brain_for(const char *name)
{
    const struct backend *b = registry_find(&brain_backends, name);
    const struct brain_ops *ops = b ? b->ops : NULL;
    return ops && (!ops->available || ops->available()) ? ops : NULL;
}

void brain_persona_cleanup(struct brain_persona *p)
{
    free(p->description);
    free(p->personality);
    free(p->scenario);
    free(p->examples);
    memset(p, 0, sizeof *p);
}

void brain_reply_cleanup(struct brain_reply *r)
{
    free(r->text);
    json_decref(r->citations);
    r->text = NULL;
    r->citations = NULL;
}

const char *brain_unavailable_why(const char *name)
{
    const struct backend *b = registry_find(&brain_backends, name);
    const struct brain_ops *ops = b ? b->ops : NULL;
    if (!ops || !ops->available || ops->available())
        return "";
    return ops->needs ? ops->needs : "it is not available";
}
