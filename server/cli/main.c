/* fetalmon: the command-line program. Dispatches subcommands; each lives in its own cmd_*.c.
 * Exit codes: 0 success, 1 bad input (one-line reason on stderr), 2 bad usage. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"analyze", cmd_analyze, "turn a Doppler recording or FHR trace into a trace + CTG analysis"},
    {"serve", cmd_serve, "run the remote monitoring service (HTTP API, live streams)"},
    {"user", cmd_user, "manage accounts: add, passwd, list, disable, device-token"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: fetalmon <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'fetalmon <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FM_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("fetalmon %s\n", FM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "fetalmon: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return FM_EXIT_USAGE;
}
