/* Shared declarations of the fetalmon command-line program. */
#ifndef FM_CLI_H
#define FM_CLI_H

#define FM_VERSION "0.1.0"

enum { FM_EXIT_OK = 0, FM_EXIT_INPUT = 1, FM_EXIT_USAGE = 2 };

int cmd_analyze(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
