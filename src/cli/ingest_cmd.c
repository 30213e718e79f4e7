/* `doppel ingest AVATAR FILE…`: stores files as the avatar's media and processes them, with a
 * progress bar (bytes, then jobs) on a terminal and plain lines otherwise. Works with or
 * without a running server: it runs a job worker of its own, and a server's workers may take
 * some of the jobs (the queue's leases keep each job to one worker at a time). A file the avatar
 * has already (the same bytes) is skipped unless --duplicate copy. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avatar/avatar_jobs.h"
#include "avatar/media.h"
#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "jobs/jobs.h"
#include "store/blob.h"
#include "store/db.h"

#define INGEST_CHUNK (1 << 20)

static int tty;

/* Draws "label [#####.....] 45% detail" on one terminal line, or prints nothing (plain mode
 * prints whole lines at milestones instead). */
static void bar(const char *label, double frac, const char *detail)
{
    if (!tty)
        return;
    char cells[31];
    int filled = (int)(frac * 30 + 0.5);
    for (int i = 0; i < 30; i++)
        cells[i] = i < filled ? '#' : '.';
    cells[30] = 0;
    fprintf(stderr, "\r\033[K%-24.24s [%s] %3d%% %s", label, cells, (int)(frac * 100 + 0.5), detail);
    fflush(stderr);
}

static void mib(double bytes, char *out, size_t cap)
{
    if (bytes < 1048576.0)
        snprintf(out, cap, "%.1f KiB", bytes / 1024.0);
    else
        snprintf(out, cap, "%.1f MiB", bytes / 1048576.0);
}

/* Stores one file; on success job_out holds its processing job, or "" when the avatar has the
 * same bytes already (nothing stored). */
static int ingest_file(struct db *db, struct blob_store *bs, const char *avatar_id, const char *owner, const char *org,
                       const char *path, int flags, char job_out[ID_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: %s\n", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return DP_ERR_IO;
    }
    struct blob_writer *w;
    int err = blob_writer_new(bs, &w);
    char *chunk = malloc(INGEST_CHUNK), sniff[MEDIA_SNIFF_BYTES];
    size_t sniff_len = 0;
    uint64_t done = 0;
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    while (!err && chunk) {
        ssize_t n = read(fd, chunk, INGEST_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? DP_ERR_IO : DP_OK;
            break;
        }
        if (sniff_len < sizeof sniff) {
            size_t take = (size_t)n < sizeof sniff - sniff_len ? (size_t)n : sizeof sniff - sniff_len;
            memcpy(sniff + sniff_len, chunk, take);
            sniff_len += take;
        }
        err = blob_write(w, chunk, (size_t)n);
        done += (uint64_t)n;
        char a[32], b[32], detail[80];
        mib((double)done, a, sizeof a);
        mib((double)st.st_size, b, sizeof b);
        snprintf(detail, sizeof detail, "%s / %s", a, b);
        bar(name, st.st_size ? (double)done / (double)st.st_size : 1.0, detail);
    }
    free(chunk);
    close(fd);
    if (err) {
        blob_abort(w);
        fprintf(stderr, "%s%s: %s\n", tty ? "\n" : "", path, dp_strerror(err));
        return err;
    }
    char clean[256], msg[200] = "";
    media_clean_filename(path, clean);
    json_t *media = NULL;
    err = media_create(db, bs, w, done, sniff, sniff_len, avatar_id, owner, org, clean, flags, NULL, &media, job_out,
                       msg, sizeof msg);
    if (tty)
        fprintf(stderr, "\n");
    if (err) {
        fprintf(stderr, "%s: %s\n", path, *msg ? msg : dp_strerror(err));
        return err;
    }
    if (!*job_out) { /* the avatar has these bytes already: nothing was stored, nothing to wait for */
        printf("skipped %s: the avatar has the same file already as media %s\n", name,
               json_string_value(json_object_get(media, "id")));
        json_decref(media);
        return DP_OK;
    }
    char size[32];
    mib((double)done, size, sizeof size);
    printf("stored %s (%s, %s) as media %s\n", name, json_string_value(json_object_get(media, "mime")), size,
           json_string_value(json_object_get(media, "id")));
    json_decref(media);
    return DP_OK;
}

/* Waits for the jobs, drawing their overall progress; returns how many did not end "done". */
static int wait_jobs(struct db *db, char (*jobs)[ID_LEN], int n)
{
    int *ended = calloc((size_t)n, sizeof *ended), left = n, failed = 0;
    while (left > 0 && ended) {
        double total = 0;
        for (int i = 0; i < n; i++) {
            if (ended[i]) {
                total += 100;
                continue;
            }
            json_t *j = NULL;
            if (job_get_json(db, jobs[i], &j, NULL, NULL))
                continue;
            const char *status = json_string_value(json_object_get(j, "status"));
            total += (double)json_integer_value(json_object_get(j, "progress"));
            if (status && (!strcmp(status, "done") || !strcmp(status, "dead"))) {
                ended[i] = 1;
                left--;
                failed += strcmp(status, "done") != 0;
                if (!tty || strcmp(status, "done"))
                    printf("%sjob %s: %s%s%s\n", tty ? "\r\033[K" : "", jobs[i], status,
                           json_is_string(json_object_get(j, "last_error")) ? " — " : "",
                           json_is_string(json_object_get(j, "last_error"))
                               ? json_string_value(json_object_get(j, "last_error"))
                               : "");
            }
            json_decref(j);
        }
        char detail[64];
        snprintf(detail, sizeof detail, "%d of %d jobs done", n - left, n);
        bar("processing", total / (100.0 * n), detail);
        if (left)
            nanosleep(&(struct timespec){0, 200 * 1000000L}, NULL);
    }
    if (tty)
        fprintf(stderr, "\n");
    free(ended);
    return failed;
}

int cli_ingest(int argc, char **argv)
{
    /* doppel ingest AVATAR FILE… [settings]: positional arguments first, then --flags. */
    int first_flag = 1;
    while (first_flag < argc && strncmp(argv[first_flag], "--", 2))
        first_flag++;
    if (first_flag < 3) {
        fprintf(stderr, "Usage: doppel ingest AVATAR_ID FILE… [--duplicate reuse|copy] [settings, e.g. --data-dir "
                        "DIR]\n");
        return 2;
    }
    const char *avatar_id = argv[1];
    int nfiles = first_flag - 2, nrest = 1, flags = 0;
    char **rest = calloc((size_t)(argc - first_flag + 2), sizeof *rest);
    if (!rest)
        return 1;
    rest[0] = "ingest";
    /* --duplicate is ours (as ?duplicate= of an upload); the rest are settings. */
    for (int i = first_flag; i < argc; i++) {
        const char *v = !strcmp(argv[i], "--duplicate") && i + 1 < argc ? argv[++i]
                        : !strncmp(argv[i], "--duplicate=", 12)         ? argv[i] + 12
                                                                        : NULL;
        if (!v) {
            rest[nrest++] = argv[i];
            continue;
        }
        if (strcmp(v, "reuse") && strcmp(v, "copy")) {
            fprintf(stderr, "doppel ingest: --duplicate must be reuse (skip files the avatar has) or copy\n");
            free(rest);
            return 2;
        }
        flags = !strcmp(v, "copy") ? MEDIA_ALLOW_DUPLICATE : 0;
    }
    struct app *app = app_get();
    int rc = cli_load_config_offline(app, nrest, rest, 1);
    free(rest);
    if (rc)
        return rc < 0 ? 0 : 2;
    tty = isatty(STDERR_FILENO);
    if (!strcmp(app->cfg.log_level, "info"))
        log_setup(!strcmp(app->cfg.log_format, "json"), LOG_WARN); /* the progress is the output */
    int exit_code = 1;
    struct db *db = NULL;
    if (sodium_init() < 0 || db_open(&db, app->database_url) || db_migrate(db, NULL)) {
        fprintf(stderr, "doppel ingest: cannot open the database\n");
        goto out;
    }
    if (blob_store_open(&app->blobs, app->blob_url)) {
        fprintf(stderr, "doppel ingest: cannot open the blob store at %s\n", app->blob_url);
        goto out;
    }
    struct db_rows *r;
    struct db_val p[] = {DB_TEXT(avatar_id)};
    if (db_query(db, "SELECT owner_id, org_id FROM avatars WHERE id = ? AND deleted_at IS NULL", p, 1, &r) ||
        r->nrows != 1) {
        /* Say where we looked: a wrong --data-dir is the usual cause (never print a database URL:
         * it may hold a password). */
        if (*app->cfg.database_url)
            fprintf(stderr, "doppel ingest: no avatar %s in the database of --database-url\n", avatar_id);
        else
            fprintf(stderr, "doppel ingest: no avatar %s in data directory %s\n", avatar_id, app->cfg.data_dir);
        goto out_blobs;
    }
    char owner[ID_LEN], org[ID_LEN];
    snprintf(owner, sizeof owner, "%s", db_rows_text(r, 0, 0));
    snprintf(org, sizeof org, "%s", db_rows_text(r, 0, 1));
    db_rows_free(r);
    char(*jobs)[ID_LEN] = calloc((size_t)nfiles, sizeof *jobs);
    int njobs = 0, failed = 0;
    for (int i = 0; i < nfiles && jobs; i++) {
        if (ingest_file(db, app->blobs, avatar_id, owner, org, argv[2 + i], flags, jobs[njobs]))
            failed++;
        else if (jobs[njobs][0]) /* "" for a file the avatar had already */
            njobs++;
    }
    if (njobs) {
        avatar_jobs_register();
        if (jobs_start(app->database_url, app->cfg.redis_url, app->blobs, 1, (int)app->cfg.job_lease)) {
            fprintf(stderr, "doppel ingest: cannot start a job worker; a running server will process the jobs\n");
        } else {
            failed += wait_jobs(db, jobs, njobs);
            jobs_stop();
        }
    }
    free(jobs);
    printf("%d of %d file(s) stored and processed\n", nfiles - failed, nfiles);
    exit_code = failed ? 1 : 0;
out_blobs:
    media_thread_cleanup();
    blob_store_close(app->blobs);
out:
    if (db)
        db_close(db);
    cli_free_config(app);
    return exit_code;
}
