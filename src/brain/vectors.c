/* Per-avatar vector indexes: a small LRU of loaded avatars, each a contiguous n × dims float32
 * matrix scanned exactly with a bounded min-heap for the top k, kept in the avatar_slots cache
 * (shared by worker threads; a changed avatar is loaded again, never patched). */
#include "brain/vectors.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "brain/avatar_slots.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/db.h"

struct vec_index {
    struct slot_entry head; /* variant: "<model>/<dims>" */
    int n, dims;
    int missing; /* memories without a vector of this model (the memory.embed job's work) */
    char (*ids)[ID_LEN];
    float *vecs; /* n × dims */
    float *importance;
    int64_t *created_ms;
};

static struct avatar_slots cache = AVATAR_SLOTS_INIT;
static size_t max_bytes = (size_t)1 << 30;

void vectors_budget(size_t bytes)
{
    max_bytes = bytes;
    avatar_slots_budget(&cache, bytes);
}

size_t vectors_held(void)
{
    pthread_mutex_lock(&cache.lock);
    size_t n = cache.bytes;
    pthread_mutex_unlock(&cache.lock);
    return n;
}

/* What one loaded vector costs: the row, its id, importance and time. */
#define ROW_BYTES(dims) ((size_t)(dims) * sizeof(float) + ID_LEN + sizeof(float) + sizeof(int64_t))

static void index_free(struct slot_entry *e)
{
    struct vec_index *x = (struct vec_index *)e;
    if (!x)
        return;
    free(x->ids);
    free(x->vecs);
    free(x->importance);
    free(x->created_ms);
    free(x);
}

float vectors_dot(const float *a, const float *b, int dims)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= dims; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    float sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < dims; i++)
        sum += a[i] * b[i];
    return sum;
}

void vectors_to_blob(const float *v, int dims, unsigned char *out)
{
    for (int i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        out[4 * i] = (unsigned char)u;
        out[4 * i + 1] = (unsigned char)(u >> 8);
        out[4 * i + 2] = (unsigned char)(u >> 16);
        out[4 * i + 3] = (unsigned char)(u >> 24);
    }
}

void vectors_from_blob(const unsigned char *b, int dims, float *out)
{
    for (int i = 0; i < dims; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                     (uint32_t)b[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
}

/* Reads every vector of the avatar made by model and dims long; counts the memories without one
 * (no vector yet, or one of another model: the memory.embed job makes them). */
static int index_load(struct db *db, const char *avatar_id, int64_t rev, const char *model, int dims,
                      struct vec_index **out)
{
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(model), DB_TEXT(avatar_id)};
    int err = db_query(db,
                       "SELECT id, CASE WHEN embedding_model = ? THEN embedding END, importance, created_at "
                       "FROM memories WHERE avatar_id = ? ORDER BY id",
                       p, 2, &r);
    if (err)
        return err;
    /* Past the cap the avatar is searched by text alone (an empty index is kept, so the rows
     * are not read again for every search of this revision). */
    int over = (double)r->nrows * (double)ROW_BYTES(dims) > (double)max_bytes;
    if (over)
        DP_LOG(LOG_WARN,
               "[vectors] avatar %s: %d vectors of %d dims exceed --vector-cache-max (%zu MiB); searched by text only",
               avatar_id, r->nrows, dims, max_bytes >> 20);
    struct vec_index *x = calloc(1, sizeof *x);
    size_t rows = over ? 1 : (size_t)r->nrows + 1;
    if (x) {
        x->ids = malloc(rows * sizeof *x->ids);
        x->vecs = malloc(rows * (size_t)dims * sizeof(float));
        x->importance = malloc(rows * sizeof(float));
        x->created_ms = malloc(rows * sizeof(int64_t));
    }
    if (!x || !x->ids || !x->vecs || !x->importance || !x->created_ms) {
        if (x)
            index_free(&x->head);
        db_rows_free(r);
        return DP_ERR_NOMEM;
    }
    snprintf(x->head.avatar, sizeof x->head.avatar, "%s", avatar_id);
    snprintf(x->head.variant, sizeof x->head.variant, "%.128s/%d", model, dims);
    x->head.rev = rev;
    x->head.refs = 1;
    x->head.destroy = index_free;
    x->dims = dims;
    for (int i = 0; i < r->nrows && !over; i++) {
        const struct db_val *blob = &r->cells[(size_t)i * (size_t)r->ncols + 1];
        if (blob->type != DB_T_BLOB || blob->n != (size_t)dims * 4) {
            x->missing++;
            continue;
        }
        snprintf(x->ids[x->n], ID_LEN, "%s", db_rows_text(r, i, 0));
        vectors_from_blob((const unsigned char *)blob->p, dims, x->vecs + (size_t)x->n * (size_t)dims);
        x->importance[x->n] = (float)db_rows_real(r, i, 2);
        int64_t ms = 0;
        time_parse_rfc3339(db_rows_text(r, i, 3), &ms);
        x->created_ms[x->n] = ms;
        x->n++;
    }
    db_rows_free(r);
    x->head.bytes = rows * ROW_BYTES(dims); /* as allocated */
    *out = x;
    return DP_OK;
}

/* A min-heap on score of the best k hits so far: the root is the one to beat. */
static void heap_sift_down(struct vec_hit *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score)
            m = l;
        if (r < n && h[r].score < h[m].score)
            m = r;
        if (m == i)
            return;
        struct vec_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int cmp_hit_desc(const void *a, const void *b)
{
    const struct vec_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->id, y->id);
}

static void index_scan(const struct vec_index *x, const float *q, int k, struct vec_hit *hits, int *n)
{
    int have = 0;
    for (int i = 0; i < x->n; i++) {
        float s = vectors_dot(q, x->vecs + (size_t)i * (size_t)x->dims, x->dims);
        if (have == k && s <= hits[0].score)
            continue;
        struct vec_hit h = {.score = s, .importance = x->importance[i], .created_ms = x->created_ms[i]};
        memcpy(h.id, x->ids[i], ID_LEN);
        if (have < k) {
            /* sift up */
            int c = have++;
            hits[c] = h;
            while (c > 0 && hits[(c - 1) / 2].score > hits[c].score) {
                struct vec_hit t = hits[c];
                hits[c] = hits[(c - 1) / 2];
                hits[(c - 1) / 2] = t;
                c = (c - 1) / 2;
            }
        } else {
            hits[0] = h;
            heap_sift_down(hits, have, 0);
        }
    }
    qsort(hits, (size_t)have, sizeof *hits, cmp_hit_desc);
    *n = have;
}

int vectors_search(struct db *db, const char *avatar_id, int64_t rev, const char *model, const float *q, int dims,
                   int k, struct vec_hit *hits, int *n, int *missing)
{
    *n = 0;
    *missing = 0;
    if (k <= 0 || dims <= 0)
        return DP_OK;
    char variant[sizeof((struct slot_entry *)0)->variant];
    snprintf(variant, sizeof variant, "%.128s/%d", model, dims);
    struct vec_index *x = (struct vec_index *)avatar_slots_find(&cache, avatar_id, rev, variant);
    if (!x) {
        /* Loaded outside the lock: other avatars' searches go on meanwhile. Two threads may load
         * the same avatar at once; the later one simply replaces the earlier. */
        int64_t t0 = time_now_ms();
        int err = index_load(db, avatar_id, rev, model, dims, &x);
        if (err)
            return err;
        DP_LOG(LOG_DEBUG, "[vectors] loaded %d vectors of avatar %s in %lld ms", x->n, avatar_id,
               (long long)(time_now_ms() - t0));
        avatar_slots_keep(&cache, &x->head);
    }
    index_scan(x, q, k, hits, n);
    *missing = x->missing;
    avatar_slots_release(&cache, &x->head);
    return DP_OK;
}

void vectors_reset(void)
{
    avatar_slots_reset(&cache);
}
