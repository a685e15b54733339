/* Where a run's model comes from: a GGUF path, or "synthetic:PRESET", written once into a cache
 * folder and reused. */
#ifndef QK_HARNESS_MODEL_FILES_H
#define QK_HARNESS_MODEL_FILES_H

#include <stddef.h>

#include "common/error.h"

/* A line for the user about what is being done (the command layer prints it). */
typedef void (*qk_note_fn)(void *ctx, const char *line);

/* "synthetic:PRESET" -> $QK_MODEL_DIR/PRESET.gguf (default ./models; -gemma3vocab in the name when
 * Gemma 3's tokenizer.json is installed), generated on first use (note, if non-NULL, is told so)
 * with a digest of its bytes beside it (PRESET.gguf.sum). A cached file whose bytes do not match
 * its digest (damaged, truncated, replaced; or no digest: an older cache) is regenerated, and note
 * says why. Any other spec is a path that must name a regular file (common/input_file.h). */
int qk_resolve_model(const char *spec, char *path, size_t size, qk_note_fn note, void *note_ctx,
                     qk_error *err);

#endif
