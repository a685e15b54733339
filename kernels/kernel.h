/* The one interface every Q8_0 x int8 kernel implements, and the registry API.
 *
 * A kernel computes dst[t*rows + r] = sum_k W[r][k] * x[t][k] for rows r in [r0, r1) and every
 * token t, where W is a Q8_0 matrix (rows x cols, 34-byte blocks, fp16 scale + 32 int8) and x is
 * int8 activations with one float scale per token or per 32-value block. Kernels know nothing of
 * models or threads: the caller splits [0, rows) into ranges, one call per range. */
#ifndef QK_KERNELS_KERNEL_H
#define QK_KERNELS_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#define QK8_0             32 /* values per Q8_0 block */
#define QK8_0_BLOCK_BYTES 34 /* fp16 scale + 32 int8 */

typedef struct {           /* one Q8_0 weight matrix as kernels see it */
    const uint8_t *blocks; /* rows x (cols/32) blocks of 34 bytes: a view into the mapped file */
    const float
        *scales;        /* pre-converted scales (rows x cols/32), or NULL for variants that parse */
    const void *packed; /* a variant's own load-time layout, or NULL */
    int rows, cols;
    void *prepared; /* memory owned by this matrix, made by prepare; see qk_q8_matrix_release */
    size_t prepared_bytes; /* its size: reported as "extra bytes prepared at load" */
} qk_q8_matrix;

enum {
    QK_ACT_PER_TOKEN = 0, /* scale[t]: one scale per token (the seed story's scheme) */
    QK_ACT_PER_BLOCK =
        32 /* scale[t * cols/32 + b]: one scale per 32-value block (ggml's Q8_0 scheme) */
};

typedef struct {     /* activations quantised to int8 */
    const int8_t *q; /* n_tokens x cols, in -127..127 as symmetric quantisation gives (the AVX2 sign
                        trick is exact there; -128 is not promised) */
    const float *scale; /* per token, or per token per 32-block (granularity) */
    int n_tokens, cols, granularity;
} qk_act_i8;

/* ISA tiers, as bits; a kernel needs all the bits of its tier. */
enum {
    QK_ISA_SCALAR = 0,
    QK_ISA_AVX2 = 1u << 0,       /* AVX2 + FMA + F16C */
    QK_ISA_AVX512VNNI = 1u << 1, /* AVX512 F/BW/VL + VNNI */
};

/* qk_kernel.flags */
enum {
    /* The model runs RMSNorm and GeGLU fused into the next matmul's activation quantisation
     * (qk_row_ops' *_quantize) instead of as separate passes; the matmul itself is unaffected. */
    QK_KERNEL_FUSED_ACT = 1u << 0,
    /* Each output is computed with the scalar kernels' arithmetic (exact int32 block sums, then acc
     * += (float)isum * (d_w * s_x) in block order), so the outputs are bit-identical to the scalar
     * variants' whatever the ISA (tests/test_kernels.c holds it to that). */
    QK_KERNEL_SCALAR_BITS = 1u << 1,
};

typedef struct {
    const char *variant, *isa, *summary;
    unsigned isa_bits;                                /* CPU features the kernel needs */
    int (*prepare)(qk_q8_matrix *w);                  /* load-time work; may be NULL; 0 = ok */
    void (*matmul)(float *dst, const qk_q8_matrix *w, /* dst[t*rows + r] for r in [r0, r1) */
                   const qk_act_i8 *x, int r0, int r1);
    /* Rows the kernel computes together (its packing group): any [r0, r1) is correct, but a split
     * at multiples of row_block wastes nothing. 0 or 1: rows are independent. */
    int row_block;
    int token_tile; /* tokens served per pass over a weight block (the tile's width), for the record
                     */
    unsigned flags; /* QK_KERNEL_* */
} qk_kernel;

/* Registry: every kernel compiled into this binary, available on this CPU or not. */
int qk_kernel_count(void);
const qk_kernel *qk_kernel_at(int i);
/* Lookup by variant and ISA name ("scalar", "avx2", "avx512vnni"); NULL if unknown. */
const qk_kernel *qk_kernel_find(const char *variant, const char *isa);
/* CPU features of this machine (QK_ISA_* bits), detected once (cpuid + OS support), capped by the
 * environment variable QK_ISA=scalar|avx2|avx512vnni when set. */
unsigned qk_cpu_isa_bits(void);
/* The same before the QK_ISA cap; and a note on the cap for the harness to print: "" when QK_ISA is
 * unset, else what was applied, ignored (unknown value) or could not be honoured. */
unsigned qk_cpu_isa_bits_detected(void);
const char *qk_cpu_isa_note(void);
/* 1 if the kernel can run here; else 0 and, if why is non-NULL, a reason like "CPU lacks
 * avx512vnni". */
int qk_kernel_available(const qk_kernel *k, const char **why);
/* The most capable ISA available here for a variant ("avx512vnni" > "avx2" > "scalar"). */
const qk_kernel *qk_kernel_best(const char *variant);

/* Runs k->prepare (if any) on w; releases what it made. */
int qk_q8_matrix_prepare(qk_q8_matrix *w, const qk_kernel *k);
void qk_q8_matrix_release(qk_q8_matrix *w);

/* Allocation counter of the `alloc-copy` variants: the harness reads it around a forward pass. */
typedef struct {
    uint64_t allocations, bytes;
} qk_alloc_stats;
void qk_alloc_stats_read(qk_alloc_stats *out);
void qk_alloc_stats_reset(void);

#endif
