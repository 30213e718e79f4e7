/* Shared start-up of subcommands: configuration, logging, data directory, resolved URLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avatar/quota.h"
#include "cli/cli.h"
#include "core/log.h"
#include "store/db.h"

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    if (strlen(path) >= sizeof tmp)
        return -1;
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, mode) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, mode) && errno != EEXIST ? -1 : 0;
}

/* Loads the settings; want_dir: 1 creates the data directory (serve, migrate …), 0 refuses one
 * that does not exist unless --create-data-dir (offline commands: a command run from the wrong
 * directory must not quietly work on a new, empty ./data). needs_dir says whether the data
 * directory is used at all (the database or the blobs default into it). */
static int load(struct app *app, int argc, char **argv, int want_dir, int uses_blobs)
{
    char err[512] = "";
    int rc = config_load(&app->cfg, argc, argv, err, sizeof err);
    if (rc == -1)
        return -1;
    if (rc) {
        fprintf(stderr, "doppel: %s\n", err);
        return 1;
    }
    log_setup(!strcmp(app->cfg.log_format, "json"), (enum log_level)log_level_parse(app->cfg.log_level));
    quota_cfg.storage_bytes = app->cfg.quota_storage;
    quota_cfg.memories = app->cfg.quota_memories;
    int needs_dir = want_dir || !*app->cfg.database_url || (uses_blobs && !*app->cfg.blob_url);
    struct stat st;
    if (needs_dir && !want_dir && !app->cfg.create_data_dir && stat(app->cfg.data_dir, &st)) {
        char cwd[4096];
        fprintf(stderr,
                "doppel %s: the data directory %s does not exist (working directory %s); give --data-dir DIR "
                "(or DOPPEL_DATA_DIR), or --create-data-dir to start an empty one\n",
                argv[0], app->cfg.data_dir, getcwd(cwd, sizeof cwd) ? cwd : "unknown");
        return 1;
    }
    if (needs_dir && mkdir_p(app->cfg.data_dir, 0700)) {
        fprintf(stderr, "doppel: cannot create data directory %s: %s\n", app->cfg.data_dir, strerror(errno));
        return 1;
    }
    app->database_url = *app->cfg.database_url ? strdup(app->cfg.database_url) : join(app->cfg.data_dir, "doppel.db");
    db_sqlite_set_mmap(app->cfg.sqlite_mmap); /* before any connection opens */
    app->blob_url = *app->cfg.blob_url ? strdup(app->cfg.blob_url) : join(app->cfg.data_dir, "blobs");
    return app->database_url && app->blob_url ? 0 : 1;
}

int cli_load_config(struct app *app, int argc, char **argv)
{
    return load(app, argc, argv, 1, 1);
}

int cli_load_config_offline(struct app *app, int argc, char **argv, int uses_blobs)
{
    return load(app, argc, argv, 0, uses_blobs);
}

void cli_free_config(struct app *app)
{
    free(app->database_url);
    free(app->blob_url);
    app->database_url = app->blob_url = NULL;
    config_cleanup(&app->cfg);
}
