/* The TTS registry, the process-wide engine, and what every provider shares: speaking into one
 * buffer, sentence boundaries, phones to visemes. */
#include "providers/tts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/registry.h"

static struct tts_engine *current;

static const struct tts_provider flite_provider = {tts_flite_new};
static const struct backend tts_flite_row = {"flite", NULL, 0, &flite_provider};

static const struct tts_provider openai_provider = {tts_openai_new};
static const struct backend tts_openai_row = {"openai", NULL, 0, &openai_provider};
static const struct tts_provider elevenlabs_provider = {tts_elevenlabs_new};
static const struct backend tts_elevenlabs_row = {"elevenlabs", NULL, 0, &elevenlabs_provider};

static const struct tts_provider wyoming_provider = {tts_wyoming_new};
static const struct backend tts_wyoming_row = {"wyoming", NULL, 0, &wyoming_provider};

static struct registry tts_backends = {
    "tts", {&tts_flite_row, &tts_openai_row, &tts_elevenlabs_row, &tts_wyoming_row}, 4, -1};

struct registry *tts_registry(void)
{
    return &tts_backends;
}

int tts_configure(const struct tts_config *cfg, char *msg, size_t msglen)
{
    tts_shutdown();
    const char *name = cfg->provider && *cfg->provider ? cfg->provider : "flite";
    if (!strcmp(name, "none"))
        return DP_OK;
    const struct backend *b = registry_find(&tts_backends, name);
    if (!b) {
        snprintf(msg, msglen, "tts-provider must be none, flite, openai, elevenlabs or wyoming, not \"%s\"", name);
        return DP_ERR_INVALID;
    }
    int err = ((const struct tts_provider *)b->ops)->create(cfg, &current, msg, msglen);
    if (!err)
        DP_LOG(LOG_INFO, "[tts] %s voice %s at %d Hz", current->name, current->voice, current->rate);
    return err;
}

struct tts_engine *tts_current(void)
{
    return current;
}

void tts_shutdown(void)
{
    if (current)
        current->ops->destroy(current);
    current = NULL;
}

/* ---- speaking into one buffer ---------------------------------------------------------------- */

struct collect {
    int16_t *pcm;
    size_t n, cap;
    struct tts_phone *phones;
    int n_phones, cap_phones;
    int want_phones;
};

static int collect_audio(void *arg, const int16_t *pcm, size_t n)
{
    struct collect *c = arg;
    if (c->n + n > c->cap) {
        size_t nc = (c->n + n) * 2;
        int16_t *np = realloc(c->pcm, nc * sizeof *np);
        if (!np)
            return 1;
        c->pcm = np;
        c->cap = nc;
    }
    memcpy(c->pcm + c->n, pcm, n * sizeof *pcm);
    c->n += n;
    return 0;
}

static int collect_phones(void *arg, const struct tts_phone *p, int n)
{
    struct collect *c = arg;
    if (!c->want_phones)
        return 0;
    if (c->n_phones + n > c->cap_phones) {
        int nc = (c->n_phones + n) * 2;
        struct tts_phone *np = realloc(c->phones, (size_t)nc * sizeof *np);
        if (!np)
            return 1;
        c->phones = np;
        c->cap_phones = nc;
    }
    memcpy(c->phones + c->n_phones, p, (size_t)n * sizeof *p);
    c->n_phones += n;
    return 0;
}

int tts_synthesize_all(struct tts_engine *e, const char *text, const struct tts_voice *v, int16_t **pcm, size_t *n,
                       struct tts_phone **phones, int *n_phones, char *why, size_t whylen)
{
    struct collect c = {.want_phones = phones != NULL};
    const struct tts_sink sink = {collect_audio, collect_phones, &c};
    int err = e->ops->synthesize(e, text, v, &sink, why, whylen);
    if (err == DP_ERR_CANCELLED) /* only the collector stops a call: it ran out of memory */
        err = DP_ERR_NOMEM;
    if (err) {
        free(c.pcm);
        free(c.phones);
        return err;
    }
    *pcm = c.pcm;
    *n = c.n;
    if (phones) {
        *phones = c.phones;
        *n_phones = c.n_phones;
    }
    return DP_OK;
}

/* ---- text and phones ------------------------------------------------------------------------- */

size_t tts_sentence_end(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\n')
            return i + 1;
        if (ch != '.' && ch != '!' && ch != '?' && ch != ';')
            continue;
        size_t j = i + 1;
        while (j < len && (text[j] == '.' || text[j] == '!' || text[j] == '?' || text[j] == '"' || text[j] == '\'' ||
                           text[j] == ')'))
            j++;
        if (j == len || text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n')
            return j;
        i = j - 1;
    }
    return len;
}

const char *tts_viseme(const char *phone)
{
    static const struct {
        const char *phone, *viseme;
    } map[] = {
        {"pau", "sil"}, {"h#", "sil"}, {"p", "PP"},  {"b", "PP"},  {"m", "PP"},  {"f", "FF"},  {"v", "FF"},
        {"th", "TH"},   {"dh", "TH"},  {"t", "DD"},  {"d", "DD"},  {"k", "kk"},  {"g", "kk"},  {"ng", "kk"},
        {"hh", "kk"},   {"ch", "CH"},  {"jh", "CH"}, {"sh", "CH"}, {"zh", "CH"}, {"s", "SS"},  {"z", "SS"},
        {"n", "nn"},    {"l", "nn"},   {"r", "RR"},  {"er", "RR"}, {"aa", "aa"}, {"ae", "aa"}, {"ah", "aa"},
        {"ay", "aa"},   {"aw", "aa"},  {"eh", "E"},  {"ey", "E"},  {"ih", "ih"}, {"iy", "ih"}, {"y", "ih"},
        {"ao", "oh"},   {"ow", "oh"},  {"oy", "oh"}, {"uh", "ou"}, {"uw", "ou"}, {"w", "ou"},  {"ax", "aa"},
    };
    if (!phone)
        return "sil";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].phone, phone))
            return map[i].viseme;
    return "sil";
}
