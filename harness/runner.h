/* qkbench run (harness/runner.c) and what the report shares with it. */
#ifndef QK_HARNESS_RUNNER_H
#define QK_HARNESS_RUNNER_H

#include <stddef.h>

#include "common/error.h"

/* "synthetic:PRESET" -> $QK_MODEL_DIR/PRESET.gguf (default ./models), generated on first use
 * (verbose: say so on stderr); any other spec is a path that must be readable. */
int qk_resolve_model(const char *spec, char *path, size_t size, int verbose, qk_error *err);

#endif
