/* Kernel tests, generated over the registry: every row of the table is checked against the float64
 * oracle (kernels/reference.c) and bit for bit against the other variants of its arithmetic family
 * (the seed variants of its ISA; or, for QK_KERNEL_SCALAR_BITS kernels, the scalar ones). A new
 * registry row is tested with no edit here; rows the CPU cannot run are skipped with the reason.
 *
 * Built a second time as test_kernels_simde (QK_TEST_SIMDE, CMakeLists.txt), the same generated
 * tests run on the SIMDe-emulated avx512vnni tier instead of the registry (tests/support/
 * avx512-simde.h), which needs AVX2 only: its kernels are compared bit for bit with their families
 * among the registry's kernels and each other, and, where the CPU has AVX512-VNNI, with the native
 * kernels they are built from.
 *
 * Tolerance. A kernel's int32 block sums are exact and (float)isum is exact (|isum| <= 32*128*128 <
 * 2^24); the float work per output is at most two roundings per term (d_w * s_x, then the product
 * or a fused multiply-add) plus a sum of at most nb terms per lane and a reduction over <= 16 lanes
 * (4 levels). The classic bound for that is gamma_(nb+6) * S, where S = sum_k |d_w q_w s_x q_x|
 * (the magnitude of the terms, from the reference) and gamma_n ~ n * 2^-24. We test |got - ref| <=
 * (nb + 8) * 2^-24 * S + 1e-30 (nb = cols/32; the 1e-30 absorbs underflow in products of subnormal
 * fp16 scales, far below any normal output). At cols = 1152 that is 2.6e-6 relative to S. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/kernel.h"
#include "kernels/prepare.h"
#include "kernels/reference.h"
#include "kernels/repack.h"
#ifdef QK_TEST_SIMDE
#include "tests/support/avx512-simde.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD    16          /* floats after dst that no kernel may touch */
#define SENTINEL 0x7fa5a5a5u /* a NaN bit pattern no kernel produces */

/* ---- deterministic inputs
 * ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rng_int(uint64_t *s, int lo, int hi) {
    return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1));
}
static float rng_unit(uint64_t *s) {
    return (float)(rng_next(s) >> 40) * 0x1p-24f;
}

typedef enum { DATA_RANDOM, DATA_EXTREME } data_kind;

typedef struct {
    int rows, cols, nt, gran;
    data_kind kind;
    uint8_t *blocks;
    int8_t *xq;
    float *xs;
    qk_q8_matrix w;
    qk_act_i8 x;
} problem;

/* Weights: random fp16 scales and the full int8 range. DATA_EXTREME mixes in, block by block,
 * scales 0x0001 (smallest subnormal), 0x7BFF (largest finite), 0, and their negatives, blocks of
 * all -128, all 127 or alternating -128/127; activations of all 127, all -127 or alternating; zero
 * block scales. */
static void problem_init(problem *p, int rows, int cols, int nt, int gran, data_kind kind,
                         uint64_t seed) {
    const int nb = cols / QK8_0;
    *p = (problem){.rows = rows, .cols = cols, .nt = nt, .gran = gran, .kind = kind};
    p->blocks = malloc((size_t)rows * nb * QK8_0_BLOCK_BYTES);
    p->xq = malloc((size_t)nt * cols);
    p->xs = malloc(sizeof(float) * (size_t)nt * nb);
    cr_assert(p->blocks && p->xq && p->xs);
    uint64_t s = seed;
    static const uint16_t special_d[] = {0x0001, 0x7bff, 0x0000, 0x8001, 0xfbff};
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = p->blocks + ((size_t)r * nb + b) * QK8_0_BLOCK_BYTES;
            uint16_t d = qk_fp32_to_fp16_soft(0.0005f + 0.02f * rng_unit(&s));
            int8_t *q = (int8_t *)(blk + 2);
            for (int j = 0; j < QK8_0; j++) q[j] = (int8_t)rng_int(&s, -128, 127);
            if (kind == DATA_EXTREME) {
                const int dk = (r * 7 + b) % 8, qk = (r * 3 + b * 5) % 6;
                if (dk < 5) d = special_d[dk];
                for (int j = 0; j < QK8_0; j++)
                    q[j] = qk == 0 ? -128 : qk == 1 ? 127 : qk == 2 ? (j & 1 ? 127 : -128) : q[j];
            }
            blk[0] = (uint8_t)(d & 0xff);
            blk[1] = (uint8_t)(d >> 8);
        }
    for (int t = 0; t < nt; t++)
        for (int b = 0; b < nb; b++) {
            int8_t *q = p->xq + (size_t)t * cols + (size_t)b * QK8_0;
            const int xk = kind == DATA_EXTREME ? (t + 3 * b) % 5 : 4;
            for (int j = 0; j < QK8_0; j++)
                q[j] = xk == 0   ? 127
                       : xk == 1 ? -127
                       : xk == 2 ? (j & 1 ? -127 : 127)
                                 : (int8_t)rng_int(&s, -127, 127);
        }
    const int n_scales = gran == QK_ACT_PER_BLOCK ? nt * nb : nt;
    for (int i = 0; i < n_scales; i++) {
        p->xs[i] = 0.001f + 0.05f * rng_unit(&s);
        if (kind == DATA_EXTREME && gran == QK_ACT_PER_BLOCK && i % 7 == 3) p->xs[i] = 0.0f;
    }
    p->w = (qk_q8_matrix){.blocks = p->blocks, .rows = rows, .cols = cols};
    p->x =
        (qk_act_i8){.q = p->xq, .scale = p->xs, .n_tokens = nt, .cols = cols, .granularity = gran};
}

static void problem_free(problem *p) {
    qk_q8_matrix_release(&p->w);
    free(p->blocks);
    free(p->xq);
    free(p->xs);
}

static const char *gran_name(int g) {
    return g == QK_ACT_PER_BLOCK ? "per-block" : "per-token";
}

static float *dst_alloc(const problem *p) {
    const size_t n = (size_t)p->nt * p->rows + GUARD;
    uint32_t *d = malloc(n * sizeof *d);
    cr_assert(d);
    for (size_t i = 0; i < n; i++) d[i] = SENTINEL;
    return (float *)d;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- the registry as test parameters
 * ------------------------------------------------------------- */

/* The kernels under test: the registry's, or in test_kernels_simde the emulated tier's. */
#ifdef QK_TEST_SIMDE
#define SIMDE_BUILD 1
static int tested_count(void) {
    return qk_simde_kernel_count();
}
static const qk_kernel *tested_at(int i) {
    return qk_simde_kernel_at(i);
}
#else
#define SIMDE_BUILD 0
static int qk_simde_kernel_count(void) {
    return 0;
}
static const qk_kernel *qk_simde_kernel_at(int i) {
    (void)i;
    return NULL;
}
static int tested_count(void) {
    return qk_kernel_count();
}
static const qk_kernel *tested_at(int i) {
    return qk_kernel_at(i);
}
#endif

/* The kernels a result is compared with: the registry's, and the emulated ones in their build. */
static int others_count(void) {
    return qk_kernel_count() + qk_simde_kernel_count();
}
static const qk_kernel *other_at(int i) {
    return i < qk_kernel_count() ? qk_kernel_at(i) : qk_simde_kernel_at(i - qk_kernel_count());
}

static void free_params(struct criterion_test_params *crp) {
    cr_free(crp->params);
}

static struct criterion_test_params kernel_params(void) {
    const int n = tested_count();
    int *ids = cr_malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) ids[i] = i;
    return cr_make_param_array(int, ids, (size_t)n, free_params);
}

/* The kernel of parameter id, after skipping (with the reason) if this CPU cannot run it. */
static const qk_kernel *kernel_or_skip(int id) {
    const qk_kernel *k = tested_at(id);
    cr_assert(k, "no kernel %d", id);
    const char *why;
    if (!qk_kernel_available(k, &why)) cr_skip_test("%s__%s: %s", k->variant, k->isa, why);
    return k;
}

static void prepare_or_fail(problem *p, const qk_kernel *k) {
    cr_assert(qk_q8_matrix_prepare(&p->w, k) == 0, "%s__%s: prepare failed (%dx%d)", k->variant,
              k->isa, p->rows, p->cols);
}

/* ---- checks
 * -------------------------------------------------------------------------------------- */

/* Runs k on rows [r0, r1) and compares with the reference inside the range and with the sentinel
 * outside it and in the guard. */
static void check_reference(const qk_kernel *k, problem *p, int r0, int r1) {
    prepare_or_fail(p, k);
    float *dst = dst_alloc(p);
    const size_t n = (size_t)p->nt * p->rows;
    double *ref = malloc(sizeof(double) * n), *mag = malloc(sizeof(double) * n);
    cr_assert(ref && mag);
    k->matmul(dst, &p->w, &p->x, r0, r1);
    qk_reference_matmul_f64(ref, mag, &p->w, &p->x, r0, r1);
    const int nb = p->cols / QK8_0;
    for (int t = 0; t < p->nt; t++)
        for (int r = 0; r < p->rows; r++) {
            const size_t i = (size_t)t * p->rows + r;
            if (r < r0 || r >= r1) {
                cr_assert(
                    bits_of(dst[i]) == SENTINEL,
                    "%s__%s rows=%d cols=%d tokens=%d %s range [%d,%d): wrote dst[t=%d][r=%d] "
                    "outside the range (%g)",
                    k->variant, k->isa, p->rows, p->cols, p->nt, gran_name(p->gran), r0, r1, t, r,
                    dst[i]);
                continue;
            }
            const double diff = fabs((double)dst[i] - ref[i]);
            const double bound = (nb + 8) * 0x1p-24 * mag[i] + 1e-30;
            cr_assert(
                diff <= bound,
                "%s__%s rows=%d cols=%d tokens=%d %s %s range [%d,%d): dst[t=%d][r=%d] = %.9g, "
                "reference %.9g, |diff| %.3g > bound %.3g",
                k->variant, k->isa, p->rows, p->cols, p->nt, gran_name(p->gran),
                p->kind == DATA_EXTREME ? "extreme" : "random", r0, r1, t, r, dst[i], ref[i], diff,
                bound);
        }
    for (size_t i = n; i < n + GUARD; i++)
        cr_assert(bits_of(dst[i]) == SENTINEL, "%s__%s: wrote past the end of dst (index %zu)",
                  k->variant, k->isa, i);
    free(ref);
    free(mag);
    free(dst);
}

static const int ROWS[] = {1, 7, 256, 768}, COLS[] = {32, 64, 768, 1152}, TOKENS[] = {1, 3, 16};
static const int GRANS[] = {QK_ACT_PER_TOKEN, QK_ACT_PER_BLOCK};
#define LEN(a) (int)(sizeof(a) / sizeof((a)[0]))

ParameterizedTestParameters(kernels, matches_reference) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, matches_reference) {
    const qk_kernel *k = kernel_or_skip(*id);
    uint64_t seed = 1;
    for (int a = 0; a < LEN(ROWS); a++)
        for (int c = 0; c < LEN(COLS); c++)
            for (int t = 0; t < LEN(TOKENS); t++)
                for (int g = 0; g < LEN(GRANS); g++) {
                    problem p;
                    problem_init(&p, ROWS[a], COLS[c], TOKENS[t], GRANS[g], DATA_RANDOM, seed++);
                    check_reference(k, &p, 0, p.rows);
                    problem_free(&p);
                }
}

ParameterizedTestParameters(kernels, extreme_values) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, extreme_values) {
    const qk_kernel *k = kernel_or_skip(*id);
    static const int rows[] = {1, 7, 33}, cols[] = {32, 96, 1152}, tokens[] = {1, 5};
    uint64_t seed = 100;
    for (int a = 0; a < LEN(rows); a++)
        for (int c = 0; c < LEN(cols); c++)
            for (int t = 0; t < LEN(tokens); t++)
                for (int g = 0; g < LEN(GRANS); g++) {
                    problem p;
                    problem_init(&p, rows[a], cols[c], tokens[t], GRANS[g], DATA_EXTREME, seed++);
                    check_reference(k, &p, 0, p.rows);
                    problem_free(&p);
                }
}

/* Sub-ranges leave the rest of dst alone, across the row-tile boundaries of every ISA. */
ParameterizedTestParameters(kernels, row_subranges) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, row_subranges) {
    const qk_kernel *k = kernel_or_skip(*id);
    static const struct {
        int rows, r0, r1;
    } ranges[] = {{7, 2, 5},   {7, 0, 1},   {7, 6, 7},  {7, 3, 3},
                  {33, 5, 29}, {33, 1, 32}, {20, 0, 19}};
    static const int tokens[] = {1, 2, 3, 4, 5, 16};
    uint64_t seed = 200;
    for (int a = 0; a < LEN(ranges); a++)
        for (int t = 0; t < LEN(tokens); t++)
            for (int g = 0; g < LEN(GRANS); g++) {
                problem p;
                problem_init(&p, ranges[a].rows, 96, tokens[t], GRANS[g], DATA_RANDOM, seed++);
                check_reference(k, &p, ranges[a].r0, ranges[a].r1);
                problem_free(&p);
            }
}

/* The kernels whose outputs must match bit for bit: per ISA, the four seed variants (one shared
 * core per ISA, kernels/<isa>/dot.h); and the scalar family, the scalar seed variants plus every
 * kernel flagged QK_KERNEL_SCALAR_BITS (the packed variants of kernels/repack.h, whatever their
 * ISA). */
static const char *arith_family(const qk_kernel *k) {
    if (!strcmp(k->isa, "scalar") || (k->flags & QK_KERNEL_SCALAR_BITS)) return "scalar";
    return !strcmp(k->isa, "avx512vnni-simde") ? "avx512vnni" : k->isa; /* the same source */
}

/* Within one arithmetic family every variant gives the same bits as every other, and any split of
 * the rows (as threads make) gives the same bits as one call. */
ParameterizedTestParameters(kernels, bit_identical_within_isa) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, bit_identical_within_isa) {
    const qk_kernel *k = kernel_or_skip(*id);
    static const struct {
        int rows, cols, nt;
    } shapes[] = {{7, 32, 1}, {33, 96, 3}, {13, 1152, 5}, {40, 768, 16}, {9, 64, 1}, {21, 96, 37}};
    uint64_t seed = 300;
    int compared = 0;
    for (int s = 0; s < LEN(shapes); s++)
        for (int g = 0; g < LEN(GRANS); g++)
            for (int kind = DATA_RANDOM; kind <= DATA_EXTREME; kind++) {
                problem p;
                problem_init(&p, shapes[s].rows, shapes[s].cols, shapes[s].nt, GRANS[g],
                             (data_kind)kind, seed++);
                prepare_or_fail(&p, k);
                const size_t n = (size_t)p.nt * p.rows;
                float *mine = dst_alloc(&p), *split = dst_alloc(&p), *other = dst_alloc(&p);
                k->matmul(mine, &p.w, &p.x, 0, p.rows);
                const int cut1 = p.rows / 3, cut2 = cut1 + 1;
                k->matmul(split, &p.w, &p.x, cut2, p.rows);
                k->matmul(split, &p.w, &p.x, 0, cut1);
                k->matmul(split, &p.w, &p.x, cut1, cut2);
                for (size_t i = 0; i < n; i++)
                    cr_assert(bits_of(mine[i]) == bits_of(split[i]),
                              "%s__%s rows=%d cols=%d tokens=%d %s: split at %d,%d changes "
                              "dst[t=%zu][r=%zu]: %a vs %a",
                              k->variant, k->isa, p.rows, p.cols, p.nt, gran_name(p.gran), cut1,
                              cut2, i / p.rows, i % p.rows, mine[i], split[i]);
                for (int o = 0; o < others_count(); o++) {
                    const qk_kernel *ko = other_at(o);
                    if (ko == k || strcmp(arith_family(ko), arith_family(k)) ||
                        !qk_kernel_available(ko, NULL))
                        continue;
                    qk_q8_matrix wo = {.blocks = p.blocks, .rows = p.rows, .cols = p.cols};
                    cr_assert(qk_q8_matrix_prepare(&wo, ko) == 0);
                    ko->matmul(other, &wo, &p.x, 0, p.rows);
                    qk_q8_matrix_release(&wo);
                    for (size_t i = 0; i < n; i++)
                        cr_assert(bits_of(mine[i]) == bits_of(other[i]),
                                  "%s__%s vs %s__%s (family %s) rows=%d cols=%d tokens=%d %s %s: "
                                  "dst[t=%zu][r=%zu] %a vs %a (not bit-identical)",
                                  k->variant, k->isa, ko->variant, ko->isa, arith_family(k), p.rows,
                                  p.cols, p.nt, gran_name(p.gran),
                                  kind == DATA_EXTREME ? "extreme" : "random", i / p.rows,
                                  i % p.rows, mine[i], other[i]);
                    compared++;
                }
                free(mine);
                free(split);
                free(other);
                problem_free(&p);
            }
    if (!compared)
        cr_log_info("%s__%s: no other variant of its family (%s) to compare", k->variant, k->isa,
                    arith_family(k));
}

/* alloc-copy allocates exactly once per weight block fetch (prepare.h: per row, block and group of
 * QK_TOKEN_TILE tokens), 32 bytes each; every other kernel allocates nothing through the counter.
 */
ParameterizedTestParameters(kernels, allocation_count) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, allocation_count) {
    const qk_kernel *k = kernel_or_skip(*id);
    const int allocating = !strcmp(k->variant, "alloc-copy");
    static const struct {
        int rows, cols, nt, r0, r1;
    } cases[] = {{7, 96, 1, 0, 7},
                 {7, 96, 3, 2, 5},
                 {33, 64, 5, 1, 30},
                 {16, 1152, 16, 0, 16},
                 {5, 32, 4, 0, 5}};
    for (int c = 0; c < LEN(cases); c++) {
        problem p;
        problem_init(&p, cases[c].rows, cases[c].cols, cases[c].nt, QK_ACT_PER_TOKEN, DATA_RANDOM,
                     400 + (uint64_t)c);
        prepare_or_fail(&p, k);
        float *dst = dst_alloc(&p);
        qk_alloc_stats before, after;
        qk_alloc_stats_read(&before);
        k->matmul(dst, &p.w, &p.x, cases[c].r0, cases[c].r1);
        qk_alloc_stats_read(&after);
        const uint64_t want =
            allocating ? qk_fetches_per_call(cases[c].r0, cases[c].r1, p.cols, p.nt) : 0;
        const uint64_t got = after.allocations - before.allocations;
        cr_assert(got == want && after.bytes - before.bytes == 32 * want,
                  "%s__%s rows=%d cols=%d tokens=%d range [%d,%d): %llu allocations (%llu bytes), "
                  "expected %llu (%llu bytes)",
                  k->variant, k->isa, p.rows, p.cols, p.nt, cases[c].r0, cases[c].r1,
                  (unsigned long long)got, (unsigned long long)(after.bytes - before.bytes),
                  (unsigned long long)want, (unsigned long long)(32 * want));
        free(dst);
        problem_free(&p);
    }
}

/* Row groups (row_block > 1): ranges that start and end inside groups, single rows at group edges,
 * whole groups, and row counts that leave the last group partial (padded at prepare). Run on every
 * kernel: for row_block 1 they are just more sub-ranges. */
ParameterizedTestParameters(kernels, partial_row_groups) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, partial_row_groups) {
    const qk_kernel *k = kernel_or_skip(*id);
    static const struct {
        int rows, r0, r1;
    } ranges[] = {{37, 0, 37},  {37, 3, 5},   {37, 5, 29},  {37, 7, 9},   {37, 8, 16},
                  {37, 15, 17}, {37, 33, 37}, {37, 36, 37}, {37, 0, 1},   {37, 31, 33},
                  {37, 16, 32}, {9, 0, 9},    {15, 0, 15},  {17, 0, 17},  {17, 16, 17},
                  {23, 1, 22},  {31, 0, 31},  {33, 0, 33},  {49, 17, 47}, {49, 0, 49},
                  {5, 2, 4},    {1, 0, 1}};
    static const int tokens[] = {1, 2, 7, 13};
    uint64_t seed = 500;
    for (int a = 0; a < LEN(ranges); a++)
        for (int t = 0; t < LEN(tokens); t++)
            for (int g = 0; g < LEN(GRANS); g++) {
                problem p;
                problem_init(&p, ranges[a].rows, 64, tokens[t], GRANS[g],
                             a % 2 ? DATA_EXTREME : DATA_RANDOM, seed++);
                check_reference(k, &p, ranges[a].r0, ranges[a].r1);
                problem_free(&p);
            }
}

/* Every token count from 1 to 2 * token_tile + 1: full tiles, the remainder tile of every size. */
ParameterizedTestParameters(kernels, token_counts_around_the_tile) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, token_counts_around_the_tile) {
    const qk_kernel *k = kernel_or_skip(*id);
    const int tile = k->token_tile > 0 ? k->token_tile : 1;
    uint64_t seed = 600;
    for (int nt = 1; nt <= 2 * tile + 1; nt++)
        for (int g = 0; g < LEN(GRANS); g++) {
            problem p;
            problem_init(&p, 19, 96, nt, GRANS[g], nt % 2 ? DATA_RANDOM : DATA_EXTREME, seed++);
            check_reference(k, &p, 0, p.rows);
            problem_free(&p);
            problem_init(&p, 19, 96, nt, GRANS[g], DATA_RANDOM, seed++);
            check_reference(k, &p, 3, 18);
            problem_free(&p);
        }
}

/* Token counts across gemm's switch of tile (kernels/repack.h, QK_GEMM_SMALL_N__AVX2 = 24): both
 * tiles, their remainders, partial row ranges. (avx512vnni's switch, at 4 tokens, is inside
 * token_counts_around_the_tile's 1 .. 2 * 4 + 1.) */
ParameterizedTestParameters(kernels, token_counts_across_the_tile_switch) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, token_counts_across_the_tile_switch) {
    const qk_kernel *k = kernel_or_skip(*id);
    static const int tokens[] = {19, 22, 23, 24, 25, 26, 29, 31, 41, 64};
    uint64_t seed = 700;
    for (int t = 0; t < LEN(tokens); t++)
        for (int g = 0; g < LEN(GRANS); g++) {
            problem p;
            problem_init(&p, 19, 64, tokens[t], GRANS[g], t % 2 ? DATA_RANDOM : DATA_EXTREME,
                         seed++);
            check_reference(k, &p, 0, p.rows);
            problem_free(&p);
            problem_init(&p, 19, 64, tokens[t], GRANS[g], DATA_RANDOM, seed++);
            check_reference(k, &p, 5, 17);
            problem_free(&p);
        }
}

/* No tokens: nothing written, nothing read past the activations, no division by a zero tile count.
 */
ParameterizedTestParameters(kernels, zero_tokens) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, zero_tokens) {
    const qk_kernel *k = kernel_or_skip(*id);
    problem p;
    problem_init(&p, 21, 64, 1, QK_ACT_PER_TOKEN, DATA_RANDOM, 650);
    prepare_or_fail(&p, k);
    float *dst = dst_alloc(&p);
    p.x.n_tokens = 0;
    k->matmul(dst, &p.w, &p.x, 0, p.rows);
    k->matmul(dst, &p.w, &p.x, 3, 17);
    for (int i = 0; i < p.rows + GUARD; i++)
        cr_assert(bits_of(dst[i]) == SENTINEL, "%s__%s: wrote dst[%d] with no tokens", k->variant,
                  k->isa, i);
    free(dst);
    problem_free(&p);
}

/* The packed layouts (kernels/repack.h) of every kernel that makes one: one 64-byte aligned block
 * of ceil(rows/G) * G rows x cols/32 blocks (rounded up to 64), owned by the matrix; each row's
 * scale, quants (and, in the avx512vnni layout, minus its block sum) where the layout says; zero
 * padding rows; release clears it. */
typedef struct {
    int scale, neg_sum, quant, block; /* byte offsets of row i's fields in a block of G rows */
} layout_of_row;

static layout_of_row row_fields(const qk_kernel *k, int G, int i, int j) {
    if (k->prepare == qk_repack_vnni_prepare) /* 16 rows: scales, -sums, quants in 4-byte groups */
        return (layout_of_row){2 * i, 2 * G + 2 * i, 4 * G + 4 * G * (j / 4) + 4 * i + j % 4,
                               QK_VNNI_BLOCK_BYTES};
    return (layout_of_row){2 * i, -1, 2 * G + 4 * G * (j / 4) + 4 * i + j % 4,
                           G * QK8_0_BLOCK_BYTES};
}

ParameterizedTestParameters(kernels, packed_layout_and_release) {
    return kernel_params();
}
ParameterizedTest(int *id, kernels, packed_layout_and_release) {
    const qk_kernel *k = tested_at(*id); /* layout only: no need to run the kernel */
    cr_assert(k);
    static const struct {
        int rows, cols;
    } shapes[] = {{1, 32}, {7, 64}, {8, 32}, {37, 96}, {64, 1152}, {17, 768}};
    for (int s = 0; s < LEN(shapes); s++) {
        problem p;
        problem_init(&p, shapes[s].rows, shapes[s].cols, 1, QK_ACT_PER_TOKEN, DATA_EXTREME,
                     700 + (uint64_t)s);
        prepare_or_fail(&p, k);
        if (!p.w.packed) {
            cr_assert(k->row_block <= 1, "%s__%s: row_block %d without a packed layout", k->variant,
                      k->isa, k->row_block);
            problem_free(&p);
            return;
        }
        const int G = k->row_block, nb = p.cols / QK8_0, groups = (p.rows + G - 1) / G;
        const int vnni = k->prepare == qk_repack_vnni_prepare;
        cr_assert(vnni ? G == QK_VNNI_G : G % 8 == 0 && G <= 32, "%s__%s: row_block %d", k->variant,
                  k->isa, G);
        const size_t block = (size_t)row_fields(k, G, 0, 0).block;
        const size_t want = ((size_t)groups * nb * block + 63) & ~(size_t)63;
        cr_assert(p.w.packed == p.w.prepared && p.w.prepared_bytes == want,
                  "%s__%s rows=%d cols=%d: prepared_bytes %zu, expected %zu", k->variant, k->isa,
                  p.rows, p.cols, p.w.prepared_bytes, want);
        cr_assert(((uintptr_t)p.w.packed & 63) == 0, "packed layout not 64-byte aligned");
        for (int r = 0; r < groups * G; r++)
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk =
                    (const uint8_t *)p.w.packed + ((size_t)(r / G) * nb + (size_t)b) * block;
                const int i = r % G;
                const uint8_t *src =
                    r < p.rows ? p.blocks + ((size_t)r * nb + b) * QK8_0_BLOCK_BYTES : NULL;
                const layout_of_row f = row_fields(k, G, i, 0);
                cr_assert(blk[f.scale] == (src ? src[0] : 0) &&
                              blk[f.scale + 1] == (src ? src[1] : 0),
                          "%s__%s: scale of row %d block %d", k->variant, k->isa, r, b);
                int sum = 0;
                for (int j = 0; j < QK8_0; j++) {
                    const int8_t q = src ? (int8_t)src[2 + j] : 0;
                    sum += q;
                    cr_assert((int8_t)blk[row_fields(k, G, i, j).quant] == q,
                              "%s__%s: quant %d of row %d block %d", k->variant, k->isa, j, r, b);
                }
                if (f.neg_sum >= 0) {
                    const int16_t neg = (int16_t)(blk[f.neg_sum] | blk[f.neg_sum + 1] << 8);
                    cr_assert(neg == -sum, "%s__%s: -sum of row %d block %d: %d, expected %d",
                              k->variant, k->isa, r, b, neg, -sum);
                }
            }
        qk_q8_matrix_release(&p.w);
        cr_assert(!p.w.prepared && !p.w.packed && p.w.prepared_bytes == 0 && !p.w.scales);
        qk_q8_matrix_release(&p.w); /* idempotent */
        /* bad shapes are refused and leave the matrix as it was */
        static const struct { int rows, cols; } bad[] = {{5, 40}, {0, 64}, {-3, 64}, {5, 0}};
        for (int b = 0; b < LEN(bad); b++) {
            qk_q8_matrix m = {.blocks = p.blocks, .rows = bad[b].rows, .cols = bad[b].cols};
            cr_assert(k->prepare(&m) != 0, "%s__%s: prepared a %dx%d matrix", k->variant, k->isa,
                      bad[b].rows, bad[b].cols);
            cr_assert(!m.prepared && !m.packed && !m.scales && m.prepared_bytes == 0);
        }
        qk_q8_matrix none = {.blocks = NULL, .rows = 8, .cols = 64};
        cr_assert(k->prepare(&none) != 0 && !none.prepared);
        problem_free(&p);
    }
}

#if !SIMDE_BUILD /* the registry, detection and the oracle: tested once, in test_kernels */
Test(prepare, repack_group_sizes) {
    problem p;
    problem_init(&p, 13, 64, 1, QK_ACT_PER_TOKEN, DATA_RANDOM, 800);
    static const int bad_g[] = {0, 4, 12, 40, -8};
    for (int i = 0; i < LEN(bad_g); i++) {
        cr_assert(qk_repack_prepare(&p.w, bad_g[i]) != 0, "G = %d accepted", bad_g[i]);
        cr_assert(!p.w.prepared && !p.w.packed);
    }
    static const int good_g[] = {8, 16, 24, 32};
    for (int i = 0; i < LEN(good_g); i++) {
        cr_assert(qk_repack_prepare(&p.w, good_g[i]) == 0);
        cr_assert(p.w.prepared_bytes == ((qk_repack_bytes(13, 64, good_g[i]) + 63) & ~(size_t)63));
        qk_q8_matrix_release(&p.w);
    }
    problem_free(&p);
}

/* ---- the registry and detection
 * ------------------------------------------------------------------- */

static unsigned tier_bits(const char *isa) {
    if (!strcmp(isa, "scalar")) return QK_ISA_SCALAR;
    if (!strcmp(isa, "avx2")) return QK_ISA_AVX2;
    if (!strcmp(isa, "avx512vnni")) return QK_ISA_AVX2 | QK_ISA_AVX512VNNI;
    return ~0u;
}

Test(registry, rows_are_well_formed) {
    const int n = qk_kernel_count();
    cr_assert(n > 0);
    cr_assert_null(qk_kernel_at(-1));
    cr_assert_null(qk_kernel_at(n));
    cr_assert_null(qk_kernel_find("no-such-variant", "avx2"));
    cr_assert_null(qk_kernel_find("zero-copy", "no-such-isa"));
    for (int i = 0; i < n; i++) {
        const qk_kernel *k = qk_kernel_at(i);
        cr_assert(k->variant && *k->variant && k->summary && *k->summary && k->matmul);
        cr_assert(tier_bits(k->isa) == k->isa_bits, "%s__%s: isa_bits 0x%x do not match its tier",
                  k->variant, k->isa, k->isa_bits);
        cr_assert(qk_kernel_find(k->variant, k->isa) == k, "%s__%s: duplicate or not found",
                  k->variant, k->isa);
        cr_assert(k->row_block >= 0 && k->token_tile >= 1, "%s__%s: row_block %d token_tile %d",
                  k->variant, k->isa, k->row_block, k->token_tile);
    }
}

Test(registry, availability_and_best) {
    const unsigned have = qk_cpu_isa_bits();
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_at(i);
        const char *why = "unset";
        const int ok = qk_kernel_available(k, &why);
        cr_assert(ok == ((k->isa_bits & ~have) == 0), "%s__%s", k->variant, k->isa);
        if (ok)
            cr_assert_null(why);
        else
            cr_assert(why && *why, "%s__%s: unavailable without a reason", k->variant, k->isa);
        if (!strcmp(k->isa, "scalar")) cr_assert(ok, "scalar kernels run anywhere");
        const qk_kernel *best = qk_kernel_best(k->variant);
        cr_assert(best && qk_kernel_available(best, NULL) && !strcmp(best->variant, k->variant));
        if (ok) cr_assert(best->isa_bits >= k->isa_bits, "%s: best is %s", k->variant, best->isa);
    }
    cr_assert_null(qk_kernel_best("no-such-variant"));
    const char *why = NULL;
    cr_assert(!qk_kernel_available(NULL, &why) && why);
}

Test(cpu, detection_nests) {
    const qk_cpu_state *s = qk_cpu_state_get();
    cr_assert((s->bits & ~s->usable) == 0 && (s->usable & ~s->hw) == 0);
    cr_assert(qk_cpu_isa_bits() == s->bits && qk_cpu_isa_bits_detected() == s->usable);
    if (s->usable & QK_ISA_AVX512VNNI) cr_assert(s->usable & QK_ISA_AVX2, "tiers nest");
    cr_log_info("detected %s, using %s%s%s", qk_cpu_tier_name(s->usable), qk_cpu_tier_name(s->bits),
                *s->note ? "; " : "", s->note);
}

Test(cpu, qk_isa_override_caps_and_validates) {
    const unsigned all = QK_ISA_AVX2 | QK_ISA_AVX512VNNI;
    const char *cap;
    char note[160];
    cr_assert_eq(qk_cpu_isa_cap(all, NULL, &cap, note, sizeof note), all);
    cr_assert(cap == NULL && note[0] == '\0');
    cr_assert_eq(qk_cpu_isa_cap(all, "", &cap, note, sizeof note), all);
    cr_assert_eq(qk_cpu_isa_cap(all, "scalar", &cap, note, sizeof note), 0u);
    cr_assert_str_eq(cap, "scalar");
    cr_assert_eq(qk_cpu_isa_cap(all, "avx2", &cap, note, sizeof note), (unsigned)QK_ISA_AVX2);
    cr_assert_eq(qk_cpu_isa_cap(all, "avx512vnni", &cap, note, sizeof note), all);
    /* a cap above what the machine has cannot raise it, and says so */
    cr_assert_eq(qk_cpu_isa_cap(QK_ISA_AVX2, "avx512vnni", &cap, note, sizeof note),
                 (unsigned)QK_ISA_AVX2);
    cr_assert(strstr(note, "only avx2"), "note: %s", note);
    /* unknown values are ignored, with a note */
    cr_assert_eq(qk_cpu_isa_cap(all, "AVX2", &cap, note, sizeof note), all);
    cr_assert(cap == NULL && strstr(note, "ignored"), "note: %s", note);
    cr_assert_eq(qk_cpu_isa_cap(QK_ISA_AVX2, "avx512", &cap, NULL, 0), (unsigned)QK_ISA_AVX2);
}

/* ---- prepare and the oracle
 * ----------------------------------------------------------------------- */

Test(prepare, scale_table_and_release) {
    problem p;
    problem_init(&p, 5, 96, 1, QK_ACT_PER_TOKEN, DATA_EXTREME, 7);
    const qk_kernel *k = qk_kernel_find("zero-copy", "scalar");
    cr_assert(k && k->prepare);
    for (int round = 0; round < 2; round++) { /* preparing twice releases the first table */
        cr_assert(qk_q8_matrix_prepare(&p.w, k) == 0);
        cr_assert(p.w.prepared && p.w.scales == p.w.prepared);
        cr_assert(p.w.prepared_bytes >= 5 * 3 * sizeof(float));
        for (int i = 0; i < 5 * 3; i++) {
            const uint8_t *blk = p.blocks + (size_t)i * QK8_0_BLOCK_BYTES;
            const float want = qk_fp16_to_fp32_soft((uint16_t)(blk[0] | blk[1] << 8));
            cr_assert(bits_of(p.w.scales[i]) == bits_of(want), "scale %d: %a vs %a", i,
                      p.w.scales[i], want);
        }
    }
    qk_q8_matrix_release(&p.w);
    cr_assert(!p.w.prepared && !p.w.scales && p.w.prepared_bytes == 0);
    qk_q8_matrix_release(&p.w); /* idempotent */
    qk_q8_matrix bad = {.blocks = p.blocks, .rows = 5, .cols = 40};
    cr_assert(qk_q8_matrix_prepare(&bad, k) != 0, "cols not a multiple of 32 is refused");
    cr_assert(!bad.prepared && !bad.scales);
    problem_free(&p);
}

Test(reference, hand_computed) {
    /* one row of 64: block 0 scale 0.5 (0x3800), q = j - 16; block 1 scale -2 (0xC000), q = -128 */
    uint8_t blocks[2 * QK8_0_BLOCK_BYTES];
    blocks[0] = 0x00, blocks[1] = 0x38, blocks[34] = 0x00, blocks[35] = 0xc0;
    for (int j = 0; j < 32; j++) {
        blocks[2 + j] = (uint8_t)(int8_t)(j - 16);
        blocks[36 + j] = (uint8_t)(int8_t)-128;
    }
    int8_t xq[64];
    for (int j = 0; j < 64; j++) xq[j] = (int8_t)(j < 32 ? 1 : 3);
    const float tok_scale[1] = {0.25f}, blk_scale[2] = {0.25f, 0.125f};
    const qk_q8_matrix w = {.blocks = blocks, .rows = 1, .cols = 64};
    /* sum_j (j-16) = -16; block 0: 0.5*0.25*(-16) = -2; block 1: -2*s*(-128*3*32) */
    double got, mag;
    qk_act_i8 x = {.q = xq, .scale = tok_scale, .n_tokens = 1, .cols = 64};
    qk_reference_matmul_f64(&got, &mag, &w, &x, 0, 1);
    cr_assert_eq(got, -2.0 + 0.25 * 24576.0);
    x.scale = blk_scale, x.granularity = QK_ACT_PER_BLOCK;
    qk_reference_matmul_f64(&got, &mag, &w, &x, 0, 1);
    cr_assert_eq(got, -2.0 + 0.125 * 24576.0);
    cr_assert_eq(mag, 0.5 * 0.25 * 256.0 + 0.125 * 24576.0); /* sum |j-16| = 256 */
    float f;
    qk_reference_matmul(&f, &w, &x, 0, 1);
    cr_assert_eq(f, (float)(-2.0 + 0.125 * 24576.0));
}
#endif

#if SIMDE_BUILD
/* The emulated tier has a twin of every avx512vnni registry row, and runs on this CPU (it needs
 * AVX2 only): says so, with whether the native tier runs here too. */
Test(simde, tier_complete_and_runs_here) {
    const char *first = NULL;
    cr_assert_eq(qk_simde_missing(&first), 0,
                 "avx512vnni registry row %s has no SIMDe twin (tests/support/avx512-simde.c)",
                 first);
    int rows = 0, native_here = 0;
    for (int i = 0; i < qk_kernel_count(); i++)
        if (!strcmp(qk_kernel_at(i)->isa, "avx512vnni")) {
            rows++;
            native_here += qk_kernel_available(qk_kernel_at(i), NULL);
        }
    cr_assert_gt(rows, 0);
    cr_assert_eq(qk_simde_kernel_count(), rows);
    for (int i = 0; i < rows; i++) {
        const qk_kernel *k = qk_simde_kernel_at(i), *n = qk_simde_native_of(k);
        const char *why;
        cr_assert(n && !strcmp(n->variant, k->variant) && n->row_block == k->row_block &&
                  n->token_tile == k->token_tile && n->flags == k->flags &&
                  n->prepare == k->prepare && n->matmul != k->matmul);
        cr_assert(!strcmp(k->isa, QK_SIMDE_ISA) && k->isa_bits == QK_ISA_AVX2);
        if (!qk_kernel_available(k, &why)) cr_skip_test("emulated avx512vnni tier: %s", why);
    }
    fprintf(stderr,
            "SIMDe-emulated avx512vnni tier: %d kernels run on this CPU; native avx512vnni %s\n",
            rows,
            native_here == rows ? "runs here too (compared bit for bit)"
                                : "does not (checked against the scalar family and the float64 "
                                  "reference)");
}

/* On an AVX512-VNNI CPU the emulated and the native build of each kernel give the same bits
 * (random and extreme data, both activation granularities, row sub-ranges, the tile switches). */
ParameterizedTestParameters(simde, native_and_emulated_identical) {
    return kernel_params();
}
ParameterizedTest(int *id, simde, native_and_emulated_identical) {
    const qk_kernel *k = kernel_or_skip(*id), *nat = qk_simde_native_of(k);
    const char *why;
    cr_assert(nat);
    if (!qk_kernel_available(nat, &why))
        cr_skip_test("%s__%s: no native run to compare with (%s)", nat->variant, nat->isa, why);
    static const struct {
        int rows, cols, nt, r0, r1;
    } cases[] = {{7, 32, 1, 0, 7},      {33, 96, 3, 1, 30},   {40, 768, 16, 0, 40},
                 {64, 1152, 5, 16, 48}, {37, 64, 23, 3, 37},  {21, 96, 24, 0, 21},
                 {50, 160, 37, 0, 50},  {19, 64, 128, 5, 17}, {768, 256, 2, 0, 768}};
    uint64_t seed = 900;
    for (int c = 0; c < LEN(cases); c++)
        for (int g = 0; g < LEN(GRANS); g++)
            for (int kind = DATA_RANDOM; kind <= DATA_EXTREME; kind++) {
                problem p;
                problem_init(&p, cases[c].rows, cases[c].cols, cases[c].nt, GRANS[g],
                             (data_kind)kind, seed++);
                prepare_or_fail(&p, k);
                qk_q8_matrix wn = {.blocks = p.blocks, .rows = p.rows, .cols = p.cols};
                cr_assert(qk_q8_matrix_prepare(&wn, nat) == 0);
                float *emu = dst_alloc(&p), *nv = dst_alloc(&p);
                k->matmul(emu, &p.w, &p.x, cases[c].r0, cases[c].r1);
                nat->matmul(nv, &wn, &p.x, cases[c].r0, cases[c].r1);
                const size_t n = (size_t)p.nt * p.rows + GUARD;
                for (size_t i = 0; i < n; i++)
                    cr_assert(bits_of(emu[i]) == bits_of(nv[i]),
                              "%s: emulated %a, native %a at dst[%zu] (rows=%d cols=%d tokens=%d "
                              "%s %s, range [%d,%d))",
                              k->variant, emu[i], nv[i], i, p.rows, p.cols, p.nt, gran_name(p.gran),
                              kind == DATA_EXTREME ? "extreme" : "random", cases[c].r0,
                              cases[c].r1);
                qk_q8_matrix_release(&wn);
                free(emu);
                free(nv);
                problem_free(&p);
            }
}
#endif
