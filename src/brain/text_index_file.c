/* An avatar's text index as a snapshot file beside the database, so that the first search after
 * a restart reads the index (tens of milliseconds at 100k memories) where building it takes most
 * of a second.
 *
 * Never stale: the file is labelled with the memory revision it was built from. A loader takes it
 * only when that revision is not ahead of the database's; text_index.c then lays an overlay of the
 * memories changed since (read through the memory_changes log) over it, or builds the index
 * whole when the log cannot bridge the gap — exactly as for an index built in this process.
 *
 * Layout: a fixed header, then the index's arrays one after another in their in-memory form, each
 * starting at a multiple of 8 bytes (host byte order; the header's byte-order mark and format
 * version refuse a file from another machine or build). Written to a temporary name and renamed,
 * so a crash leaves the old file or the new one, never half of one, and a mapping of the old one
 * stays valid. Read back by mapping it (copy-on-write): the arrays are used where they lie, so a
 * load costs page faults rather than copies; every offset is checked first, so a damaged file is
 * refused rather than trusted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brain/text_index_impl.h"
#include "core/err.h"
#include "core/fd_io.h"
#include "core/log.h"
#include "core/text.h"
#include "core/wordnet.h"

/* Bumped whenever the layout or how words are keyed (core/text.c, core/stem.c) changes: older
 * files are then rebuilt. A change of WordNet (a package upgrade) shows in its fingerprint. */
#define TIX_FORMAT 3
#define TIX_MAGIC "DPTIX\r\n"
#define TIX_BOM 0x01020304u

/* What a saved index's word keys depend on: the WordNet loaded and the rules that key words. */
static uint64_t keys_fingerprint(void)
{
    return wordnet_fingerprint() * 31 + TEXT_KEY_RULES;
}

struct tix_header {
    char magic[8];
    uint32_t format, bom;
    uint32_t sizes[4]; /* of the posting, term, speakers and id records: the layout this build has */
    uint64_t wordnet;  /* keys_fingerprint(): the WordNet and the key rules the words were keyed with */
    char avatar[ID_LEN];
    int64_t rev;
    int32_t lang, sorted, ndocs, pad;
    uint32_t cap, nterms;
    uint64_t arena_len, npostings;
    double total_len, avgdl;
    char name[128];
    uint8_t self[SPEAKERS_MAX + 1];
};

static void header_sizes(uint32_t s[4])
{
    s[0] = sizeof(struct posting);
    s[1] = sizeof(struct term);
    s[2] = sizeof(struct speakers);
    s[3] = ID_LEN;
}

/* The file of avatar_id in dir (dir/<avatar>.tix). */
static int file_name(char *out, size_t cap, const char *dir, const char *avatar_id, const char *suffix)
{
    return (size_t)snprintf(out, cap, "%s/%s.tix%s", dir, avatar_id, suffix) < cap ? DP_OK : DP_ERR_TOO_LARGE;
}

/* n rounded up to the alignment every part starts at. */
static uint64_t padded(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

static uint64_t postings_of(const struct text_index *x)
{
    uint64_t n = 0;
    for (uint32_t s = 0; s < x->cap; s++)
        if (x->terms[s].key_len && (uint64_t)x->terms[s].first + x->terms[s].count > n)
            n = (uint64_t)x->terms[s].first + x->terms[s].count;
    return n;
}

int text_index_file_save(const struct text_index *x, const char *dir)
{
    if (!dir || !*dir || x->base || x->too_large || !x->cap)
        return DP_ERR_INVALID; /* overlays and markers are never saved: they lie on a base */
    char path[4096], tmp[4096];
    if (file_name(path, sizeof path, dir, x->head.avatar, "") ||
        file_name(tmp, sizeof tmp, dir, x->head.avatar, ".tmp"))
        return DP_ERR_TOO_LARGE;
    struct tix_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TIX_MAGIC, sizeof h.magic);
    h.format = TIX_FORMAT;
    h.bom = TIX_BOM;
    header_sizes(h.sizes);
    h.wordnet = keys_fingerprint();
    memcpy(h.avatar, x->head.avatar, ID_LEN);
    h.rev = x->head.rev;
    h.lang = (int32_t)x->lang;
    h.sorted = x->sorted;
    h.ndocs = x->ndocs;
    h.cap = x->cap;
    h.nterms = x->nterms;
    h.arena_len = x->arena_len;
    h.npostings = postings_of(x);
    h.total_len = x->total_len;
    h.avgdl = x->avgdl;
    memcpy(h.name, x->name, sizeof h.name);
    memcpy(h.self, x->self, sizeof h.self);
    size_t n = (size_t)x->ndocs;
    mkdir(dir, 0700);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return DP_ERR_IO;
    int err = fd_write_all(fd, &h, sizeof h);
    const struct {
        const void *p;
        size_t n;
    } parts[] = {{x->ids, n * ID_LEN},
                 {x->doclen, n * sizeof *x->doclen},
                 {x->importance, n * sizeof *x->importance},
                 {x->created_ms, n * sizeof *x->created_ms},
                 {x->year, n * sizeof *x->year},
                 {x->speaker, n},
                 {x->says_when, n},
                 {x->answers, n},
                 {x->speakers, sizeof *x->speakers},
                 {x->terms, (size_t)x->cap * sizeof *x->terms},
                 {x->arena, x->arena_len},
                 {x->postings, (size_t)h.npostings * sizeof *x->postings}};
    static const char zeros[8];
    for (size_t i = 0; i < sizeof parts / sizeof *parts && !err; i++)
        if (!(err = fd_write_all(fd, parts[i].p, parts[i].n)))
            err = fd_write_all(fd, zeros, padded(parts[i].n) - parts[i].n);
    if (close(fd) && !err)
        err = DP_ERR_IO;
    if (!err && rename(tmp, path))
        err = DP_ERR_IO;
    if (err)
        unlink(tmp);
    return err;
}

/* Every offset inside the index points inside it: the hash table has a free slot (lookups end),
 * keys lie in the arena, postings in the postings and their memories among the memories. */
static int consistent(const struct text_index *x, uint64_t npostings)
{
    if (!x->cap || (x->cap & (x->cap - 1)) || x->nterms >= x->cap || x->speakers->n < 0 ||
        x->speakers->n > SPEAKERS_MAX)
        return 0;
    uint32_t used = 0;
    for (uint32_t s = 0; s < x->cap; s++) {
        const struct term *t = &x->terms[s];
        if (t->key_len && ((uint64_t)t->key_at + t->key_len > x->arena_len ||
                           (uint64_t)t->first + t->count > npostings || t->own > t->count || t->key_len > TEXT_KEY_MAX))
            return 0;
        used += t->key_len != 0;
    }
    if (used != x->nterms)
        return 0; /* the count says a slot is free; a table without one would be probed forever */
    for (int i = 0; i < x->speakers->n; i++) {
        const struct speakers *sp = x->speakers;
        if (!memchr(sp->s[i].label, 0, sizeof sp->s[i].label) || sp->s[i].nkeys < 0 || sp->s[i].nkeys > SPEAKER_KEYS)
            return 0;
        for (int k = 0; k < sp->s[i].nkeys; k++)
            if (sp->s[i].len[k] > TEXT_KEY_MAX)
                return 0;
    }
    for (uint64_t i = 0; i < npostings; i++)
        if (x->postings[i].doc >= (uint32_t)x->ndocs)
            return 0;
    for (int d = 0; d < x->ndocs; d++)
        if (memchr(x->ids[d], 0, ID_LEN) == NULL || x->speaker[d] > x->speakers->n)
            return 0;
    return 1;
}

struct text_index *text_index_file_load(const char *dir, const char *avatar_id, int64_t max_rev)
{
    char path[4096];
    if (!dir || !*dir || file_name(path, sizeof path, dir, avatar_id, ""))
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct tix_header h;
    uint32_t sizes[4];
    header_sizes(sizes);
    struct stat st;
    struct text_index *x = NULL;
    char *map = MAP_FAILED;
    if (fstat(fd, &st) || (uint64_t)st.st_size < sizeof h || fd_read_all(fd, &h, sizeof h) ||
        memcmp(h.magic, TIX_MAGIC, sizeof h.magic) || h.format != TIX_FORMAT || h.bom != TIX_BOM ||
        memcmp(h.sizes, sizes, sizeof sizes) || strncmp(h.avatar, avatar_id, ID_LEN) || h.rev > max_rev || h.rev < 0 ||
        h.ndocs < 0 || h.lang < 0 || h.lang >= LANG_COUNT || h.cap > (1u << 30) || h.arena_len > (1u << 31) ||
        h.npostings > 0x7fffffffu)
        goto fail;
    uint64_t n = (uint64_t)h.ndocs;
    const uint64_t part[] = {n * ID_LEN,
                             n * sizeof(uint32_t),
                             n * sizeof(float),
                             n * sizeof(int64_t),
                             n * sizeof(int16_t),
                             n,
                             n,
                             n,
                             sizeof(struct speakers),
                             (uint64_t)h.cap * sizeof(struct term),
                             h.arena_len,
                             h.npostings * sizeof(struct posting)};
    enum {
        P_IDS,
        P_DOCLEN,
        P_IMPORTANCE,
        P_CREATED,
        P_YEAR,
        P_SPEAKER,
        P_WHEN,
        P_ANSWERS,
        P_SPEAKERS,
        P_TERMS,
        P_ARENA,
        P_POSTINGS,
        P_COUNT
    };
    uint64_t at[P_COUNT], want = sizeof h;
    for (int i = 0; i < P_COUNT; i++) {
        at[i] = want;
        want += padded(part[i]);
    }
    if ((uint64_t)st.st_size != want)
        goto fail;
    map = mmap(NULL, (size_t)want, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED || !(x = text_index_alloc(avatar_id, h.rev, 0)))
        goto fail;
    text_index_free_arrays(x); /* the arrays text_index_alloc made give way to the file's */
    x->map = map;
    x->map_len = (size_t)want;
    map = MAP_FAILED;
    char *m = x->map;
    x->ids = (void *)(m + at[P_IDS]);
    x->doclen = (void *)(m + at[P_DOCLEN]);
    x->importance = (void *)(m + at[P_IMPORTANCE]);
    x->created_ms = (void *)(m + at[P_CREATED]);
    x->year = (void *)(m + at[P_YEAR]);
    x->speaker = (void *)(m + at[P_SPEAKER]);
    x->says_when = (void *)(m + at[P_WHEN]);
    x->answers = (void *)(m + at[P_ANSWERS]);
    x->speakers = (void *)(m + at[P_SPEAKERS]);
    x->terms = (void *)(m + at[P_TERMS]);
    x->arena = m + at[P_ARENA];
    x->postings = (void *)(m + at[P_POSTINGS]);
    x->lang = (enum text_lang)h.lang;
    x->sorted = h.sorted;
    x->ndocs = h.ndocs;
    x->cap = h.cap;
    x->nterms = h.nterms;
    x->arena_len = x->arena_cap = h.arena_len;
    x->total_len = h.total_len;
    x->avgdl = h.avgdl;
    memcpy(x->name, h.name, sizeof x->name);
    x->name[sizeof x->name - 1] = 0;
    memcpy(x->self, h.self, sizeof x->self);
    if (!consistent(x, h.npostings)) {
        DP_LOG(LOG_WARN, "[memory] the search index file %s is damaged; rebuilding", path);
        goto fail;
    }
    /* Last: WordNet may still be loading on another thread (text_index_warm) while the file is
     * mapped and checked. */
    if (h.wordnet != keys_fingerprint())
        goto fail;
    close(fd);
    return x;
fail:
    if (map != MAP_FAILED)
        munmap(map, (size_t)st.st_size);
    if (x)
        text_index_free(&x->head);
    close(fd);
    return NULL;
}

void text_index_file_remove(const char *dir, const char *avatar_id)
{
    char path[4096];
    if (dir && *dir && !file_name(path, sizeof path, dir, avatar_id, ""))
        unlink(path);
}
