/* The doppel command line: one function per subcommand. */
#ifndef DP_CLI_H
#define DP_CLI_H

#include "api/app.h"

/* Loads configuration for a subcommand and resolves data-dir derived defaults.
 * Returns 0, 1 on a bad setting (printed), or -1 when --help was printed. */
int cli_load_config(struct app *app, int argc, char **argv);
/* As cli_load_config for the offline commands (ingest, avatar import/export): a data directory
 * that does not exist is refused with a message naming it (and the working directory) unless
 * --create-data-dir; none is needed when --database-url (and, with uses_blobs, --blob-url) point
 * elsewhere. */
int cli_load_config_offline(struct app *app, int argc, char **argv, int uses_blobs);
void cli_free_config(struct app *app);

int cli_serve(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_ingest(int argc, char **argv);
int cli_avatar(int argc, char **argv);  /* doppel avatar import|export (cli/avatar_cmd.c) */
int cli_capture(int argc, char **argv); /* doppel capture FILE|- (cli/capture_cmd.c) */

#endif
