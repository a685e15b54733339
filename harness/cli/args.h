/* Argument helpers shared by the qkbench subcommands: the command layer is the one place that
 * parses arguments, prints to the terminal and chooses exit codes. */
#ifndef QK_HARNESS_CLI_ARGS_H
#define QK_HARNESS_CLI_ARGS_H

#include <stdint.h>

#include "common/error.h"

/* Parses a whole decimal int in [lo, hi]; name is used in the message. */
int qk_parse_int(const char *s, const char *name, long lo, long hi, long *out, qk_error *err);
/* Prints "qkbench CMD: message" to stderr and returns the exit code given. */
int qk_cli_error(const char *cmd, int code, const qk_error *err);

#endif
