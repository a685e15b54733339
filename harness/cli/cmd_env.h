/* qkbench env: what this machine offers a benchmark (CPU, topology, caches, SIMD, kernel ISA tier,
 * counter availability and why, frequency governor, ASLR), as text or JSON (--json). */
#ifndef QK_HARNESS_CLI_CMD_ENV_H
#define QK_HARNESS_CLI_CMD_ENV_H

#include <jansson.h>

#include "common/error.h"

/* `qkbench env [--json] [--help]`; argv[0] is "env". Prints to stdout; returns the exit code. */
int qk_cmd_env(int argc, char **argv);

/* The same facts as a new JSON object (for the results' context too). */
int qk_env_to_json(json_t **out, qk_error *err);

#endif
