/* `doppel migrate`: applies pending database migrations and exits. */
#include <stdio.h>

#include "cli/cli.h"
#include "core/err.h"
#include "store/db.h"

int cli_migrate(int argc, char **argv)
{
    struct app *app = app_get();
    int rc = cli_load_config(app, argc, argv);
    if (rc)
        return rc < 0 ? 0 : 2;
    struct db *db;
    int err = db_open(&db, app->database_url);
    if (err) {
        fprintf(stderr, "doppel migrate: cannot open the database: %s\n", dp_strerror(err));
        cli_free_config(app);
        return 1;
    }
    int applied = 0, version = 0;
    err = db_migrate(db, &applied);
    if (!err)
        err = db_schema_version(db, &version);
    if (err)
        fprintf(stderr, "doppel migrate: %s: %s\n", dp_strerror(err), db_errmsg(db));
    else
        printf("database %s: %d migration(s) applied, schema version %d\n", db_backend_name(db), applied, version);
    db_close(db);
    cli_free_config(app);
    return err ? 1 : 0;
}
