/* Shared start-up of subcommands: configuration, logging, data directory, resolved URLs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/log.h"

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

int cli_load_config(struct app *app, int argc, char **argv)
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
    if (mkdir_p(app->cfg.data_dir, 0700)) {
        fprintf(stderr, "doppel: cannot create data directory %s: %s\n", app->cfg.data_dir, strerror(errno));
        return 1;
    }
    app->database_url = *app->cfg.database_url ? strdup(app->cfg.database_url) : join(app->cfg.data_dir, "doppel.db");
    app->blob_url = *app->cfg.blob_url ? strdup(app->cfg.blob_url) : join(app->cfg.data_dir, "blobs");
    return app->database_url && app->blob_url ? 0 : 1;
}

void cli_free_config(struct app *app)
{
    free(app->database_url);
    free(app->blob_url);
    app->database_url = app->blob_url = NULL;
    config_cleanup(&app->cfg);
}
