/* The registry: every kernel compiled into the binary, one line each. Tests, benchmarks and the
 * model iterate this table; nothing else names a kernel. */
#include "kernels/cpu.h"
#include "kernels/kernel.h"
#include "kernels/prepare.h"
#include "kernels/repack.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define AVX512_TIER (QK_ISA_AVX2 | QK_ISA_AVX512VNNI) /* built with -mavx2 -mfma -mf16c as well */

/* X(symbol stem, variant, isa, isa bits, prepare, summary): symbol is qk_<stem>__<isa>; the seed
 * variants: rows independent (row_block 1), QK_TOKEN_TILE tokens per pass, no flags.
 * XT(... prepare, row_block, token_tile, flags, summary): the variants with their own tile. */
#define QK_KERNEL_TABLE(X, XT)                                                                     \
    X(parse_per_block, "parse-per-block", scalar, QK_ISA_SCALAR, NULL, PARSE)                      \
    X(parse_per_block, "parse-per-block", avx2, QK_ISA_AVX2, NULL, PARSE)                          \
    X(parse_per_block, "parse-per-block", avx512vnni, AVX512_TIER, NULL, PARSE)                    \
    X(precached_scales, "precached-scales", scalar, QK_ISA_SCALAR, qk_prepare_scales, PRECACHED)   \
    X(precached_scales, "precached-scales", avx2, QK_ISA_AVX2, qk_prepare_scales, PRECACHED)       \
    X(precached_scales, "precached-scales", avx512vnni, AVX512_TIER, qk_prepare_scales, PRECACHED) \
    X(alloc_copy, "alloc-copy", scalar, QK_ISA_SCALAR, qk_prepare_scales, ALLOC)                   \
    X(alloc_copy, "alloc-copy", avx2, QK_ISA_AVX2, qk_prepare_scales, ALLOC)                       \
    X(alloc_copy, "alloc-copy", avx512vnni, AVX512_TIER, qk_prepare_scales, ALLOC)                 \
    X(zero_copy, "zero-copy", scalar, QK_ISA_SCALAR, qk_prepare_scales, ZERO)                      \
    X(zero_copy, "zero-copy", avx2, QK_ISA_AVX2, qk_prepare_scales, ZERO)                          \
    X(zero_copy, "zero-copy", avx512vnni, AVX512_TIER, qk_prepare_scales, ZERO)                    \
    XT(repacked, "repacked", scalar, QK_ISA_SCALAR, REPACKED_PREP, QK_REPACKED_G, 1, SB,           \
       REPACKED_SCALAR)                                                                            \
    XT(repacked, "repacked", avx2, QK_ISA_AVX2, REPACKED_PREP, QK_REPACKED_G, 1, SB,               \
       REPACKED_AVX2)                                                                              \
    XT(gemm, "gemm", scalar, QK_ISA_SCALAR, GEMM_PREP_SCALAR, QK_GEMM_G__SCALAR,                   \
       QK_GEMM_T__SCALAR, SB, GEMM_SCALAR)                                                         \
    XT(gemm, "gemm", avx2, QK_ISA_AVX2, GEMM_PREP_AVX2, QK_GEMM_G__AVX2, QK_GEMM_T__AVX2, SB,      \
       GEMM_AVX2)                                                                                  \
    XT(fused, "fused", scalar, QK_ISA_SCALAR, GEMM_PREP_SCALAR, QK_GEMM_G__SCALAR,                 \
       QK_GEMM_T__SCALAR, QK_KERNEL_FUSED_ACT | SB, FUSED_SCALAR)                                  \
    XT(fused, "fused", avx2, QK_ISA_AVX2, GEMM_PREP_AVX2, QK_GEMM_G__AVX2, QK_GEMM_T__AVX2,        \
       QK_KERNEL_FUSED_ACT | SB, FUSED_AVX2)                                                       \
    XT(repacked, "repacked", avx512vnni, AVX512_TIER, qk_repack_vnni_prepare, QK_VNNI_G, 1, SB,    \
       REPACKED_AVX512)                                                                            \
    XT(gemm, "gemm", avx512vnni, AVX512_TIER, qk_repack_vnni_prepare, QK_VNNI_G,                   \
       QK_GEMM_T__AVX512VNNI, SB, GEMM_AVX512)                                                     \
    XT(fused, "fused", avx512vnni, AVX512_TIER, qk_repack_vnni_prepare, QK_VNNI_G,                 \
       QK_GEMM_T__AVX512VNNI, QK_KERNEL_FUSED_ACT | SB, FUSED_AVX512)
#define PARSE                                                                                      \
    "per block: non-inlined parser returns {fp32 scale, 32 int8} by value, fp16 converted in "     \
    "software each time (the seed's baseline)"
#define PRECACHED                                                                                  \
    "per block: fp32 scale from a table built at load; 32 int8 copied to a stack buffer"
#define ALLOC                                                                                      \
    "per block: precached scale; malloc + copy + free of the 32 int8 (the seed's allocation "      \
    "regression)"
#define ZERO                                                                                       \
    "per block: precached scale; int8 read in place from the mapped blocks (the seed's final)"

/* The packed variants (kernels/repack.h): avx2 and scalar on the row-interleaved layout,
 * avx512vnni on its own (rows in zmm lanes, the +128 correction precomputed). */
#define SB            QK_KERNEL_SCALAR_BITS
#define REPACKED_PREP qk_repack_prepare_g8
#if QK_GEMM_G__SCALAR == 16
#define GEMM_PREP_SCALAR qk_repack_prepare_g16
#else
#define GEMM_PREP_SCALAR qk_repack_prepare_g8
#endif
#if QK_GEMM_G__AVX2 == 16
#define GEMM_PREP_AVX2 qk_repack_prepare_g16
#else
#define GEMM_PREP_AVX2 qk_repack_prepare_g8
#endif
#define STR_(v) #v
#define STR(v)  STR_(v)
#define REPACKED_SCALAR                                                                            \
    "rows interleaved 8 at a time at load; 8 rows x 1 token per pass, tokens outside; fp16 "       \
    "scales converted in software per block; scalar arithmetic and bits"
#define REPACKED_AVX2                                                                              \
    "rows interleaved 8 at a time at load; 8 rows x 1 token per pass (one ymm), tokens outside; "  \
    "F16C scales; bit-identical to scalar"
#define GEMM_SCALAR                                                                                \
    "repacked layout; register tile " STR(QK_GEMM_G__SCALAR) " rows x " STR(                       \
        QK_GEMM_T__SCALAR) " tokens, all token tiles per row group; scalar arithmetic and bits"
/* avx2 gemm's tile depends on the token count (kernels/repack.h) */
#define GEMM_AVX2_TILES                                                                            \
    STR(QK_GEMM_G__AVX2)                                                                           \
    "x" STR(QK_GEMM_T__AVX2) ", " STR(QK_GEMM_G__AVX2) "x" STR(                                    \
        QK_GEMM_T_SMALL__AVX2) " below " STR(QK_GEMM_SMALL_N__AVX2) " tokens"
#define GEMM_AVX2                                                                                  \
    "repacked layout; register tile " GEMM_AVX2_TILES " (ymm), all token tiles per row group, "    \
    "next group prefetched; bit-identical to scalar"
#define REPACKED_AVX512                                                                            \
    "avx512vnni layout (16 rows in zmm lanes, -128 x block sums at load); " STR(                   \
        QK_REPACKED_NG__AVX512VNNI) "x16 rows x 1 token per pass, tokens outside; bit-identical "  \
                                    "to scalar"
/* avx512vnni gemm's tile depends on the token count (kernels/repack.h) */
#define GEMM_AVX512_TILES                                                                          \
    STR(QK_GEMM_NG__AVX512VNNI)                                                                    \
    "x16 rows x " STR(QK_GEMM_T__AVX512VNNI) " tokens, " STR(                                      \
        QK_GEMM_NG_SMALL__AVX512VNNI) "x16 x 1-" STR(QK_GEMM_T_SMALL__AVX512VNNI) " below " STR(QK_GEMM_SMALL_N__AVX512VNNI)
#define GEMM_AVX512                                                                                \
    "avx512vnni layout; register tile " GEMM_AVX512_TILES " (zmm, vpdpbusd), all token tiles per " \
    "row step; bit-identical to scalar"
#define FUSED_AVX512                                                                               \
    "gemm's kernel (avx512vnni, " GEMM_AVX512_TILES "); the model fuses RMSNorm/GeGLU into "       \
    "activation quantisation"
#define FUSED_SCALAR                                                                               \
    "gemm's kernel (scalar, " STR(QK_GEMM_G__SCALAR) "x" STR(                                      \
        QK_GEMM_T__SCALAR) " tile); the model fuses RMSNorm/GeGLU into activation quantisation"
#define FUSED_AVX2                                                                                 \
    "gemm's kernel (avx2, " GEMM_AVX2_TILES "); the model fuses RMSNorm/GeGLU into activation "    \
    "quantisation"

#define DECLARE(stem, variant, isa, bits, prep, summary) qk_matmul_fn qk_##stem##__##isa;
#define DECLARE_T(stem, variant, isa, bits, prep, rb, tile, fl, summary)                           \
    qk_matmul_fn qk_##stem##__##isa;
QK_KERNEL_TABLE(DECLARE, DECLARE_T)

#define ROW(stem, variant_, isa_, bits, prep, summary_)                                            \
    {.variant = variant_,                                                                          \
     .isa = #isa_,                                                                                 \
     .summary = summary_,                                                                          \
     .isa_bits = bits,                                                                             \
     .prepare = prep,                                                                              \
     .matmul = qk_##stem##__##isa_,                                                                \
     .row_block = 1,                                                                               \
     .token_tile = QK_TOKEN_TILE},
#define ROW_T(stem, variant_, isa_, bits, prep, rb, tile, fl, summary_)                            \
    {.variant = variant_,                                                                          \
     .isa = #isa_,                                                                                 \
     .summary = summary_,                                                                          \
     .isa_bits = bits,                                                                             \
     .prepare = prep,                                                                              \
     .matmul = qk_##stem##__##isa_,                                                                \
     .row_block = rb,                                                                              \
     .token_tile = tile,                                                                           \
     .flags = fl},
static const qk_kernel table[] = {QK_KERNEL_TABLE(ROW, ROW_T)};

int qk_kernel_count(void) {
    return (int)(sizeof table / sizeof table[0]);
}

const qk_kernel *qk_kernel_at(int i) {
    return i >= 0 && i < qk_kernel_count() ? &table[i] : NULL;
}

const qk_kernel *qk_kernel_find(const char *variant, const char *isa) {
    if (!variant || !isa) return NULL;
    for (int i = 0; i < qk_kernel_count(); i++)
        if (!strcmp(table[i].variant, variant) && !strcmp(table[i].isa, isa)) return &table[i];
    return NULL;
}

int qk_kernel_available(const qk_kernel *k, const char **why) {
    static const char *const lacks[] = {"CPU lacks avx2 (with fma, f16c)",
                                        "CPU lacks avx512vnni (with avx512 f/bw/vl/dq)"};
    static const char *const no_os[] = {"OS does not save ymm state (XCR0)",
                                        "OS does not save zmm/opmask state (XCR0)"};
    static const char *const capped[] = {"excluded by QK_ISA=scalar", "excluded by QK_ISA=avx2",
                                         "excluded by QK_ISA=avx512vnni"};
    const char *reason = "unknown kernel";
    if (k) {
        const qk_cpu_state *cpu = qk_cpu_state_get();
        const unsigned missing = k->isa_bits & ~cpu->bits;
        if (!missing) {
            if (why) *why = NULL;
            return 1;
        }
        const int tier = (missing & QK_ISA_AVX512VNNI) ? 1 : 0;
        if ((cpu->usable & missing) == missing) {
            reason = !cpu->cap                     ? "excluded by QK_ISA"
                     : !strcmp(cpu->cap, "scalar") ? capped[0]
                     : !strcmp(cpu->cap, "avx2")   ? capped[1]
                                                   : capped[2];
        } else if ((cpu->hw & missing) == missing) {
            reason = no_os[tier];
        } else {
            reason = lacks[tier];
        }
    }
    if (why) *why = reason;
    return 0;
}

const qk_kernel *qk_kernel_best(const char *variant) {
    const qk_kernel *best = NULL;
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = &table[i];
        if (!variant || strcmp(k->variant, variant) || !qk_kernel_available(k, NULL)) continue;
        if (!best || k->isa_bits > best->isa_bits)
            best = k; /* tiers nest: more bits, more capable */
    }
    return best;
}

int qk_q8_matrix_prepare(qk_q8_matrix *w, const qk_kernel *k) {
    if (!w || !k) return -1;
    qk_q8_matrix_release(w); /* a matrix holds one preparation at a time */
    return k->prepare ? k->prepare(w) : 0;
}

static int points_into(const void *p, const void *base, size_t bytes) {
    return p && base && (const char *)p >= (const char *)base &&
           (const char *)p < (const char *)base + bytes;
}

void qk_q8_matrix_release(qk_q8_matrix *w) {
    if (!w || !w->prepared) return;
    if (points_into(w->scales, w->prepared, w->prepared_bytes)) w->scales = NULL;
    if (points_into(w->packed, w->prepared, w->prepared_bytes)) w->packed = NULL;
    free(w->prepared);
    w->prepared = NULL;
    w->prepared_bytes = 0;
}

/* The alloc-copy counter. Relaxed: only the totals matter, read after the threads have joined. */
static _Atomic uint64_t alloc_count, alloc_bytes;

void qk_alloc_stats_add(uint64_t allocations, uint64_t bytes) {
    if (!allocations && !bytes) return;
    atomic_fetch_add_explicit(&alloc_count, allocations, memory_order_relaxed);
    atomic_fetch_add_explicit(&alloc_bytes, bytes, memory_order_relaxed);
}

void qk_alloc_stats_read(qk_alloc_stats *out) {
    out->allocations = atomic_load_explicit(&alloc_count, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&alloc_bytes, memory_order_relaxed);
}

void qk_alloc_stats_reset(void) {
    atomic_store_explicit(&alloc_count, 0, memory_order_relaxed);
    atomic_store_explicit(&alloc_bytes, 0, memory_order_relaxed);
}
