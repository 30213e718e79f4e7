/* `doppel user add [--admin | --role R] [--name NAME] [--org ORG] EMAIL`: creates an account
 * from the command line. The password comes from stdin or a no-echo prompt, never argv. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "auth/password.h"
#include "cli/cli.h"
#include "core/err.h"
#include "store/cache.h"
#include "store/db.h"

/* Reads one line without its newline; no echo when stdin is a terminal. -1 on EOF. */
static int read_secret(const char *prompt, char *out, size_t cap)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    int ok = fgets(out, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = 0;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "Usage: doppel user add [--admin | --role admin|manager|member] [--name NAME] [--org ORG_ID] "
                    "[settings…] EMAIL\n  The password is read from stdin (a no-echo prompt on a terminal).\n");
    return 2;
}

int cli_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "add"))
        return usage();
    const char *email = NULL, *name = NULL, *org = "default";
    int role = ROLE_MEMBER;
    /* Our own flags are taken out; the rest (e.g. --database-url) go to the settings loader. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    rest[nrest++] = "user add";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--admin"))
            role = ROLE_ADMIN;
        else if (!strcmp(argv[i], "--role") && i + 1 < argc)
            role = role_parse(argv[++i]);
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--org") && i + 1 < argc)
            org = argv[++i];
        else if (argv[i][0] != '-' && !email && (i == 2 || strncmp(argv[i - 1], "--", 2) || strchr(argv[i - 1], '=')))
            email = argv[i];
        else
            rest[nrest++] = argv[i];
    }
    if (!email || role < 0) {
        free(rest);
        return usage();
    }
    struct app *app = app_get();
    int rc = cli_load_config(app, nrest, rest);
    free(rest);
    if (rc)
        return rc < 0 ? 0 : 2;
    if (sodium_init() < 0 ||
        password_setup((unsigned long long)app->cfg.argon2_ops, (size_t)app->cfg.argon2_memory_kib)) {
        fprintf(stderr, "doppel: cannot set up password hashing\n");
        cli_free_config(app);
        return 1;
    }
    char pw[PASSWORD_MAX + 2], again[PASSWORD_MAX + 2];
    int exit_code = 1;
    if (read_secret("Password: ", pw, sizeof pw) ||
        (isatty(STDIN_FILENO) && (read_secret("Again: ", again, sizeof again) || strcmp(pw, again)))) {
        fprintf(stderr, "doppel: no password given, or the two did not match\n");
        goto out;
    }
    struct context e = {.ip = "cli", .user_agent = "doppel user add"};
    if (db_open(&e.db, app->database_url) || db_migrate(e.db, NULL)) {
        fprintf(stderr, "doppel: cannot open the database\n");
        goto out;
    }
    if (cache_open(&e.cache, app->cfg.redis_url)) {
        fprintf(stderr, "doppel: cannot open the cache\n");
        db_close(e.db);
        goto out;
    }
    json_t *user = NULL;
    char msg[160] = "";
    int err = accounts_create_user(&e, email, pw, name, org, role, &user, msg, sizeof msg);
    if (err) {
        fprintf(stderr, "doppel: %s\n", *msg ? msg : dp_strerror(err));
    } else {
        printf("created %s %s (%s)\n", json_string_value(json_object_get(user, "role")),
               json_string_value(json_object_get(user, "email")), json_string_value(json_object_get(user, "id")));
        json_decref(user);
        exit_code = 0;
    }
    cache_close(e.cache);
    db_close(e.db);
out:
    sodium_memzero(pw, sizeof pw);
    sodium_memzero(again, sizeof again);
    cli_free_config(app);
    return exit_code;
}
