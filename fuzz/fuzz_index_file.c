/* libFuzzer target: a saved search index read back at start (brain/text_index_file.c: a file on
 * disk, which a crash, a full disk or another program may have damaged). At start-up a real index
 * of a few memories (dialogue turns with speakers, years, questions) is built and saved; each input
 * is a list of patches of it — 5 bytes each: a little-endian offset (modulo the file's length) and
 * the byte to put there — so that the fuzzer starts from a whole file of whatever format this
 * build writes. A patched file that loads must answer searches (named speakers, "you", "when", a
 * year) without reading outside what it holds, and end (no endless probe of its hash table). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brain/text_index.h"
#include "brain/text_index_impl.h"
#include "core/log.h"
#include "store/db.h"

static char dir[256], file[320];
static uint8_t *whole;
static size_t whole_len;

static void put(struct db *db, int n, const char *dialogue, const char *text)
{
    char id[ID_LEN];
    snprintf(id, sizeof id, "00000000-0000-7000-8000-%012d", n);
    struct db_val p[] = {DB_TEXT(id), DB_TEXT(text), dialogue ? DB_TEXT(dialogue) : DB_NULL, DB_INT(n)};
    if (db_query(db,
                 "INSERT INTO memories (id, avatar_id, kind, text, dialogue, seq, importance, occurred_at, created_at, "
                 "updated_at) VALUES (?, 'a1', 'fact', ?, ?, ?, 0.5, '2019-05-01T00:00:00Z', '2020-01-01T00:00:00Z', "
                 "'2020-01-01T00:00:00Z')",
                 p, 4, NULL))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_min_level = LOG_ERROR;
    const char *tmp = getenv("TMPDIR"); /* scripts/fuzz-replay.sh: its scratch directory, removed after */
    snprintf(dir, sizeof dir, "%s/fuzz-index-XXXXXX", tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    char url[300];
    snprintf(url, sizeof url, "%s/doppel.db", dir);
    struct db *db;
    if (db_open(&db, url) || db_migrate(db, NULL) ||
        db_exec_script(
            db, "INSERT INTO users (id, org_id, email, display_name, password_hash, role, created_at, updated_at) "
                "VALUES ('u1', 'default', 'u1@example.test', 'U', 'x', 'member', '2020-01-01T00:00:00Z', "
                "'2020-01-01T00:00:00Z');"
                "INSERT INTO avatars (id, owner_id, org_id, name, kind, visibility, brain, created_at, updated_at) "
                "VALUES ('a1', 'u1', 'default', 'Melanie', 'self', 'private', 'recall', '2020-01-01T00:00:00Z', "
                "'2020-01-01T00:00:00Z');"))
        abort();
    put(db, 1, "d1", "Caroline: Where did you go on holiday last summer?");
    put(db, 2, "d1", "Melanie: We went camping by the lake in 2019 with the kids.");
    put(db, 3, "d1", "Caroline: That sounds lovely! I painted a sunset after my pottery class.");
    put(db, 4, "d1", "Melanie: Your painting of the lake is beautiful.");
    put(db, 5, NULL, "My grandfather taught me to sail when I was a child.");
    put(db, 6, NULL, "We watched a film about whales and octopuses.");
    struct text_index *x;
    if (text_index_build_uncached(db, "a1", 6, &x) || text_index_file_save(x, dir))
        abort();
    text_index_free(&x->head);
    db_close(db);
    unlink(url);
    snprintf(file, sizeof file, "%s/a1.tix", dir);
    FILE *f = fopen(file, "rb");
    if (!f || fseek(f, 0, SEEK_END))
        abort();
    whole_len = (size_t)ftell(f);
    whole = malloc(whole_len);
    if (!whole || fseek(f, 0, SEEK_SET) || fread(whole, 1, whole_len, f) != whole_len)
        abort();
    fclose(f);
    return 0;
}

static void query(struct text_query *q, const char *const *words)
{
    memset(q, 0, sizeof *q);
    for (; *words && q->n < MEMORY_QUERY_TERMS; words++) {
        q->len[q->n] = text_word_key((const unsigned char *)*words, strlen(*words), q->key[q->n]);
        q->word_len[q->n] = text_lower_word((const unsigned char *)*words, strlen(*words), q->word[q->n], TEXT_KEY_MAX);
        q->n++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 5 * 4096)
        return 0;
    uint8_t *bytes = malloc(whole_len);
    if (!bytes)
        abort();
    memcpy(bytes, whole, whole_len);
    for (size_t i = 0; i + 5 <= size; i += 5) {
        uint32_t at =
            (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;
        bytes[at % whole_len] = data[i + 4];
    }
    FILE *f = fopen(file, "wb");
    if (!f || fwrite(bytes, 1, whole_len, f) != whole_len || fclose(f))
        abort();
    free(bytes);
    struct text_index *x = text_index_file_load(dir, "a1", INT64_MAX);
    if (!x)
        return 0;
    static const char *const words[][4] = {{"Caroline", "painting", NULL},
                                           {"lake", "camping", "kids", NULL},
                                           {"where", "holiday", NULL},
                                           {"grandfather", "sail", NULL},
                                           {"movie", "octopus", NULL}};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        struct text_query q;
        query(&q, words[w]);
        q.you = w == 1;
        q.when = w == 2;
        q.year = w == 2 ? 2019 : 0;
        struct text_match *m = NULL;
        int n = 0;
        if (!text_index_rank(x, &q, 5, &m, &n) && (n < 0 || n > 5 || (n && !m)))
            abort();
        for (int i = 0; i < n; i++)
            if (!memchr(m[i].id, 0, sizeof m[i].id))
                abort();
        free(m);
    }
    text_index_free(&x->head);
    return 0;
}
