/* EmbeddingGemma (llama.cpp architecture `gemma-embedding`): configuration from GGUF metadata only,
 * zero-copy weight views, and the forward pass of ../shared/spec/embeddinggemma.md section 4 on
 * token ids. Two paths share one code path except the matmul: FP32 (dequantised weights, float
 * activations) and INT8 (activations quantised per token or per 32-block, then a registry kernel).
 */
#ifndef QK_MODEL_GEMMA_H
#define QK_MODEL_GEMMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/kernel.h"
#include "kernels/row-ops.h"
#include "model/exec.h"
#include "model/gguf.h"

#define QK_GEMMA_MAX_LAYERS 256

typedef struct {
    int n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv, head_dim, n_ctx;
    int n_swa; /* stored sliding window; the symmetric radius is n_swa / 2 */
    int n_rot; /* rotated dims (rope.dimension_count, default head_dim) */
    float eps, rope_base, rope_base_swa;
    int pooling;  /* 1 = mean (the only one this model uses) */
    int dense_ff; /* width of dense_2's output; 0 when the file has no Dense layers */
    uint8_t sliding[QK_GEMMA_MAX_LAYERS]; /* 1 if layer il uses the sliding window */
} qk_gemma_config;

typedef enum { QK_PATH_INT8 = 0, QK_PATH_FP32 = 1 } qk_path;

typedef struct {
    qk_path path;
    const qk_kernel *kernel; /* INT8 path: the registry kernel (must be available on this CPU) */
    int act_granularity;     /* QK_ACT_PER_TOKEN or QK_ACT_PER_BLOCK */
} qk_gemma_options;

typedef struct { /* one weight matrix: rows = ne1 outputs, cols = ne0 inputs */
    const qk_gguf_tensor *tensor;
    int rows, cols;
    qk_q8_matrix q8; /* INT8 path: view into the map (+ what the kernel prepared) */
    float *f32;      /* FP32 path: dequantised copy, rows x cols */
} qk_gemma_weight;

typedef struct {
    const float *attn_norm, *q_norm, *k_norm, *post_attn_norm, *ffn_norm, *post_ffw_norm;
    qk_gemma_weight wq, wk, wv, wo, gate, up, down;
} qk_gemma_layer;

typedef struct {                  /* where the memory goes (the story's memory table) */
    uint64_t file_bytes;          /* mapped model file */
    uint64_t resident_file_bytes; /* bytes of the mapping this process holds resident (smaps Rss) */
    uint64_t matmul_weight_bytes; /* bytes of the layers' matrices (read once per forward pass) */
    uint64_t
        prepared_bytes;  /* extra bytes made at load by the kernel (scale tables, packed layouts) */
    uint64_t fp32_bytes; /* dequantised weights (FP32 path) and converted norm weights */
    uint64_t scratch_bytes; /* activation buffers, bounded by the reserved sequence length */
} qk_gemma_memory;

typedef struct qk_gemma_model qk_gemma_model;

/* Reads the configuration from an open GGUF (the key fallbacks of spec section 2). */
int qk_gemma_read_config(const qk_gguf *g, qk_gemma_config *cfg, qk_error *err);

/* Maps the file, checks every tensor's presence, type and shape, and prepares the matrices for the
 * path. */
int qk_gemma_load(qk_gemma_model **out, const char *path, const qk_gemma_options *opt,
                  qk_error *err);
/* The same with the row operations given instead of looked up by the kernel's ISA (NULL: looked
 * up, as qk_gemma_load does): for tests that run a kernel table outside the registry (the
 * SIMDe-emulated tier, tests/support/avx512-simde.h) with its own row ops. */
int qk_gemma_load_ops(qk_gemma_model **out, const char *path, const qk_gemma_options *opt,
                      const qk_row_ops *ops, qk_error *err);
void qk_gemma_free(qk_gemma_model *m);

const qk_gemma_config *qk_gemma_get_config(const qk_gemma_model *m);
const qk_gemma_layer *qk_gemma_get_layer(const qk_gemma_model *m, int il);
/* The Dense matrices, or NULL when the file has none. */
const qk_gemma_weight *qk_gemma_get_dense(const qk_gemma_model *m, int which /* 2 or 3 */);
qk_gemma_memory qk_gemma_get_memory(const qk_gemma_model *m);
/* Width of the output embedding (n_embd). */
int qk_gemma_out_dim(const qk_gemma_model *m);

/* Allocates the scratch buffers for sequences up to n_tokens on up to n_workers threads. The
 * forward pass calls it itself, but a timing loop calls it first so that no timed call allocates.
 */
int qk_gemma_reserve(qk_gemma_model *m, int n_tokens, int n_workers, qk_error *err);

/* Caps the scratch buffers at `bytes` (0, the default: no cap). qk_gemma_reserve (and so
 * qk_gemma_embed and qk_gemma_matmul) then refuses a sequence whose buffers would exceed it, before
 * allocating anything, with "scratch for N tokens needs X MiB, above the limit of Y MiB"; buffers
 * already reserved stay as they are. */
void qk_gemma_set_max_scratch(qk_gemma_model *m, uint64_t bytes);

/* One sequence of token ids (BOS first, EOS last, as the caller gives them) ->
 * out[qk_gemma_out_dim()], L2-normalised. exec may be NULL (serial, no profile). */
int qk_gemma_embed(qk_gemma_model *m, const int32_t *tokens, int n_tokens, float *out,
                   const qk_exec *exec, qk_error *err);
/* The final-norm hidden state of token i of the last embedded sequence (before pooling), n_embd
 * floats. */
const float *qk_gemma_last_hidden(const qk_gemma_model *m, int i);

/* Rows per chunk when a matmul of `rows` rows with kernel k is split across n_workers threads
 * (parallel_for's grain): about four chunks per worker, so a descheduled worker delays a quarter of
 * its share; a multiple of the kernel's row_block and of 16 rows (no false sharing on outputs). */
int qk_matmul_grain(const qk_kernel *k, int rows, int n_workers);

/* The matmul every weight goes through, exposed so the harness can time one alone: dst = W x for n
 * tokens. INT8 path: x is quantised internally with the model's scheme into the model's scratch. */
int qk_gemma_matmul(qk_gemma_model *m, const qk_gemma_weight *w, const float *x, int n_tokens,
                    float *dst, const qk_exec *exec, qk_error *err);

#endif
