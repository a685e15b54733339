/* kernels/row-ops.h: every table this CPU can run against model/q8_0.c (quantisation, bit for
 * bit), model/gemma.c's formulas (the scalar float ops, bit for bit) and the scalar table (the
 * vector float ops, within stated bounds).
 *
 * Built a second time as test_row_ops_simde (QK_TEST_SIMDE, CMakeLists.txt), the same tests run on
 * the SIMDe-emulated avx512vnni table (tests/support/avx512-simde.h), which needs AVX2 only, and,
 * where the CPU has AVX-512, compare it bit for bit with the native one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/row-ops.h"
#include "model/q8_0.h"
#ifdef QK_TEST_SIMDE
#include "tests/support/avx512-simde.h"
#endif

TestSuite(row_ops, .timeout = 300);

/* The tables under test: every tier's, or in test_row_ops_simde the emulated one. */
#ifdef QK_TEST_SIMDE
#define N_TABLES 1
static const qk_row_ops *table_at(int k) {
    (void)k;
    return qk_simde_row_ops();
}
#else
static const char *const isas[] = {"scalar", "avx2", "avx512vnni"};
#define N_ISAS   3
#define N_TABLES N_ISAS
static const qk_row_ops *table_at(int k) {
    return qk_row_ops_for_isa(isas[k]);
}
#endif

/* The table, or NULL (test skipped) if the CPU cannot run it. */
static const qk_row_ops *table(int k) {
    const qk_row_ops *ops = table_at(k);
    cr_assert_not_null(ops, "table %d", k);
    return (ops->isa_bits & ~qk_cpu_isa_bits()) ? NULL : ops;
}
#define FOR_TABLES(ops)                                                                            \
    for (int k_ = 0; k_ < N_TABLES; k_++)                                                          \
        for (const qk_row_ops *ops = table(k_); ops; ops = NULL)

static void skip_without_avx2(void) {
    if (!(qk_cpu_isa_bits() & QK_ISA_AVX2)) cr_skip_test("CPU lacks avx2 (or QK_ISA caps it)");
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_u32(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((next_u32() >> 8) * (1.0 / 16777216.0));
}
/* A value of random sign and magnitude across ~2^-10 .. 2^10 times s. */
static float wide(float s) {
    return ldexpf(uniform(-1.0f, 1.0f), (int)(next_u32() % 21) - 10) * s;
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static int same_float(float a, float b) {
    return (isnan(a) && isnan(b)) || bits(a) == bits(b);
}

/* ops->quantize against q8_0.c; x (n values) is not modified. */
static void check_quantize(const qk_row_ops *ops, const float *x, int n, int granularity,
                           const char *what) {
    const int ns = granularity == QK_ACT_PER_BLOCK ? n / 32 : 1;
    int8_t *q = malloc((size_t)n), *qr = malloc((size_t)n);
    float *s = malloc(sizeof(float) * (size_t)ns), *sr = malloc(sizeof(float) * (size_t)ns);
    memset(q, 0x55, (size_t)n);
    if (granularity == QK_ACT_PER_BLOCK)
        qk_quantize_act_block(x, n, qr, sr);
    else
        qk_quantize_act_token(x, n, qr, sr);
    ops->quantize(x, n, q, s, granularity);
    for (int j = 0; j < n; j++)
        cr_assert_eq(q[j], qr[j], "%s %s n=%d g=%d: q[%d] = %d, q8_0.c %d (x %.9g)", ops->isa, what,
                     n, granularity, j, q[j], qr[j], x[j]);
    for (int b = 0; b < ns; b++)
        cr_assert(same_float(s[b], sr[b]), "%s %s n=%d g=%d: scale[%d] %.9g, q8_0.c %.9g", ops->isa,
                  what, n, granularity, b, s[b], sr[b]);
    free(q), free(qr), free(s), free(sr);
}

static void check_both(const qk_row_ops *ops, const float *x, int n, const char *what) {
    check_quantize(ops, x, n, QK_ACT_PER_TOKEN, what);
    if (n % 32 == 0) check_quantize(ops, x, n, QK_ACT_PER_BLOCK, what);
}

#ifndef QK_TEST_SIMDE
Test(row_ops, lookup) {
    const qk_row_ops *t[N_ISAS];
    static const unsigned bits[N_ISAS] = {QK_ISA_SCALAR, QK_ISA_AVX2,
                                          QK_ISA_AVX2 | QK_ISA_AVX512VNNI};
    for (int i = 0; i < N_ISAS; i++) {
        t[i] = qk_row_ops_for_isa(isas[i]);
        cr_assert(t[i], "%s", isas[i]);
        cr_assert_str_eq(t[i]->isa, isas[i], "every tier has its own table");
        cr_assert_eq(t[i]->isa_bits, bits[i], "%s", isas[i]);
        cr_assert(t[i]->quantize && t[i]->rms_norm && t[i]->geglu && t[i]->rms_norm_quantize &&
                  t[i]->geglu_quantize && t[i]->dot_rows && t[i]->exp_shift_sum &&
                  t[i]->weighted_sum);
    }
    cr_assert_null(qk_row_ops_for_isa("sse2"));
    cr_assert_null(qk_row_ops_for_isa(""));
    cr_assert_null(qk_row_ops_for_isa(NULL));
}

Test(row_ops, avx2_table_runs_here) {
    skip_without_avx2();
    cr_assert_not_null(table(1));
}
#endif

Test(row_ops, quantize_random_rows_match_q8_0) {
    float *x = malloc(sizeof(float) * 4096);
    FOR_TABLES(ops) {
        for (int n = 32; n <= 4096; n += 32)
            for (int kind = 0; kind < 3; kind++) {
                for (int j = 0; j < n; j++)
                    x[j] = kind == 0 ? uniform(-1.0f, 1.0f) : kind == 1 ? wide(3.0f) : 0.0f;
                if (kind == 2) /* sparse: a few values, some outliers */
                    for (int j = 0; j < n / 16 + 1; j++)
                        x[next_u32() % (unsigned)n] = wide(j % 5 == 0 ? 1000.0f : 1.0f);
                check_both(ops, x, n, "random");
            }
        const int odd[] = {1,  2,  3,  5,  7,   8,   9,   15,   17,  31,
                           33, 47, 63, 65, 100, 767, 769, 1000, 4095};
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
            for (int rep = 0; rep < 4; rep++) {
                for (int j = 0; j < odd[i]; j++) x[j] = rep & 1 ? wide(1.0f) : uniform(-2, 2);
                check_both(ops, x, odd[i], "random, odd n");
            }
    }
    free(x);
}

/* x * id lands exactly on k + 0.5 (and its float neighbours): d = 2^-e exactly (amax = 127 d), so
 * id = 2^e and every product is exact. */
Test(row_ops, quantize_ties_and_neighbours) {
    float x[1024];
    FOR_TABLES(ops) {
        for (int e = -3; e <= 3; e++) {
            const float d = ldexpf(1.0f, -e);
            int j = 0;
            x[j++] = 127.0f * d;
            for (int k = -128; k <= 127 && j + 3 <= 1024; k++) {
                const float t = ((float)k + 0.5f) * d;
                if (fabsf(t) > 127.0f * d) continue;
                x[j++] = t;
                x[j++] = nextafterf(t, INFINITY);
                x[j++] = nextafterf(t, -INFINITY);
            }
            const float special[] = {0.49999997f, -0.49999997f, 0.5f,  -0.5f, 0.50000006f,
                                     1.5f,        -1.5f,        2.5f,  -2.5f, 126.5f,
                                     -126.5f,     126.49999f,   -0.0f, 0.0f,  1e-30f};
            for (size_t i = 0; i < sizeof special / sizeof special[0] && j < 1024; i++)
                x[j++] = special[i] * d;
            while (j % 32) x[j++] = 0.25f * d;
            check_both(ops, x, j, "ties");
        }
    }
}

/* The rounding on every float v with 0.25 <= |v| < 127.5 (below 0.25 everything truncates to 0
 * and the fraction is v itself: sampled), as x * id with id = 1 (x[0] = 127 sets amax). */
Test(row_ops, quantize_rounding_on_every_float_to_127_5) {
    enum { N = 4096 };
    float *x = malloc(sizeof(float) * N);
    FOR_TABLES(ops) {
        for (int sign = 0; sign < 2; sign++) {
            uint32_t u = bits(0.25f);
            const uint32_t end = bits(127.5f);
            while (u < end) {
                x[0] = 127.0f;
                int j = 1;
                for (; j < N && u < end; j++, u++) {
                    float v;
                    memcpy(&v, &u, 4);
                    x[j] = sign ? -v : v;
                }
                for (; j < N; j++) x[j] = 0.0f;
                check_quantize(ops, x, N, QK_ACT_PER_TOKEN, "every float");
            }
            for (int rep = 0; rep < 64; rep++) {
                x[0] = 127.0f;
                for (int j = 1; j < N; j++) {
                    const float v = ldexpf(uniform(0.0f, 1.0f), -2 - (int)(next_u32() % 140));
                    x[j] = sign ? -v : v;
                }
                check_quantize(ops, x, N, QK_ACT_PER_TOKEN, "below 0.25");
            }
        }
    }
    free(x);
}

Test(row_ops, quantize_zeros_huge_tiny_nan_inf) {
    float x[256];
    FOR_TABLES(ops) {
        for (int n = 32; n <= 256; n += 224) {
            for (int j = 0; j < n; j++) x[j] = 0.0f;
            check_both(ops, x, n, "zeros");
            for (int j = 0; j < n; j++) x[j] = (j & 1) ? -0.0f : 0.0f;
            check_both(ops, x, n, "signed zeros");
            const float huge[] = {FLT_MAX, -FLT_MAX, 3e38f, 1e30f, -7e4f, 65504.0f * 127.0f};
            for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++)
                for (int pos = 0; pos < n; pos += 37) {
                    for (int j = 0; j < n; j++) x[j] = uniform(-1, 1);
                    x[pos] = huge[h];
                    check_both(ops, x, n, "one huge value");
                }
            /* amax subnormal: d = amax / 127 tiny, 1 / d may be infinite */
            const float tiny[] = {1e-40f, 1e-38f, 1.4e-45f, 1e-36f};
            for (size_t t = 0; t < sizeof tiny / sizeof tiny[0]; t++) {
                for (int j = 0; j < n; j++) x[j] = uniform(-1, 1) * tiny[t];
                check_both(ops, x, n, "tiny");
            }
            const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
            for (size_t b = 0; b < 4; b++)
                for (int pos = 0; pos < n; pos += 29) {
                    for (int j = 0; j < n; j++) x[j] = uniform(-3, 3);
                    x[pos] = bad[b];
                    check_both(ops, x, n, "one non-finite value");
                    x[(pos + 5) % n] = bad[(b + 1) % 4];
                    check_both(ops, x, n, "two non-finite values");
                }
            for (int j = 0; j < n; j++) x[j] = NAN;
            check_both(ops, x, n, "all NaN");
        }
        /* non-finite in the per-token tail (n not a multiple of 32) */
        for (int n = 33; n < 40; n++) {
            for (int j = 0; j < n; j++) x[j] = uniform(-3, 3);
            x[n - 1] = NAN;
            check_quantize(ops, x, n, QK_ACT_PER_TOKEN, "NaN in tail");
            x[n - 1] = -INFINITY;
            check_quantize(ops, x, n, QK_ACT_PER_TOKEN, "inf in tail");
        }
    }
}

/* model/gemma.c's formulas, copied (the scalar table must reproduce them bit for bit). */
static void gemma_rms_norm(float *dst, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) dst[i] = x[i] * scale * w[i];
}
static float gemma_gelu_tanh(float x) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

static const int sizes[] = {1,   7,   8,   15,  16,   31,   32,   33,   64,
                            100, 256, 640, 768, 1000, 1152, 2048, 4096, 6912};
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])
#define NMAX    6912

/* Bound for a vector float op against scalar: |a - b| <= rel * |b| + abs_. */
static void near(float a, float b, double rel, double abs_, const char *what, int i) {
    cr_assert(isfinite(a) == isfinite(b) && fabs((double)a - b) <= rel * fabs(b) + abs_,
              "%s [%d]: %.9g vs scalar %.9g", what, i, a, b);
}

Test(row_ops, rms_norm_scalar_is_gemma_and_vector_within_bound) {
    float *x = malloc(sizeof(float) * NMAX), *w = malloc(sizeof(float) * NMAX);
    float *d = malloc(sizeof(float) * NMAX), *r = malloc(sizeof(float) * NMAX);
    float *s = malloc(sizeof(float) * NMAX);
    const qk_row_ops *sc = qk_row_ops_for_isa("scalar");
    for (int z = 0; z < N_SIZES; z++)
        for (int rep = 0; rep < 3; rep++) {
            const int n = sizes[z];
            for (int i = 0; i < n; i++)
                x[i] = rep == 2 ? wide(10.0f) : uniform(-4, 4), w[i] = uniform(-2, 2);
            const float eps = rep == 1 ? 1e-6f : 1e-5f;
            gemma_rms_norm(r, x, w, n, eps);
            sc->rms_norm(s, x, w, n, eps);
            for (int i = 0; i < n; i++)
                cr_assert_eq(bits(s[i]), bits(r[i]), "scalar rms_norm n=%d [%d]", n, i);
            FOR_TABLES(ops) {
                ops->rms_norm(d, x, w, n, eps);
                /* double sums in another order: the float mean differs by at most an ulp */
                for (int i = 0; i < n; i++) near(d[i], r[i], 4e-7, 0, ops->isa, i);
                memcpy(d, x, sizeof(float) * (size_t)n); /* dst == x */
                float *alias = d;
                ops->rms_norm(alias, alias, w, n, eps);
                float *fresh = malloc(sizeof(float) * (size_t)n);
                ops->rms_norm(fresh, x, w, n, eps);
                for (int i = 0; i < n; i++)
                    cr_assert_eq(bits(d[i]), bits(fresh[i]), "%s aliased rms_norm [%d]", ops->isa,
                                 i);
                free(fresh);
            }
        }
    free(x), free(w), free(d), free(r), free(s);
}

/* geglu bounds, vector against scalar. The scalar form 0.5 x (1 + tanhf(y)) cancels for y << 0
 * (1 + tanhf(y) has an absolute error of about an ulp of 1, 6e-8, so the product's error is about
 * 3e-8 |x|), and the vector form x / (1 + exp(-2y)) does not: the bound is relative plus that
 * absolute term in |x u|. */
#define GELU_REL 2e-6
#define GELU_ABS 1.2e-7

Test(row_ops, geglu_scalar_is_gemma_and_vector_within_bound) {
    enum { SWEEP = 40 * 1024 + 1 };
    const int n = SWEEP + 6;
    float *g = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n);
    float *d = malloc(sizeof(float) * (size_t)n), *s = malloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < SWEEP; i++) g[i] = -20.0f + (float)i / 1024.0f, u[i] = uniform(-3, 3);
    const float ext[] = {1e30f, -1e30f, 1e13f, -1e13f, FLT_MAX, -FLT_MAX};
    for (int i = 0; i < 6; i++) g[SWEEP + i] = ext[i], u[SWEEP + i] = 1.0f;
    const qk_row_ops *sc = qk_row_ops_for_isa("scalar");
    sc->geglu(s, g, u, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(bits(s[i]), bits(gemma_gelu_tanh(g[i]) * u[i]), "scalar geglu [%d]", i);
    FOR_TABLES(ops) {
        ops->geglu(d, g, u, n);
        for (int i = 0; i < n; i++) {
            cr_assert(isfinite(d[i]) || (fabsf(g[i]) > 1e38f && fabsf(d[i]) > 1e38f),
                      "%s geglu(%g) = %g", ops->isa, g[i], d[i]);
            cr_assert(!isnan(d[i]), "%s geglu(%g) is NaN", ops->isa, g[i]);
            if (i < SWEEP)
                near(d[i], s[i], GELU_REL, GELU_ABS * fabs((double)g[i] * u[i]), ops->isa, i);
            if (i < SWEEP && g[i] >= -4.0f && strcmp(ops->isa, "scalar")) {
                /* the vector form against GELU in double (stable form): 2e-6 relative */
                const double x = g[i], y = 0.7978845608028654 * (x + 0.044715 * x * x * x);
                const double t = x / (1.0 + exp(-2.0 * y)) * u[i];
                cr_assert(fabs(d[i] - t) <= 2e-6 * fabs(t) + 1e-30, "%s geglu(%.9g): %.9g vs %.12g",
                          ops->isa, g[i], d[i], t);
            }
        }
        cr_assert_eq(d[SWEEP], 1e30f, "%s gelu(1e30)", ops->isa);
        cr_assert(fabsf(d[SWEEP + 1]) < 1e-6f, "%s gelu(-1e30) = %g", ops->isa, d[SWEEP + 1]);
        /* dst == g, and every length (tails) */
        for (int m = 1; m <= 40; m++) {
            float gg[40], ref[40];
            for (int i = 0; i < m; i++) gg[i] = g[(i * 977) % SWEEP];
            ops->geglu(ref, gg, u, m);
            ops->geglu(gg, gg, u, m);
            for (int i = 0; i < m; i++)
                cr_assert_eq(bits(gg[i]), bits(ref[i]), "%s aliased geglu m=%d [%d]", ops->isa, m,
                             i);
        }
    }
    free(g), free(u), free(d), free(s);
}

/* Fused = unfused composition within one table, bit for bit (tmp included). */
Test(row_ops, fused_equal_unfused) {
    float *x = malloc(sizeof(float) * NMAX), *w = malloc(sizeof(float) * NMAX);
    float *t1 = malloc(sizeof(float) * NMAX), *t2 = malloc(sizeof(float) * NMAX);
    int8_t *q1 = malloc(NMAX), *q2 = malloc(NMAX);
    float s1[NMAX / 32], s2[NMAX / 32];
    FOR_TABLES(ops) {
        for (int z = 0; z < N_SIZES; z++)
            for (int g = 0; g < 2; g++)
                for (int rep = 0; rep < 3; rep++) {
                    const int n = sizes[z], gran = g ? QK_ACT_PER_BLOCK : QK_ACT_PER_TOKEN;
                    if (gran == QK_ACT_PER_BLOCK && n % 32) continue;
                    const int ns = gran == QK_ACT_PER_BLOCK ? n / 32 : 1;
                    for (int i = 0; i < n; i++)
                        x[i] = rep ? wide(2.0f) : uniform(-6, 6), w[i] = uniform(-2, 2);
                    if (rep == 2) x[n / 2] = NAN;
                    for (int op = 0; op < 2; op++) {
                        memset(q1, 0x55, (size_t)n), memset(q2, 0x66, (size_t)n);
                        if (op == 0) {
                            ops->rms_norm(t1, x, w, n, 1e-6f);
                            ops->quantize(t1, n, q1, s1, gran);
                            ops->rms_norm_quantize(x, w, n, 1e-6f, t2, q2, s2, gran);
                        } else {
                            ops->geglu(t1, x, w, n);
                            ops->quantize(t1, n, q1, s1, gran);
                            ops->geglu_quantize(x, w, n, t2, q2, s2, gran);
                        }
                        const char *name = op ? "geglu_quantize" : "rms_norm_quantize";
                        cr_assert_eq(memcmp(t1, t2, sizeof(float) * (size_t)n), 0,
                                     "%s %s n=%d g=%d: tmp", ops->isa, name, n, gran);
                        cr_assert_eq(memcmp(q1, q2, (size_t)n), 0, "%s %s n=%d g=%d: q", ops->isa,
                                     name, n, gran);
                        for (int b = 0; b < ns; b++)
                            cr_assert(same_float(s1[b], s2[b]), "%s %s n=%d g=%d: scale[%d]",
                                      ops->isa, name, n, gran, b);
                    }
                }
    }
    free(x), free(w), free(t1), free(t2), free(q1), free(q2);
}

/* ---- attention: dot_rows, exp_shift_sum, weighted_sum ---- */

/* attention_items' former loops, copied: the scalar table must reproduce them bit for bit. */
static float gemma_dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static double gemma_softmax_exp(float *x, int n, float mx) {
    double sum = 0.0;
    for (int b = 0; b < n; b++) {
        x[b] = expf(x[b] - mx);
        sum += x[b];
    }
    return sum;
}
static void gemma_axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static const int attn_rows[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 64, 129};
static const int attn_n[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 36, 63, 64, 65, 100, 256};
#define N_ATTN_ROWS (int)(sizeof attn_rows / sizeof attn_rows[0])
#define N_ATTN_N    (int)(sizeof attn_n / sizeof attn_n[0])
#define GUARD       8
static const float guard_value = -12345.5f;

/* n_rows rows of n values, row r at r * stride, in a buffer of exactly the extent the op may read
 * (so ASan sees a read past the last row). */
static float *make_rows(int n_rows, int n, size_t stride, float scale) {
    const size_t len = n_rows ? (size_t)(n_rows - 1) * stride + (size_t)n : 1;
    float *rows = malloc(sizeof(float) * len);
    for (size_t i = 0; i < len; i++) rows[i] = uniform(-1, 1) * scale;
    return rows;
}

static size_t attn_stride(int n, int s) {
    return s == 0 ? (size_t)n : s == 1 ? (size_t)n + 3 : (size_t)(2 * n + 5);
}

/* dot_rows: scalar = the sequential float loop per query and key, bit for bit; every table within
 * the dot bound |error| <= n * 2^-24 * sum |q k| of the double sum (any order, with or without
 * FMA); out_j written at [0, n_rows) only. n_q 1..5: the vector code's query blocks (3, 2, 1) and
 * their combinations; query and output strides wider than a row. */
Test(row_ops, dot_rows) {
    enum { QMAX = 5, OS = 129 + GUARD };
    float *q = malloc(sizeof(float) * QMAX * 300), *out = malloc(sizeof(float) * QMAX * OS);
    const qk_row_ops *sc = qk_row_ops_for_isa("scalar");
    for (int zr = 0; zr < N_ATTN_ROWS; zr++)
        for (int zn = 0; zn < N_ATTN_N; zn++)
            for (int st = 0; st < 3; st++)
                for (int nq = 1; nq <= QMAX; nq++) {
                    const int nr = attn_rows[zr], n = attn_n[zn];
                    const size_t stride = attn_stride(n, st), qs = (size_t)n + (size_t)st * 7;
                    if (st != 1 && nq != 1 && nq != 3 && nr != 13) continue; /* time */
                    for (size_t i = 0; i < nq * qs; i++)
                        q[i] = st == 2 ? wide(1.0f) : uniform(-2, 2);
                    float *rows = make_rows(nr, n, stride, st == 1 ? 30.0f : 1.0f);
                    for (int i = 0; i < QMAX * OS; i++) out[i] = guard_value;
                    sc->dot_rows(out, OS, q, qs, nq, rows, stride, nr, n);
                    for (int j = 0; j < nq; j++)
                        for (int r = 0; r < nr; r++)
                            cr_assert_eq(bits(out[j * OS + r]),
                                         bits(gemma_dot(q + j * qs, rows + r * stride, n)),
                                         "scalar dot_rows q=%d rows=%d n=%d stride=%zu [%d][%d]",
                                         nq, nr, n, stride, j, r);
                    FOR_TABLES(ops) {
                        for (int i = 0; i < QMAX * OS; i++) out[i] = guard_value;
                        ops->dot_rows(out, OS, q, qs, nq, rows, stride, nr, n);
                        for (int j = 0; j < QMAX; j++)
                            for (int r = 0; r < OS; r++) {
                                if (j >= nq || r >= nr) {
                                    cr_assert_eq(out[j * OS + r], guard_value,
                                                 "%s dot_rows q=%d rows=%d n=%d: wrote [%d][%d]",
                                                 ops->isa, nq, nr, n, j, r);
                                    continue;
                                }
                                const float *k = rows + r * stride, *qj = q + j * qs;
                                double ref = 0, mag = 0;
                                for (int i = 0; i < n; i++)
                                    ref += (double)qj[i] * k[i], mag += fabs((double)qj[i] * k[i]);
                                cr_assert(fabs(out[j * OS + r] - ref) <= n * 0x1p-24 * mag + 1e-30,
                                          "%s dot_rows q=%d rows=%d n=%d stride=%zu [%d][%d]: %.9g "
                                          "vs %.12g",
                                          ops->isa, nq, nr, n, stride, j, r, out[j * OS + r], ref);
                            }
                    }
                    free(rows);
                }
    free(q), free(out);
}

/* exp_shift_sum's vector exp against exp in double of the same float argument x - shift: relative
 * error (measured: see kernels/avx2/row-ops.c), plus 2e-38 absolute where the vector flushes
 * arguments below -87 to 0. */
#define EXP_REL 2e-7

static void check_exp_shift_sum(const qk_row_ops *ops, const float *x, int n, float shift,
                                const char *what) {
    float *y = malloc(sizeof(float) * (size_t)(n + GUARD)), *r = malloc(sizeof(float) * (size_t)n);
    memcpy(y, x, sizeof(float) * (size_t)n);
    for (int i = n; i < n + GUARD; i++) y[i] = guard_value;
    const double sum = ops->exp_shift_sum(y, n, shift);
    if (!strcmp(ops->isa, "scalar")) { /* bit for bit: attention_items' loop */
        memcpy(r, x, sizeof(float) * (size_t)n);
        const double rs = gemma_softmax_exp(r, n, shift);
        cr_assert(memcmp(&sum, &rs, sizeof sum) == 0,
                  "scalar exp_shift_sum %s n=%d: sum %.17g vs %.17g", what, n, sum, rs);
        for (int i = 0; i < n; i++)
            cr_assert_eq(bits(y[i]), bits(r[i]), "scalar exp_shift_sum %s n=%d [%d]", what, n, i);
    }
    double ref_sum = 0;
    for (int i = 0; i < n; i++) {
        const float z = x[i] - shift;
        const double e = exp((double)z);
        ref_sum += e;
        cr_assert(!isnan(y[i]), "%s exp_shift_sum %s n=%d [%d]: NaN for %.9g", ops->isa, what, n, i,
                  z);
        cr_assert(fabs(y[i] - e) <= EXP_REL * e + 2e-38,
                  "%s exp_shift_sum %s n=%d [%d]: exp(%.9g) = %.9g vs %.12g", ops->isa, what, n, i,
                  z, y[i], e);
    }
    cr_assert(fabs(sum - ref_sum) <= EXP_REL * ref_sum + 2e-38 * n,
              "%s exp_shift_sum %s n=%d: sum %.12g vs %.12g", ops->isa, what, n, sum, ref_sum);
    for (int i = n; i < n + GUARD; i++)
        cr_assert_eq(y[i], guard_value, "%s exp_shift_sum %s n=%d: wrote [%d]", ops->isa, what, n,
                     i);
    free(y), free(r);
}

Test(row_ops, exp_shift_sum) {
    enum { SWEEP = 87 * 2048 + 1 };
    float *x = malloc(sizeof(float) * SWEEP);
    FOR_TABLES(ops) {
        /* every argument in [-87, 0] step 2^-11, shift 0 */
        for (int i = 0; i < SWEEP; i++) x[i] = -(float)i / 2048.0f;
        check_exp_shift_sum(ops, x, SWEEP, 0.0f, "sweep");
        /* softmax rows: scores around a shift, the max among them */
        for (int zn = 0; zn < N_ATTN_N; zn++)
            for (int rep = 0; rep < 4; rep++) {
                const int n = attn_n[zn];
                const float spread = rep == 0 ? 1.0f : rep == 1 ? 10.0f : rep == 2 ? 60.0f : 200.0f;
                float mx = -INFINITY;
                for (int i = 0; i < n; i++) {
                    x[i] = uniform(-spread, spread) + (float)rep * 3.0f;
                    if (x[i] > mx) mx = x[i];
                }
                check_exp_shift_sum(ops, x, n, mx, "softmax row");
            }
        /* -inf and very negative arguments: 0 (or below 2e-38), never NaN */
        const float low[] = {-INFINITY, -FLT_MAX, -1e30f, -1000.0f, -104.0f, -88.0f,
                             -87.5f,    -87.0f,   -86.9f, -50.0f,   0.0f,    -0.0f};
        const int nl = (int)(sizeof low / sizeof low[0]);
        for (int n = 1; n <= 40; n++) {
            for (int i = 0; i < n; i++) x[i] = low[(i * 7 + n) % nl];
            check_exp_shift_sum(ops, x, n, 0.0f, "-inf and very negative");
            check_exp_shift_sum(ops, x, n, 2.5f, "-inf and very negative, shifted");
        }
        for (int i = 0; i < 17; i++) x[i] = -INFINITY;
        x[9] = 1.0f;
        check_exp_shift_sum(ops, x, 17, 1.0f, "one finite score among -inf");
        /* n = 0: nothing written, sum 0 */
        float g[GUARD];
        for (int i = 0; i < GUARD; i++) g[i] = guard_value;
        cr_assert_eq(ops->exp_shift_sum(g, 0, 0.0f), 0.0, "%s exp_shift_sum n=0", ops->isa);
        for (int i = 0; i < GUARD; i++) cr_assert_eq(g[i], guard_value);
        /* NaN propagates, as with expf */
        for (int i = 0; i < 9; i++) x[i] = -1.0f;
        x[4] = NAN;
        float y[9];
        memcpy(y, x, sizeof y);
        cr_assert(isnan(ops->exp_shift_sum(y, 9, 0.0f)), "%s exp_shift_sum: NaN sum", ops->isa);
        cr_assert(isnan(y[4]) && !isnan(y[3]) && !isnan(y[5]), "%s exp_shift_sum: NaN lane",
                  ops->isa);
    }
    free(x);
}

/* weighted_sum: scalar = per query out = 0, then attention_items' former axpy per row in order,
 * bit for bit; every table within |error| <= (n_rows + 1) * 2^-24 * sum_r |p_r v_r| of the double
 * sum; out_j written at [0, n) (not accumulated into: it starts as NaN) and nowhere else. n_q 1..5
 * as for dot_rows. */
Test(row_ops, weighted_sum) {
    enum { QMAX = 5, PS = 131, OS = 256 + GUARD + 3 };
    float *p = malloc(sizeof(float) * QMAX * PS), *out = malloc(sizeof(float) * QMAX * OS);
    float *r0 = malloc(sizeof(float) * 256);
    const qk_row_ops *sc = qk_row_ops_for_isa("scalar");
    for (int zr = 0; zr < N_ATTN_ROWS; zr++)
        for (int zn = 0; zn < N_ATTN_N; zn++)
            for (int st = 0; st < 3; st++)
                for (int nq = 1; nq <= QMAX; nq++) {
                    const int nr = attn_rows[zr], n = attn_n[zn];
                    const size_t stride = attn_stride(n, st);
                    if (st != 1 && nq != 1 && nq != 3 && nr != 13) continue; /* time */
                    for (int j = 0; j < nq; j++) {
                        float *pj = p + j * PS;
                        double psum = 0;
                        for (int r = 0; r < nr; r++) pj[r] = uniform(0, 1), psum += pj[r];
                        for (int r = 0; r < nr; r++) pj[r] = (float)(pj[r] / psum);
                        if (st == 2)
                            for (int r = 0; r < nr; r++) pj[r] = wide(1.0f); /* any weights */
                    }
                    float *rows = make_rows(nr, n, stride, st == 1 ? 30.0f : 1.0f);
                    for (int i = 0; i < QMAX * OS; i++) out[i] = NAN;
                    sc->weighted_sum(out, OS, p, PS, nq, rows, stride, nr, n);
                    for (int j = 0; j < nq; j++) {
                        for (int i = 0; i < n; i++) r0[i] = 0.0f;
                        for (int r = 0; r < nr; r++)
                            gemma_axpy(r0, p[j * PS + r], rows + r * stride, n);
                        for (int i = 0; i < n; i++)
                            cr_assert_eq(
                                bits(out[j * OS + i]), bits(r0[i]),
                                "scalar weighted_sum q=%d rows=%d n=%d stride=%zu [%d][%d]", nq, nr,
                                n, stride, j, i);
                    }
                    FOR_TABLES(ops) {
                        for (int j = 0; j < QMAX; j++)
                            for (int i = 0; i < OS; i++)
                                out[j * OS + i] = j < nq && i < n ? NAN : guard_value;
                        ops->weighted_sum(out, OS, p, PS, nq, rows, stride, nr, n);
                        for (int j = 0; j < QMAX; j++)
                            for (int i = 0; i < OS; i++) {
                                if (j >= nq || i >= n) {
                                    cr_assert_eq(
                                        out[j * OS + i], guard_value,
                                        "%s weighted_sum q=%d rows=%d n=%d: wrote [%d][%d]",
                                        ops->isa, nq, nr, n, j, i);
                                    continue;
                                }
                                double ref = 0, mag = 0;
                                for (int r = 0; r < nr; r++) {
                                    const double t = (double)p[j * PS + r] * rows[r * stride + i];
                                    ref += t, mag += fabs(t);
                                }
                                cr_assert(fabs(out[j * OS + i] - ref) <=
                                              (nr + 1) * 0x1p-24 * mag + 1e-30,
                                          "%s weighted_sum q=%d rows=%d n=%d stride=%zu [%d][%d]: "
                                          "%.9g vs %.12g",
                                          ops->isa, nq, nr, n, stride, j, i, out[j * OS + i], ref);
                            }
                    }
                    free(rows);
                }
    free(p), free(out), free(r0);
}

#ifdef QK_TEST_SIMDE
/* The emulated table runs on this CPU (it needs AVX2 only), and says so. */
Test(simde, row_ops_table_runs_here) {
    const qk_row_ops *e = qk_simde_row_ops();
    cr_assert_str_eq(e->isa, QK_SIMDE_ISA);
    cr_assert_eq(e->isa_bits, (unsigned)QK_ISA_AVX2);
    skip_without_avx2();
    cr_assert_not_null(table(0));
    const qk_row_ops *n = qk_row_ops_for_isa("avx512vnni");
    fprintf(stderr, "SIMDe-emulated avx512vnni row ops run on this CPU; native avx512vnni %s\n",
            (n->isa_bits & ~qk_cpu_isa_bits()) ? "does not (checked against q8_0.c, the "
                                                 "formulas and the scalar table)"
                                               : "runs here too (compared bit for bit)");
}

static void same_floats(const float *a, const float *b, int n, const char *what, int size) {
    for (int i = 0; i < n; i++)
        cr_assert(same_float(a[i], b[i]), "%s n=%d [%d]: emulated %a, native %a", what, size, i,
                  a[i], b[i]);
}

/* On an AVX-512 CPU, every op of the emulated table gives the native table's bits. */
Test(simde, native_and_emulated_row_ops_identical) {
    const qk_row_ops *e = qk_simde_row_ops(), *nt = qk_row_ops_for_isa("avx512vnni");
    if (nt->isa_bits & ~qk_cpu_isa_bits())
        cr_skip_test("CPU lacks avx512vnni (or QK_ISA caps it): no native table to compare with");
    float *x = malloc(sizeof(float) * NMAX), *w = malloc(sizeof(float) * NMAX);
    float *a = malloc(sizeof(float) * NMAX), *b = malloc(sizeof(float) * NMAX);
    float *ta = malloc(sizeof(float) * NMAX), *tb = malloc(sizeof(float) * NMAX);
    int8_t *qa = malloc(NMAX), *qb = malloc(NMAX);
    float sa[NMAX / 32], sb[NMAX / 32];
    for (int z = 0; z < N_SIZES; z++)
        for (int rep = 0; rep < 3; rep++) {
            const int n = sizes[z];
            for (int i = 0; i < n; i++)
                x[i] = rep ? wide(3.0f) : uniform(-6, 6), w[i] = uniform(-2, 2);
            if (rep == 2) x[n / 3] = n % 2 ? INFINITY : NAN;
            for (int g = 0; g < 2; g++) {
                const int gran = g ? QK_ACT_PER_BLOCK : QK_ACT_PER_TOKEN;
                if (gran == QK_ACT_PER_BLOCK && n % 32) continue;
                const int ns = gran == QK_ACT_PER_BLOCK ? n / 32 : 1;
                e->quantize(x, n, qa, sa, gran), nt->quantize(x, n, qb, sb, gran);
                cr_assert(!memcmp(qa, qb, (size_t)n), "quantize n=%d g=%d: q", n, gran);
                same_floats(sa, sb, ns, "quantize scale", n);
                e->rms_norm_quantize(x, w, n, 1e-6f, ta, qa, sa, gran);
                nt->rms_norm_quantize(x, w, n, 1e-6f, tb, qb, sb, gran);
                same_floats(ta, tb, n, "rms_norm_quantize tmp", n);
                cr_assert(!memcmp(qa, qb, (size_t)n), "rms_norm_quantize n=%d g=%d: q", n, gran);
                same_floats(sa, sb, ns, "rms_norm_quantize scale", n);
                e->geglu_quantize(x, w, n, ta, qa, sa, gran);
                nt->geglu_quantize(x, w, n, tb, qb, sb, gran);
                same_floats(ta, tb, n, "geglu_quantize tmp", n);
                cr_assert(!memcmp(qa, qb, (size_t)n), "geglu_quantize n=%d g=%d: q", n, gran);
                same_floats(sa, sb, ns, "geglu_quantize scale", n);
            }
            e->rms_norm(a, x, w, n, 1e-6f), nt->rms_norm(b, x, w, n, 1e-6f);
            same_floats(a, b, n, "rms_norm", n);
            e->geglu(a, x, w, n), nt->geglu(b, x, w, n);
            same_floats(a, b, n, "geglu", n);
            for (int i = 0; i < n; i++) a[i] = b[i] = -fabsf(x[i]) * 4.0f;
            const double ea = e->exp_shift_sum(a, n, 1.5f), eb = nt->exp_shift_sum(b, n, 1.5f);
            cr_assert(!memcmp(&ea, &eb, sizeof ea) || (isnan(ea) && isnan(eb)),
                      "exp_shift_sum n=%d: sum %.17g vs %.17g", n, ea, eb);
            same_floats(a, b, n, "exp_shift_sum", n);
        }
    /* attention: every query count of the blocking, row counts across its key blocks, strides */
    enum { OS = 140 };
    float *q = malloc(sizeof(float) * 5 * 300), *oa = malloc(sizeof(float) * 5 * OS * 3),
          *ob = malloc(sizeof(float) * 5 * OS * 3);
    for (int zr = 0; zr < N_ATTN_ROWS; zr++)
        for (int zn = 0; zn < N_ATTN_N; zn++)
            for (int nq = 1; nq <= 5; nq++) {
                const int nr = attn_rows[zr], d = attn_n[zn];
                const size_t stride = attn_stride(d, nq % 3), qs = (size_t)d + 3;
                for (size_t i = 0; i < 5 * 300; i++) q[i] = uniform(-2, 2);
                float *rows = make_rows(nr, d, stride, 1.0f);
                for (int i = 0; i < 5 * OS * 3; i++) oa[i] = ob[i] = guard_value;
                e->dot_rows(oa, OS, q, qs, nq, rows, stride, nr, d);
                nt->dot_rows(ob, OS, q, qs, nq, rows, stride, nr, d);
                same_floats(oa, ob, 5 * OS, "dot_rows", d);
                const size_t wos = (size_t)d + 5;
                e->weighted_sum(oa, wos, q, qs, nq, rows, stride, nr < 300 ? nr : 300, d);
                nt->weighted_sum(ob, wos, q, qs, nq, rows, stride, nr < 300 ? nr : 300, d);
                same_floats(oa, ob, (int)(5 * wos), "weighted_sum", d);
                free(rows);
            }
    free(x), free(w), free(a), free(b), free(ta), free(tb), free(qa), free(qb);
    free(q), free(oa), free(ob);
}
#endif
