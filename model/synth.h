/* Deterministic synthetic EmbeddingGemma GGUF files: llama.cpp's metadata keys and tensor names for
 * architecture `gemma-embedding`, random Q8_0 weights scaled so activations stay finite. */
#ifndef QK_MODEL_SYNTH_H
#define QK_MODEL_SYNTH_H

#include <stdint.h>

#include "common/error.h"

typedef struct {
    const char *name, *description;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx, n_swa;
    int dense_ff; /* 0: no Dense layers */
    float rope_base, rope_base_swa, eps;
} qk_synth_preset;

int qk_synth_preset_count(void);
const qk_synth_preset *qk_synth_preset_at(int i);
const qk_synth_preset *qk_synth_find_preset(const char *name);

/* A real vocabulary for the tokenizer section (tokenizer.ggml.model = llama), in id order. */
typedef struct {
    int n;                      /* tokens; becomes n_vocab (the rows of token_embd) */
    const char *const *texts;   /* UTF-8, spaces as U+2581, byte tokens as <0xHH> */
    const float *scores;        /* higher merges first (gen-model --vocab: minus the merge rank) */
    const int32_t *types;       /* 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte ... */
    int32_t bos, eos, unk, pad; /* token ids; -1 leaves the key out */
    int add_bos, add_eos, add_space_prefix;
} qk_synth_vocab;

/* Writes the model to path (via a temporary file in its folder, fsync'd and renamed at the end:
 * an existing file is replaced only by a complete one). with_dense = 0 leaves the Dense layers out
 * even if the preset has them. */
int qk_synth_write(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                   qk_error *err);
/* The same with a real vocabulary: n_vocab becomes vocab->n (the preset's other dimensions are
 * kept). vocab = NULL writes the placeholder tokenizer (as qk_synth_write). */
int qk_synth_write_vocab(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                         const qk_synth_vocab *vocab, qk_error *err);
/* Either of them; replace = 0 refuses an existing file ("PATH already exists: pass --force ..."),
 * checked when the complete file is renamed into place (common/output_file.h). */
int qk_synth_write_file(const char *path, const qk_synth_preset *p, uint64_t seed, int with_dense,
                        const qk_synth_vocab *vocab, int replace, qk_error *err);

#endif
