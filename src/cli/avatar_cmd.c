/* `doppel avatar import FILE [--owner EMAIL]` and `doppel avatar export ID [--format json|charx|png]
 * [-o FILE]`: Character Cards straight into and out of the configured database, with the same card
 * library as the API (avatar/card.c, avatar/card_store.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "auth/audit.h"
#include "avatar/card.h"
#include "avatar/card_store.h"
#include "cli/cli.h"
#include "core/err.h"
#include "store/blob.h"
#include "store/db.h"

static int usage(void)
{
    fprintf(stderr, "Usage: doppel avatar import FILE [--owner EMAIL] [settings…]\n"
                    "         FILE: a Character Card (V1/V2/V3 JSON, PNG with a card, .charx), or - for stdin.\n"
                    "         The owner defaults to the only user; with several users --owner is required.\n"
                    "       doppel avatar export ID [--format json|charx|png] [-o FILE] [settings…]\n"
                    "         Writes a Character Card V3 to FILE, or to stdout without -o.\n");
    return 2;
}

/* Reads a whole file (or stdin for "-") of at most max bytes. DP_ERR_TOO_LARGE past max. */
static int read_input(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return DP_ERR_IO;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    int err = b ? DP_OK : DP_ERR_NOMEM;
    while (!err) {
        if (n == cap) {
            if (cap > max) {
                err = DP_ERR_TOO_LARGE;
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                err = DP_ERR_NOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            if (ferror(f))
                err = DP_ERR_IO;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!err && n > max)
        err = DP_ERR_TOO_LARGE;
    if (err) {
        free(b);
        return err;
    }
    *out = b;
    *len = n;
    return DP_OK;
}

/* The owner of an import: the user with that e-mail, else the only user there is. */
static int resolve_owner(struct db *db, const char *email, char id[ID_LEN], char org[ID_LEN], char *shown,
                         size_t shown_len)
{
    struct db_rows *r;
    int err;
    if (email) {
        char norm[EMAIL_MAX + 1];
        if (email_normalize(email, norm, sizeof norm)) {
            fprintf(stderr, "doppel avatar import: \"%s\" is not an e-mail address\n", email);
            return DP_ERR_INVALID;
        }
        struct db_val p[] = {DB_TEXT(norm)};
        if ((err = db_query(db, "SELECT id, org_id, email FROM users WHERE email = ?", p, 1, &r)))
            return err;
        if (r->nrows != 1) {
            db_rows_free(r);
            fprintf(stderr, "doppel avatar import: no user %s\n", norm);
            return DP_ERR_NOT_FOUND;
        }
    } else {
        if ((err = db_query(db, "SELECT id, org_id, email FROM users ORDER BY created_at LIMIT 2", NULL, 0, &r)))
            return err;
        if (r->nrows != 1) {
            fprintf(stderr, "doppel avatar import: %s\n",
                    r->nrows ? "there are several users: say whose avatar it is with --owner EMAIL"
                             : "there are no users yet: create one with doppel user add --admin EMAIL");
            db_rows_free(r);
            return DP_ERR_INVALID;
        }
    }
    snprintf(id, ID_LEN, "%s", db_rows_text(r, 0, 0));
    snprintf(org, ID_LEN, "%s", db_rows_text(r, 0, 1));
    snprintf(shown, shown_len, "%s", db_rows_text(r, 0, 2));
    db_rows_free(r);
    return DP_OK;
}

/* Our flags out of argv; the rest (settings such as --database-url) stay for the settings loader.
 * The first bare word (or "-") is the positional argument, unless it is the value of a setting. */
struct args {
    const char *pos, *owner, *format, *output;
    char **rest;
    int nrest;
};

static int split_args(int argc, char **argv, const char *name, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->rest = calloc((size_t)argc + 1, sizeof *a->rest);
    if (!a->rest)
        return -1;
    a->rest[a->nrest++] = (char *)name;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--owner") && i + 1 < argc)
            a->owner = argv[++i];
        else if (!strcmp(s, "--format") && i + 1 < argc)
            a->format = argv[++i];
        else if ((!strcmp(s, "-o") || !strcmp(s, "--output")) && i + 1 < argc)
            a->output = argv[++i];
        else if (!strncmp(s, "--owner=", 8))
            a->owner = s + 8;
        else if (!strncmp(s, "--format=", 9))
            a->format = s + 9;
        else if (!strncmp(s, "--output=", 9))
            a->output = s + 9;
        else if (!a->pos && (s[0] != '-' || !strcmp(s, "-")) &&
                 (i == 2 || strncmp(argv[i - 1], "--", 2) || strchr(argv[i - 1], '=')))
            a->pos = s;
        else
            a->rest[a->nrest++] = argv[i];
    }
    return a->pos ? 0 : -1;
}

/* Opens the configured database, migrated. */
static int open_db(struct app *app, const char *cmd, struct db **db)
{
    int err = db_open(db, app->database_url);
    if (!err && (err = db_migrate(*db, NULL))) {
        fprintf(stderr, "doppel avatar %s: %s\n", cmd, db_errmsg(*db));
        db_close(*db);
        return err;
    }
    if (err)
        fprintf(stderr, "doppel avatar %s: cannot open the database: %s\n", cmd, dp_strerror(err));
    return err;
}

static int avatar_import(int argc, char **argv)
{
    struct args a;
    if (split_args(argc, argv, "avatar import", &a)) {
        free(a.rest);
        return usage();
    }
    char *bytes = NULL;
    size_t len = 0;
    int err = read_input(a.pos, CARD_INPUT_MAX, &bytes, &len);
    if (err) {
        fprintf(stderr, "doppel avatar import: %s: %s\n", a.pos,
                err == DP_ERR_TOO_LARGE ? "larger than 20 MiB"
                : err == DP_ERR_IO      ? strerror(errno)
                                        : dp_strerror(err));
        free(a.rest);
        return 1;
    }
    /* The card is checked before the database is touched. */
    struct card_import imp;
    char msg[256];
    err = card_import_parse(bytes, len, &imp, msg, sizeof msg);
    free(bytes);
    if (err) {
        fprintf(stderr, "doppel avatar import: %s: %s\n", a.pos, msg);
        free(a.rest);
        return 1;
    }
    struct app *app = app_get();
    int rc = cli_load_config_offline(app, a.nrest, a.rest, 0);
    free(a.rest);
    if (rc) {
        card_import_cleanup(&imp);
        return rc < 0 ? 0 : 2;
    }
    int exit_code = 1;
    struct db *db;
    if (open_db(app, "import", &db))
        goto out;
    char owner[ID_LEN], org[ID_LEN], email[EMAIL_MAX + 1], id[ID_LEN];
    if (!(err = resolve_owner(db, a.owner, owner, org, email, sizeof email))) {
        if ((err = card_store_import(db, &imp, owner, org, id))) {
            fprintf(stderr, "doppel avatar import: %s: %s\n", dp_strerror(err), db_errmsg(db));
        } else {
            audit_write(db, "avatar.import", owner, id, org, "cli",
                        json_pack("{s:s,s:i,s:I}", "format", card_format_name(imp.format), "spec", imp.spec, "memories",
                                  (json_int_t)imp.nmemories));
            printf("imported \"%s\" as avatar %s (owner %s) from a V%d %s card: %zu memories", imp.name, id, email,
                   imp.spec, card_format_name(imp.format), imp.nmemories);
            if (imp.kept_aside)
                printf(", %zu disabled or empty lorebook entries kept for export", imp.kept_aside);
            printf("\n");
            exit_code = 0;
        }
    }
    db_close(db);
out:
    card_import_cleanup(&imp);
    cli_free_config(app);
    return exit_code;
}

/* Writes the export to path (through a temporary file, so that a failure leaves nothing half
 * written), or to stdout when path is NULL. */
static int write_output(const char *path, const char *data, size_t len)
{
    if (!path)
        return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f))
        ok = 0;
    if (ok && rename(tmp, path))
        ok = 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

static int avatar_export(int argc, char **argv)
{
    struct args a;
    if (split_args(argc, argv, "avatar export", &a)) {
        free(a.rest);
        return usage();
    }
    int f = card_export_format_parse(a.format);
    if (f < 0) {
        fprintf(stderr, "doppel avatar export: --format must be json, charx or png\n");
        free(a.rest);
        return 2;
    }
    if (!a.output && f != CARD_EXPORT_JSON && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "doppel avatar export: not writing a binary file to a terminal; use -o FILE\n");
        free(a.rest);
        return 2;
    }
    struct app *app = app_get();
    int rc = cli_load_config_offline(app, a.nrest, a.rest, f != CARD_EXPORT_JSON);
    free(a.rest);
    if (rc)
        return rc < 0 ? 0 : 2;
    int exit_code = 1;
    struct db *db;
    struct blob_store *blobs = NULL;
    if (open_db(app, "export", &db))
        goto out;
    if (f != CARD_EXPORT_JSON && blob_store_open(&blobs, app->blob_url)) {
        fprintf(stderr, "doppel avatar export: cannot open the blob store at %s: images left out\n", app->blob_url);
        blobs = NULL;
    }
    struct card_export x;
    int err = id_valid(a.pos) ? card_store_export(db, blobs, a.pos, (enum card_export_format)f, &x) : DP_ERR_NOT_FOUND;
    if (err) {
        fprintf(stderr, "doppel avatar export: %s\n",
                err == DP_ERR_NOT_FOUND ? "no such avatar (or it was deleted)" : dp_strerror(err));
    } else {
        if (write_output(a.output, x.data, x.len))
            fprintf(stderr, "doppel avatar export: cannot write %s: %s\n", a.output ? a.output : "to stdout",
                    strerror(errno));
        else
            exit_code = 0;
        if (x.omitted_memories)
            fprintf(stderr,
                    "doppel avatar export: %zu memories left out (a card holds at most %d entries and %u "
                    "bytes)\n",
                    x.omitted_memories, CARD_BOOK_MAX, CARD_JSON_MAX);
        if (x.omitted_assets)
            fprintf(stderr, "doppel avatar export: %zu images left out (over %d files / %u MiB, or unreadable)\n",
                    x.omitted_assets, CARD_EXPORT_ASSETS_MAX, CARD_EXPORT_ASSET_BYTES_MAX >> 20);
        if (a.output && !exit_code)
            fprintf(stderr, "wrote %s (%zu bytes)\n", a.output, x.len);
        card_export_cleanup(&x);
    }
    if (blobs)
        blob_store_close(blobs);
    db_close(db);
out:
    cli_free_config(app);
    return exit_code;
}

int cli_avatar(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (!strcmp(argv[1], "import"))
        return avatar_import(argc, argv);
    if (!strcmp(argv[1], "export"))
        return avatar_export(argc, argv);
    return usage();
}
