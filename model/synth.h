/* Deterministic synthetic EmbeddingGemma GGUF files: llama.cpp's metadata keys and tensor names for
 * architecture `gemma-embedding`, random Q8_0 weights scaled so activations stay finite. */
#ifndef QK_MODEL_SYNTH_H
#define QK_MODEL_SYNTH_H

#include <stdint.h>

#include "../common/error.h"

typedef struct {
    const char *name, *description;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx, n_swa;
    int dense_ff; /* 0: no Dense layers */
    float rope_base, rope_base_swa, eps;
} qk_synth_preset;

int qk_synth_preset_count(void);
const qk_synth_preset *qk_synth_preset_at(int i);
const qk_synth_preset *qk_synth_find_preset(const char *name);

/* Writes the model to path (via a temporary file renamed at the end: an existing file is replaced only
 * by a complete one). with_dense = 0 leaves the Dense layers out even if the preset has them. */
int qk_synth_write(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                   qk_error *err);

#endif
