/* WordNet 3.0 lemmas and related words (see wordnet.h). */
#include "core/wordnet.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fd_io.h"
#include "core/hash.h"
#include "core/log.h"

enum { NOUN, VERB, ADJ, ADV, NPOS };
static const char *const pos_name[NPOS] = {"noun", "verb", "adj", "adv"};

#define SENSES 2 /* senses of a lemma whose synsets give related words (the most frequent first) */

struct entry {
    uint32_t name_at;
    uint16_t name_len; /* 0: an empty slot */
    uint8_t in_pos;    /* bit p: a lemma of part of speech p */
    uint8_t nsense[NPOS];
    uint16_t tag[NPOS];           /* tagsense_cnt: how often its senses were tagged in SemCor */
    uint32_t sense[NPOS][SENSES]; /* synset offsets in data.<pos>, most frequent first */
    int32_t exc;                  /* first exception record (this word as an inflected form), -1 none */
};

struct exc {
    uint32_t base_at;
    uint16_t base_len;
    uint8_t pos;
    int32_t next;
};

static struct {
    struct entry *table;
    uint32_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
    struct exc *exc;
    size_t nexc, exc_cap;
    const char *data[NPOS];
    size_t data_len[NPOS];
    int ready;
} wn;

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static int opened;
static char chosen_dir[1024]; /* wordnet_use: the directory the first lookup loads */

static struct entry *slot(const char *w, size_t n)
{
    for (uint32_t s = hash_fnv1a(w, n) & (wn.cap - 1);; s = (s + 1) & (wn.cap - 1)) {
        struct entry *e = &wn.table[s];
        if (!e->name_len || (e->name_len == n && !memcmp(wn.arena + e->name_at, w, n)))
            return e;
    }
}

static const struct entry *find(const char *w, size_t n)
{
    if (!wn.ready || !n || n > 64)
        return NULL;
    const struct entry *e = slot(w, n);
    return e->name_len ? e : NULL;
}

static long intern(const char *w, size_t n)
{
    if (wn.arena_len + n > wn.arena_cap) {
        size_t cap = wn.arena_cap ? wn.arena_cap * 2 : 1 << 20;
        char *a = realloc(wn.arena, cap);
        if (!a)
            return -1;
        wn.arena = a;
        wn.arena_cap = cap;
    }
    memcpy(wn.arena + wn.arena_len, w, n);
    wn.arena_len += n;
    return (long)(wn.arena_len - n);
}

/* The entry of w, added when new; NULL when full or out of memory. */
static struct entry *add(const char *w, size_t n)
{
    if (!n || n > 64 || (wn.n + 1) * 10 > wn.cap * 7)
        return NULL;
    struct entry *e = slot(w, n);
    if (!e->name_len) {
        long at = intern(w, n);
        if (at < 0)
            return NULL;
        memset(e, 0, sizeof *e);
        e->name_at = (uint32_t)at;
        e->name_len = (uint16_t)n;
        e->exc = -1;
        wn.n++;
    }
    return e;
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (!fseek(f, 0, SEEK_END)) {
        long size = ftell(f);
        rewind(f);
        if (size >= 0 && (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
            buf[size] = 0;
            *len = (size_t)size;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* The unsigned decimal number at s[0..n) (digits only; stops at anything else). */
static uint64_t decimal(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9' && v < UINT64_MAX / 10 - 9; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* index.<pos>: "lemma pos synset_cnt p_cnt ptr… sense_cnt tagsense_cnt offset…" a line (the
 * license lines at the top start with spaces). */
static int load_index(const char *dir, int pos)
{
    char name[32];
    size_t len;
    snprintf(name, sizeof name, "index.%s", pos_name[pos]);
    char *buf = read_file(dir, name, &len);
    if (!buf)
        return DP_ERR_NOT_FOUND;
    int err = DP_OK;
    for (char *line = buf, *next; line < buf + len && !err; line = next) {
        char *eol = strchr(line, '\n');
        next = eol ? eol + 1 : buf + len;
        if (eol)
            *eol = 0;
        if (*line == ' ' || !*line)
            continue;
        /* Split by hand: strtok_r, strspn and strtoul were three quarters of the load (about
         * 300M instructions), and a start's first search waits for it. Only the fields used are
         * cut out: the lemma, p_cnt, tagsense_cnt and the first SENSES offsets. */
        const char *tok[64];
        size_t tlen[64];
        int nt = 0;
        for (const char *t = line; *t && nt < 64;) {
            while (*t == ' ')
                t++;
            if (!*t)
                break;
            const char *e = t;
            while (*e && *e != ' ')
                e++;
            tok[nt] = t;
            tlen[nt++] = (size_t)(e - t);
            t = e;
        }
        if (nt < 6)
            continue;
        long p_cnt = (long)decimal(tok[3], tlen[3]);
        if (4 + p_cnt + 2 > nt || tlen[0] > 64)
            continue;
        struct entry *e = add(tok[0], tlen[0]);
        if (!e) {
            err = DP_ERR_NOMEM;
            break;
        }
        e->in_pos |= (uint8_t)(1 << pos);
        uint64_t tag = decimal(tok[4 + p_cnt + 1], tlen[4 + p_cnt + 1]);
        e->tag[pos] = (uint16_t)(tag > 65535 ? 65535 : tag);
        for (long i = 4 + p_cnt + 2; i < nt && e->nsense[pos] < SENSES; i++)
            e->sense[pos][e->nsense[pos]++] = (uint32_t)decimal(tok[i], tlen[i]);
    }
    free(buf);
    return err;
}

/* <pos>.exc: "inflected base…" a line. */
static int load_exceptions(const char *dir, int pos)
{
    char name[32];
    size_t len;
    snprintf(name, sizeof name, "%s.exc", pos_name[pos]);
    char *buf = read_file(dir, name, &len);
    if (!buf)
        return DP_ERR_NOT_FOUND;
    int err = DP_OK;
    for (char *line = buf, *next; line < buf + len && !err; line = next) {
        char *eol = strchr(line, '\n');
        next = eol ? eol + 1 : buf + len;
        if (eol)
            *eol = 0;
        char *save, *form = strtok_r(line, " ", &save);
        if (!form || strlen(form) > 64)
            continue;
        for (char *base = strtok_r(NULL, " ", &save); base; base = strtok_r(NULL, " ", &save)) {
            /* better → good, worse → bad: another word, not a form of this one */
            if ((pos == ADJ || pos == ADV) && base[0] != form[0])
                continue;
            struct entry *e = add(form, strlen(form));
            long at = e ? intern(base, strlen(base)) : -1;
            if (at >= 0 && wn.nexc == wn.exc_cap) {
                size_t cap = wn.exc_cap ? wn.exc_cap * 2 : 4096;
                struct exc *x = realloc(wn.exc, cap * sizeof *x);
                if (x) {
                    wn.exc = x;
                    wn.exc_cap = cap;
                }
            }
            if (at < 0 || wn.nexc == wn.exc_cap) {
                err = DP_ERR_NOMEM;
                break;
            }
            wn.exc[wn.nexc] = (struct exc){(uint32_t)at, (uint16_t)strlen(base), (uint8_t)pos, e->exc};
            e->exc = (int32_t)wn.nexc++;
        }
    }
    free(buf);
    return err;
}

static int map_data(const char *dir, int pos)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data.%s", dir, pos_name[pos]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return DP_ERR_NOT_FOUND;
    struct stat st;
    void *m =
        fstat(fd, &st) || !st.st_size ? MAP_FAILED : mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return DP_ERR_IO;
    wn.data[pos] = m;
    wn.data_len[pos] = (size_t)st.st_size;
    return DP_OK;
}

/* The parsed tables saved in a file and mapped back at the next start (wordnet_cache_at): a start
 * then pays page faults for the slots its words touch, where parsing the index files costs about
 * 110 ms of CPU in front of the first search. Labelled with the size and modification time of
 * every file parsed and this build's record sizes; any other file is parsed again and replaced.
 * Layout: the header, the hash table, the name arena (padded to 8 bytes), the exception records;
 * written aside and renamed, so a mapping of the old one stays valid. */
static char cache_path[1024];

#define WNC_MAGIC "DPWNC1\r\n"

struct wnc_header {
    char magic[8];
    uint32_t entry_size, exc_size, cap, n;
    uint64_t nexc, arena_len;
    uint64_t source[NPOS * 4]; /* size and mtime (ns) of index.<pos> and <pos>.exc */
};

int wordnet_cache_at(const char *path)
{
    if (!path || strlen(path) >= sizeof cache_path)
        return DP_ERR_INVALID;
    memcpy(cache_path, path, strlen(path) + 1);
    return DP_OK;
}

static void source_stamp(const char *dir, uint64_t out[NPOS * 4])
{
    int k = 0;
    for (int p = 0; p < NPOS; p++)
        for (int f = 0; f < 2; f++) {
            char path[1100];
            struct stat st;
            snprintf(path, sizeof path, f ? "%s/%s.exc" : "%s/index.%s", dir, pos_name[p]);
            int ok = !stat(path, &st);
            out[k++] = ok ? (uint64_t)st.st_size : 0;
            out[k++] = ok ? (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec : 0;
        }
}

static uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

/* Every name and exception record lies inside the file: a damaged one is parsed again. */
static int cache_consistent(void)
{
    for (uint32_t s = 0; s < wn.cap; s++) {
        const struct entry *e = &wn.table[s];
        if (e->name_len && ((uint64_t)e->name_at + e->name_len > wn.arena_len || e->name_len > 64 ||
                            (e->exc != -1 && (e->exc < 0 || (size_t)e->exc >= wn.nexc))))
            return 0;
        for (int p = 0; e->name_len && p < NPOS; p++)
            if (e->nsense[p] > SENSES)
                return 0;
    }
    for (size_t i = 0; i < wn.nexc; i++) {
        const struct exc *x = &wn.exc[i];
        if ((uint64_t)x->base_at + x->base_len > wn.arena_len || x->pos >= NPOS ||
            (x->next != -1 && (x->next < 0 || (size_t)x->next >= wn.nexc)))
            return 0;
    }
    return 1;
}

static int cache_load(const char *dir)
{
    int fd = open(cache_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return DP_ERR_NOT_FOUND;
    struct wnc_header h, want;
    memset(&want, 0, sizeof want);
    source_stamp(dir, want.source);
    struct stat st;
    uint64_t total = 0;
    int ok = !fstat(fd, &st) && read(fd, &h, sizeof h) == (ssize_t)sizeof h && !memcmp(h.magic, WNC_MAGIC, 8) &&
             h.entry_size == sizeof(struct entry) && h.exc_size == sizeof(struct exc) &&
             !memcmp(h.source, want.source, sizeof h.source) && h.cap && !(h.cap & (h.cap - 1)) && h.cap <= 1u << 24 &&
             h.n < h.cap && h.arena_len < 1u << 30 && h.nexc < 1u << 24;
    if (ok) {
        total = sizeof h + (uint64_t)h.cap * sizeof(struct entry) + pad8(h.arena_len) + h.nexc * sizeof(struct exc);
        ok = (uint64_t)st.st_size == total;
    }
    char *m = ok ? mmap(NULL, (size_t)total, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (m == MAP_FAILED)
        return DP_ERR_IO;
    wn.table = (struct entry *)(m + sizeof h);
    wn.cap = h.cap;
    wn.n = h.n;
    wn.arena = m + sizeof h + (size_t)h.cap * sizeof(struct entry);
    wn.arena_len = wn.arena_cap = (size_t)h.arena_len;
    wn.exc = (struct exc *)(wn.arena + pad8(h.arena_len));
    wn.nexc = wn.exc_cap = (size_t)h.nexc;
    if (cache_consistent())
        return DP_OK;
    DP_LOG(LOG_WARN, "[text] the WordNet cache %s is damaged; parsing WordNet again", cache_path);
    munmap(m, (size_t)total);
    memset(&wn, 0, sizeof wn);
    return DP_ERR_IO;
}

static void cache_save(const char *dir)
{
    char tmp[1100], parent[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", cache_path);
    snprintf(parent, sizeof parent, "%s", cache_path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = 0;
        mkdir(parent, 0700);
    }
    struct wnc_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, WNC_MAGIC, 8);
    h.entry_size = sizeof(struct entry);
    h.exc_size = sizeof(struct exc);
    h.cap = wn.cap;
    h.n = wn.n;
    h.nexc = wn.nexc;
    h.arena_len = wn.arena_len;
    source_stamp(dir, h.source);
    static const char zeros[8];
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = fd < 0 || fd_write_all(fd, &h, sizeof h) ||
              fd_write_all(fd, wn.table, (size_t)wn.cap * sizeof(struct entry)) ||
              fd_write_all(fd, wn.arena, wn.arena_len) || fd_write_all(fd, zeros, pad8(wn.arena_len) - wn.arena_len) ||
              fd_write_all(fd, wn.exc, wn.nexc * sizeof(struct exc));
    if (fd >= 0 && close(fd))
        err = 1;
    if (err || rename(tmp, cache_path)) {
        unlink(tmp);
        DP_LOG(LOG_WARN, "[text] cannot save the WordNet cache %s", cache_path);
    }
}

int wordnet_open(const char *dir)
{
    if (opened)
        return wn.ready ? DP_OK : DP_ERR_NOT_FOUND;
    opened = 1;
    int cached = *cache_path && cache_load(dir) == DP_OK;
    for (int p = 0; cached && p < NPOS; p++)
        if (map_data(dir, p))
            cached = 0, memset(&wn, 0, sizeof wn); /* the data files went: parsed again (and fails) */
    if (cached) {
        wn.ready = 1;
        DP_LOG(LOG_DEBUG, "[text] WordNet from %s: %u words, %zu exceptions", cache_path, wn.n, wn.nexc);
        return DP_OK;
    }
    wn.cap = 1u << 18;
    /* The table (12 MiB) is touched all over as words hash into it: mapped with its pages
     * populated in one go rather than one fault at a time (thousands; most of the load's time on
     * a virtual machine). Lives as long as the process, like the rest of WordNet. */
    void *t = mmap(NULL, (size_t)wn.cap * sizeof *wn.table, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    wn.table = t == MAP_FAILED ? NULL : t;
    int err = wn.table ? DP_OK : DP_ERR_NOMEM;
    for (int p = 0; p < NPOS && !err; p++)
        err = load_index(dir, p);
    for (int p = 0; p < NPOS && !err; p++)
        err = load_exceptions(dir, p);
    for (int p = 0; p < NPOS && !err; p++)
        err = map_data(dir, p);
    if (err) {
        DP_LOG(LOG_WARN,
               "[text] WordNet not usable in %s (%s; install wordnet-base): word keys fall back to suffix rules", dir,
               dp_strerror(err));
        return err;
    }
    wn.ready = 1;
    DP_LOG(LOG_DEBUG, "[text] WordNet: %u words, %zu exceptions", wn.n, wn.nexc);
    if (*cache_path)
        cache_save(dir);
    return DP_OK;
}

static void open_default(void)
{
    if (opened)
        return;
    const char *dir = getenv("DOPPEL_WORDNET_DIR");
    wordnet_open(*chosen_dir ? chosen_dir : dir && *dir ? dir : "/usr/share/wordnet");
}

int wordnet_use(const char *dir)
{
    if (!dir || !*dir || strlen(dir) >= sizeof chosen_dir)
        return DP_ERR_INVALID;
    memcpy(chosen_dir, dir, strlen(dir) + 1);
    char path[1100];
    snprintf(path, sizeof path, "%s/index.noun", dir);
    if (access(path, R_OK)) {
        DP_LOG(LOG_WARN, "[text] WordNet not found in %s (install wordnet-base): word keys fall back to suffix rules",
               dir);
        return DP_ERR_NOT_FOUND;
    }
    return DP_OK;
}

uint64_t wordnet_fingerprint(void)
{
    if (!wordnet_ready())
        return 0;
    uint64_t f = (uint64_t)wn.n << 32 ^ (uint64_t)wn.nexc;
    for (int p = 0; p < NPOS; p++)
        f = f * 1099511628211u ^ (uint64_t)wn.data_len[p];
    return f;
}

int wordnet_ready(void)
{
    pthread_once(&default_once, open_default);
    return wn.ready;
}

/* How strongly WordNet attests a word: the tagged senses of its best attested part of speech, plus
 * one for being a lemma at all (an untagged lemma still beats a word WordNet does not know). One
 * part of speech, as a detached base is weighed (morphy): "living" is the verb live (6 tagged
 * senses) before the noun living (4), "scared" the verb scare (2) before the adjective (1). */
static long weight(const struct entry *e)
{
    long w = 0;
    for (int p = 0; p < NPOS; p++)
        if ((e->in_pos & (1 << p)) && 1 + e->tag[p] > w)
            w = 1 + e->tag[p];
    return w;
}

struct best {
    const char *s;
    size_t n;
    long weight;
};

static void consider(struct best *b, const char *s, size_t n, long w)
{
    if (w > b->weight || (w == b->weight && n < b->n)) {
        b->s = s;
        b->n = n;
        b->weight = w;
    }
}

/* morphy's detachment rules: (suffix, ending) per part of speech. */
static const struct rule {
    int pos;
    const char *suffix, *ending;
} rules[] = {
    {NOUN, "s", ""},      {NOUN, "ses", "s"},   {NOUN, "xes", "x"}, {NOUN, "zes", "z"}, {NOUN, "ches", "ch"},
    {NOUN, "shes", "sh"}, {NOUN, "men", "man"}, {NOUN, "ies", "y"}, {VERB, "s", ""},    {VERB, "ies", "y"},
    {VERB, "es", "e"},    {VERB, "es", ""},     {VERB, "ed", "e"},  {VERB, "ed", ""},   {VERB, "ing", "e"},
    {VERB, "ing", ""},    {ADJ, "er", ""},      {ADJ, "est", ""},   {ADJ, "er", "e"},   {ADJ, "est", "e"},
};

/* Lemmas already found, shared by all threads: indexing 100k memories asks for a few million
 * words out of a few tens of thousands, and morphy costs a few dozen table lookups a word. A
 * direct-mapped table (a newer word takes the slot), locked in stripes. */
#define CACHE_SLOTS 65536
#define CACHE_WORD 24
#define CACHE_LOCKS 64
struct cached {
    uint8_t wlen, klen; /* wlen 0: empty; klen 0: WordNet knows no lemma */
    char word[CACHE_WORD], key[CACHE_WORD];
};
static struct cached cache[CACHE_SLOTS];
static pthread_mutex_t cache_locks[CACHE_LOCKS];
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_init(void)
{
    for (int i = 0; i < CACHE_LOCKS; i++)
        pthread_mutex_init(&cache_locks[i], NULL);
}

static size_t morphy(const char *w, size_t n, char *out, size_t cap);

size_t wordnet_lemma(const char *w, size_t n, char *out, size_t cap)
{
    if (!wordnet_ready() || n > 64)
        return 0;
    if (n >= CACHE_WORD || n == 0)
        return morphy(w, n, out, cap);
    pthread_once(&cache_once, cache_init);
    uint32_t h = hash_fnv1a(w, n), slot = h & (CACHE_SLOTS - 1);
    pthread_mutex_t *lock = &cache_locks[slot % CACHE_LOCKS];
    struct cached *c = &cache[slot];
    pthread_mutex_lock(lock);
    int hit = c->wlen == n && !memcmp(c->word, w, n) && c->klen <= cap;
    size_t k = hit ? c->klen : 0;
    if (hit)
        memcpy(out, c->key, k);
    pthread_mutex_unlock(lock);
    if (hit)
        return k;
    char key[72];
    k = morphy(w, n, key, sizeof key);
    if (k > cap)
        return 0;
    memcpy(out, key, k);
    if (k < CACHE_WORD) {
        pthread_mutex_lock(lock);
        c->wlen = (uint8_t)n;
        c->klen = (uint8_t)k;
        memcpy(c->word, w, n);
        memcpy(c->key, key, k);
        pthread_mutex_unlock(lock);
    }
    return k;
}

/* WordNet's morphy (see wordnet.h): the lemma of w[0..n), 0 when none. */
static size_t morphy(const char *w, size_t n, char *out, size_t cap)
{
    struct best b = {NULL, 0, -1};
    const struct entry *self = find(w, n);
    if (self && self->in_pos)
        consider(&b, w, n, weight(self));
    for (int32_t x = self ? self->exc : -1; x >= 0; x = wn.exc[x].next) {
        const struct entry *base = find(wn.arena + wn.exc[x].base_at, wn.exc[x].base_len);
        /* an irregular form is that word even when WordNet has no sense of the base tagged */
        consider(&b, wn.arena + wn.exc[x].base_at, wn.exc[x].base_len, base ? weight(base) + 1 : 1);
    }
    char buf[72];
    for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
        size_t sl = strlen(rules[r].suffix), el = strlen(rules[r].ending);
        if (n <= sl + 1 || memcmp(w + n - sl, rules[r].suffix, sl))
            continue;
        /* morphy keeps "glass", "bus" and two-letter words whole */
        if (rules[r].pos == NOUN && (n <= 2 || (n >= 2 && w[n - 2] == 's' && w[n - 1] == 's')))
            continue;
        size_t bl = n - sl + el;
        memcpy(buf, w, n - sl);
        memcpy(buf + n - sl, rules[r].ending, el);
        const struct entry *base = find(buf, bl);
        /* a base weighs as the part of speech its rule makes of it: "scared" is the verb scare or
         * the adjective scared, never the verb scar for all that "scar" is a common noun */
        if (base && (base->in_pos & (1 << rules[r].pos)))
            consider(&b, wn.arena + base->name_at, base->name_len, 1 + (long)base->tag[rules[r].pos]);
    }
    if (!b.s || b.n > cap)
        return 0;
    memcpy(out, b.s, b.n);
    return b.n;
}

/* The words of the synset at offset in data.<pos>; with links of the given pointer symbol
 * ("@" hypernym, "&" similar) followed one step when follow is set. */
struct related {
    char (*out)[32];
    int *kind;
    int n, max;
    const char *self;
    size_t self_len;
    /* only words whose own most frequent senses include the synset: of a phrase ("pass away"),
     * whose synsets hold common words in rare senses (die ~ go, exit, pass) */
    int strict;
    /* collect only collocations of two or three words ("bronze_star"), instead of only single words */
    int phrases;
};

static void add_related(struct related *r, const char *w, size_t n, int kind)
{
    int parts = 1;
    for (size_t i = 0; i < n; i++)
        parts += w[i] == '_';
    if (r->n >= r->max || n == 0 || n >= 32 || (r->phrases ? parts < 2 || parts > 3 : parts > 1) || memchr(w, '-', n))
        return;
    char low[32];
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
    low[n] = 0;
    if (n == r->self_len && !memcmp(low, r->self, n))
        return;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->out[i], low))
            return;
    memcpy(r->out[r->n], low, n + 1);
    if (r->kind)
        r->kind[r->n] = kind;
    r->n++;
}

/* 1 when the synset at offset of pos is one of the most frequent senses of word[0..n) (its case
 * folded). */
static int among_senses(const char *word, size_t n, int pos, uint32_t offset)
{
    char low[65];
    if (n >= sizeof low)
        return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] + 32 : word[i]);
    const struct entry *e = find(low, n);
    for (int s = 0; e && s < e->nsense[pos]; s++)
        if (e->sense[pos][s] == offset)
            return 1;
    return 0;
}

static void synset(struct related *r, int pos, uint32_t offset, int kind, const char *follow, int follow_max)
{
    if (offset >= wn.data_len[pos])
        return;
    const char *p = wn.data[pos] + offset, *end = wn.data[pos] + wn.data_len[pos];
    char line[4096];
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((eol ? eol : end) - p);
    if (len >= sizeof line)
        len = sizeof line - 1;
    memcpy(line, p, len);
    line[len] = 0;
    char *save, *tok[4];
    for (int i = 0; i < 4; i++)
        if (!(tok[i] = strtok_r(i ? NULL : line, " ", &save)))
            return;
    int words = (int)strtol(tok[3], NULL, 16);
    for (int i = 0; i < words; i++) {
        char *word = strtok_r(NULL, " ", &save), *lex = strtok_r(NULL, " ", &save);
        if (!word || !lex)
            return;
        char *paren = strchr(word, '('); /* adjectives' syntactic markers: "afraid(p)" */
        size_t wl = paren ? (size_t)(paren - word) : strlen(word);
        if (r->strict && !among_senses(word, wl, pos, offset))
            continue;
        add_related(r, word, wl, kind);
    }
    if (!follow)
        return;
    char *pc = strtok_r(NULL, " ", &save);
    int ptrs = pc ? atoi(pc) : 0, followed = 0;
    for (int i = 0; i < ptrs; i++) {
        char *sym = strtok_r(NULL, " ", &save), *off = strtok_r(NULL, " ", &save), *ps = strtok_r(NULL, " ", &save),
             *st = strtok_r(NULL, " ", &save);
        if (!sym || !off || !ps || !st)
            return;
        if (strcmp(sym, follow) || followed >= follow_max)
            continue;
        int tp = ps[0] == 'n' ? NOUN : ps[0] == 'v' ? VERB : ps[0] == 'r' ? ADV : ADJ;
        followed++;
        /* the linked synset is read into its own buffer, after this one's tokens are used */
        struct related sub = *r;
        synset(&sub, tp, (uint32_t)strtoul(off, NULL, 10), kind + 1, NULL, 0);
        r->n = sub.n;
    }
}

/* The line of the synset at offset in data.<pos> into line (cap bytes); 0 when out of range. */
static int synset_line(int pos, uint32_t offset, char *line, size_t cap)
{
    if (offset >= wn.data_len[pos])
        return 0;
    const char *p = wn.data[pos] + offset, *end = wn.data[pos] + wn.data_len[pos];
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((eol ? eol : end) - p);
    if (len >= cap)
        len = cap - 1;
    memcpy(line, p, len);
    line[len] = 0;
    return 1;
}

/* The synset at offset in data.<pos> read into line and tokenised up to its words: how many
 * words it has (their "word lex_id" pairs follow in *save), -1 when it cannot be read. */
static int synset_open(int pos, uint32_t offset, char line[4096], char **save)
{
    char *tok;
    if (!synset_line(pos, offset, line, 4096))
        return -1;
    for (int i = 0; i < 3; i++)
        if (!strtok_r(i ? NULL : line, " ", save))
            return -1;
    return (tok = strtok_r(NULL, " ", save)) ? (int)strtol(tok, NULL, 16) : -1;
}

/* Word number k (1-based) of the synset at offset in data.<pos>, added to r (kind). */
static void synset_word(struct related *r, int pos, uint32_t offset, int k, int kind)
{
    char line[4096], *save;
    if (k < 1 || k > synset_open(pos, offset, line, &save))
        return;
    for (int i = 1; i <= k; i++) {
        char *word = strtok_r(NULL, " ", &save), *lex = strtok_r(NULL, " ", &save);
        if (!word || !lex)
            return;
        if (i == k)
            add_related(r, word, strcspn(word, "("), kind);
    }
}

/* The words derived from lemma in the synset at offset (WordNet's lexical "+" pointers, from this
 * word only: song → sing, die → death, marry → marriage), at most max, as kind. */
static void derived(struct related *r, int pos, uint32_t offset, const char *lemma, size_t n, int kind, int max)
{
    char line[4096], *save;
    int words = synset_open(pos, offset, line, &save), self = 0;
    for (int i = 1; i <= words; i++) {
        char *word = strtok_r(NULL, " ", &save), *lex = strtok_r(NULL, " ", &save);
        if (!word || !lex)
            return;
        size_t wl = strcspn(word, "(");
        if (wl == n && !strncasecmp(word, lemma, n))
            self = i;
    }
    if (words < 0)
        return;
    char *pc = strtok_r(NULL, " ", &save);
    int ptrs = pc ? atoi(pc) : 0, got = 0;
    struct {
        int pos;
        uint32_t off;
        int k;
    } links[8];
    for (int i = 0; i < ptrs && self && got < max && got < 8; i++) {
        char *sym = strtok_r(NULL, " ", &save), *off = strtok_r(NULL, " ", &save), *ps = strtok_r(NULL, " ", &save),
             *st = strtok_r(NULL, " ", &save);
        if (!sym || !off || !ps || !st || strlen(st) != 4)
            return;
        unsigned src = 0, tgt = 0;
        if (strcmp(sym, "+") || sscanf(st, "%2x%2x", &src, &tgt) != 2 || (int)src != self)
            continue;
        links[got].pos = ps[0] == 'n' ? NOUN : ps[0] == 'v' ? VERB : ps[0] == 'r' ? ADV : ADJ;
        if (links[got].pos == pos) /* friend → friendship: another word, not another use of it */
            continue;
        links[got].off = (uint32_t)strtoul(off, NULL, 10);
        links[got++].k = (int)tgt;
    }
    /* read after this line's tokens are used: synset_word has its own buffer */
    for (int i = 0; i < got; i++)
        synset_word(r, links[i].pos, links[i].off, links[i].k, kind);
}

static int related_of(const char *lemma, size_t n, char (*out)[32], int *kind, int max, int phrases)
{
    if (!wordnet_ready() || max <= 0)
        return 0;
    const struct entry *e = find(lemma, n);
    if (!e || !e->in_pos)
        return 0;
    struct related r = {out, kind, 0, max, lemma, n, memchr(lemma, '_', n) != NULL, phrases};
    /* Only the parts of speech the word is mostly used in ("went" is the verb go, not the noun
     * go; "father" the noun, not the verb that is a synonym of "mother"), by WordNet's tags;
     * synonyms of their most frequent senses first, then one step up from a noun's first sense. */
    int most = 0;
    for (int p = 0; p < NPOS; p++)
        most = e->tag[p] > most ? e->tag[p] : most;
    int use[NPOS];
    /* a word none of whose senses was tagged ("mom", "grandpa") has its only readings to go by */
    for (int p = 0; p < NPOS; p++)
        use[p] = e->nsense[p] && (most == 0 || (e->tag[p] > 0 && e->tag[p] * 2 >= most));
    for (int p = 0; p < NPOS; p++)
        for (int s = 0; use[p] && s < e->nsense[p]; s++)
            synset(&r, p, e->sense[p][s], 0, NULL, 0);
    /* the same word in another part of speech (song ~ sing, death ~ die), of the first sense: a
     * couple, before the wider links (callers keep the first few) */
    for (int p = 0; p < NPOS; p++)
        if (use[p])
            derived(&r, p, e->sense[p][0], lemma, n, 0, 2);
    if (use[NOUN]) {
        synset(&r, NOUN, e->sense[NOUN][0], 0, "@", 2);
        /* father → dad, medal → (kinds of medal); the named kinds are mostly collocations (the
         * Bronze Star, the Purple Heart): all of them for those */
        synset(&r, NOUN, e->sense[NOUN][0], 0, "~", phrases ? 64 : 8);
    }

    return r.n;
}

int wordnet_related(const char *lemma, size_t n, char (*out)[32], int *kind, int max)
{
    return related_of(lemma, n, out, kind, max, 0);
}

int wordnet_related_phrases(const char *lemma, size_t n, char (*out)[32], int *kind, int max)
{
    return related_of(lemma, n, out, kind, max, 1);
}

/* 1 when the synset at offset of data.noun, or one above it by at most depth hypernym links
 * ("@", "@i") and parts part-of links ("#p": a mine is part of a colliery), holds one of the
 * words of kinds (lower case, '_' for spaces). */
static int noun_reaches(uint32_t offset, const char *const *kinds, int depth, int parts)
{
    char line[4096], *save;
    int words = synset_open(NOUN, offset, line, &save);
    if (words < 0)
        return 0;
    for (int i = 0; i < words; i++) {
        char *word = strtok_r(NULL, " ", &save), *lex = strtok_r(NULL, " ", &save);
        if (!word || !lex)
            return 0;
        for (const char *const *k = kinds; *k; k++)
            if (!strcasecmp(word, *k))
                return 1;
    }
    if (depth <= 0)
        return 0;
    char *pc = strtok_r(NULL, " ", &save);
    int ptrs = pc ? atoi(pc) : 0, up = 0, whole = 0;
    uint32_t above[4], wholes[4];
    for (int i = 0; i < ptrs; i++) {
        char *sym = strtok_r(NULL, " ", &save), *off = strtok_r(NULL, " ", &save), *ps = strtok_r(NULL, " ", &save),
             *st = strtok_r(NULL, " ", &save);
        if (!sym || !off || !ps || !st)
            break;
        if ((!strcmp(sym, "@") || !strcmp(sym, "@i")) && ps[0] == 'n' && up < 4)
            above[up++] = (uint32_t)strtoul(off, NULL, 10);
        else if (parts > 0 && !strcmp(sym, "#p") && ps[0] == 'n' && whole < 4)
            wholes[whole++] = (uint32_t)strtoul(off, NULL, 10);
    }
    /* read after this line's tokens are used: each level has its own buffer */
    for (int i = 0; i < up; i++)
        if (noun_reaches(above[i], kinds, depth - 1, parts))
            return 1;
    for (int i = 0; i < whole; i++)
        if (noun_reaches(wholes[i], kinds, depth - 1, parts - 1))
            return 1;
    return 0;
}

static int noun_senses_reach(const char *lemma, size_t n, const char *const *kinds, int parts)
{
    if (!wordnet_ready())
        return 0;
    const struct entry *e = find(lemma, n);
    if (!e)
        return 0;
    for (int s = 0; s < e->nsense[NOUN] && s < SENSES; s++)
        if (noun_reaches(e->sense[NOUN][s], kinds, 12, parts))
            return 1;
    return 0;
}

int wordnet_noun_is_a(const char *lemma, size_t n, const char *const *kinds)
{
    return noun_senses_reach(lemma, n, kinds, 0);
}

int wordnet_noun_in_a(const char *lemma, size_t n, const char *const *kinds)
{
    return noun_senses_reach(lemma, n, kinds, 1);
}
