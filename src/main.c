/* doppel: the entry point; dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef DOPPEL_VERSION
#define DOPPEL_VERSION "0.1.0"
#endif

static void usage(void)
{
    printf("doppel %s — self-hosted AI avatars\n\n"
           "Usage: doppel <command> [flags]\n\n"
           "Commands:\n"
           "  serve     run the server (doppel serve --help lists every setting)\n"
           "  migrate   apply pending database migrations\n"
           "  user add  create an account (doppel user add --admin EMAIL; password on stdin)\n"
           "  ingest    store and process files as an avatar's media: doppel ingest AVATAR FILE… [--duplicate copy]\n"
           "  avatar    import FILE [--owner EMAIL] | export ID [--format json|charx|png] [-o FILE]:\n"
           "            Character Cards in and out\n"
           "  capture   stream a WAV file or stdin to a server as a device: doppel capture FILE|- --token T\n"
           "            [--url URL] [--device NAME]; reconnects and resumes from the last acknowledged chunk\n"
           "  version   print the version\n",
           DOPPEL_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("doppel %s\n", DOPPEL_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "serve"))
        return cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "migrate"))
        return cli_migrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "user"))
        return cli_user(argc - 1, argv + 1);
    if (!strcmp(cmd, "ingest"))
        return cli_ingest(argc - 1, argv + 1);
    if (!strcmp(cmd, "avatar"))
        return cli_avatar(argc - 1, argv + 1);
    if (!strcmp(cmd, "capture"))
        return cli_capture(argc - 1, argv + 1);
    fprintf(stderr, "doppel: unknown command \"%s\"\n\n", cmd);
    usage();
    return 2;
}
