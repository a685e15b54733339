/* What this machine offers a benchmark: CPU, topology, caches, SIMD flags, the kernels' ISA tier,
 * counter availability and why, frequency governor, ASLR. */
#ifndef QK_HARNESS_ENV_H
#define QK_HARNESS_ENV_H

#include <jansson.h>

#include "common/error.h"

/* The facts as a new JSON object (`qkbench env --json` prints it). */
int qk_env_to_json(json_t **out, qk_error *err);

#endif
