/* Small helpers shared by the qkbench subcommands. */
#ifndef QK_HARNESS_CLI_ARGS_H
#define QK_HARNESS_CLI_ARGS_H

#include <stdint.h>

#include "common/error.h"

/* Parses "2,105,1" (commas or blanks) into a malloc'd array; *n gets the count. */
int qk_parse_int_list(const char *s, int32_t **out, int *n, qk_error *err);
/* Parses a whole decimal int in [lo, hi]; name is used in the message. */
int qk_parse_int(const char *s, const char *name, long lo, long hi, long *out, qk_error *err);
/* Prints "qkbench CMD: message" to stderr and returns the exit code given. */
int qk_cli_error(const char *cmd, int code, const qk_error *err);

#endif
