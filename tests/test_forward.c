/* The forward pass against the independent references in ../shared/testdata (tiny-gemma).
 *
 * Built a second time as test_forward_simde (QK_TEST_SIMDE, CMakeLists.txt), the kernel tests run
 * the SIMDe-emulated avx512vnni tier (tests/support/avx512-simde.h: its kernels with its row ops),
 * which needs AVX2 only, and, where the CPU has AVX512-VNNI, compare its embeddings bit for bit
 * with the native tier's. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "kernels/row-ops.h"
#include "model/gemma.h"
#include "harness/refdata.h"
#ifdef QK_TEST_SIMDE
#include "tests/support/avx512-simde.h"
#endif

#define TINY QK_TESTDATA_DIR "/tiny-gemma.gguf"

#define REF_MAX_SEQ 8
static qk_refdata ref_precise, ref_ggml;

static void load_refs(void) {
    qk_error err;
    const char *tok = QK_TESTDATA_DIR "/tiny-gemma.tokens.txt";
    cr_assert_eq(qk_refdata_read_tokens(&ref_precise, tok, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_refdata_read_tokens(&ref_ggml, tok, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_refdata_read_embeddings(&ref_precise,
                                            QK_TESTDATA_DIR "/tiny-gemma.ref-precise.txt", &err),
                 0, "%s", err.msg);
    cr_assert_eq(qk_refdata_read_embeddings(&ref_ggml, QK_TESTDATA_DIR "/tiny-gemma.ref.txt", &err),
                 0, "%s", err.msg);
    cr_assert_eq(ref_precise.n_seq, 6);
    cr_assert_eq(ref_precise.dim, 64);
}

static void free_refs(void) {
    qk_refdata_free(&ref_precise);
    qk_refdata_free(&ref_ggml);
}

TestSuite(forward, .init = load_refs, .fini = free_refs);

/* The kernels under test and the row ops the model runs with them: the registry's (row ops by the
 * kernel's ISA), or in test_forward_simde the emulated tier's. */
#ifdef QK_TEST_SIMDE
static int tested_count(void) {
    return qk_simde_kernel_count();
}
static const qk_kernel *tested_at(int i) {
    return qk_simde_kernel_at(i);
}
static const qk_row_ops *ops_of(const qk_kernel *k) {
    return qk_simde_native_of(k) ? qk_simde_row_ops() : qk_row_ops_for_isa(k->isa);
}
#else
static int tested_count(void) {
    return qk_kernel_count();
}
static const qk_kernel *tested_at(int i) {
    return qk_kernel_at(i);
}
static const qk_row_ops *ops_of(const qk_kernel *k) {
    return qk_row_ops_for_isa(k->isa);
}
#endif

/* Embeds every reference sequence; out gets n_seq x dim floats. */
static void embed_all(const qk_gemma_options *opt, const qk_refdata *r, float *out,
                      float *hidden0) {
    qk_gemma_model *m;
    qk_error err;
    const qk_row_ops *ops = opt->path == QK_PATH_INT8 ? ops_of(opt->kernel) : NULL;
    cr_assert_eq(qk_gemma_load_ops(&m, TINY, opt, ops, &err), 0, "load: %s", err.msg);
    const int dim = qk_gemma_out_dim(m);
    cr_assert_eq(dim, r->dim);
    for (int s = 0; s < r->n_seq; s++) {
        cr_assert_eq(qk_gemma_embed(m, r->tokens[s], r->n_tokens[s], out + s * dim, NULL, &err), 0,
                     "embed: %s", err.msg);
        if (hidden0) memcpy(hidden0 + s * dim, qk_gemma_last_hidden(m, 0), sizeof(float) * dim);
    }
    qk_gemma_free(m);
}

static void expect_close(const char *what, const qk_refdata *r, const float *out,
                         const float *hidden, double min_cos) {
    for (int s = 0; s < r->n_seq; s++) {
        double ch = hidden ? qk_cosine(hidden + s * r->dim, r->hidden[s], r->dim) : 1.0;
        double c = qk_cosine(out + s * r->dim, r->embedding[s], r->dim);
        double md = qk_max_abs_diff(out + s * r->dim, r->embedding[s], r->dim);
        cr_expect(c >= min_cos && ch >= min_cos,
                  "%s: sequence %d (%d tokens): cosine %.9f (hidden %.9f), max |diff| %.3g, want "
                  "cosine >= %g",
                  what, s, r->n_tokens[s], c, ch, md, min_cos);
    }
}

#ifndef QK_TEST_SIMDE /* the model itself: tested once, in test_forward */
Test(forward, config_from_metadata) {
    qk_gguf g;
    qk_error err;
    qk_gemma_config c;
    cr_assert_eq(qk_gguf_open(&g, TINY, &err), 0, "%s", err.msg);
    cr_assert_eq(qk_gemma_read_config(&g, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.n_vocab, 512);
    cr_expect_eq(c.n_embd, 64);
    cr_expect_eq(c.n_layer, 6);
    cr_expect_eq(c.n_head, 4);
    cr_expect_eq(c.n_head_kv, 2);
    cr_expect_eq(c.head_dim, 32);
    cr_expect_eq(c.n_ff, 128);
    cr_expect_eq(c.n_swa, 8);
    cr_expect_eq(c.dense_ff, 256);
    cr_expect_float_eq(c.rope_base, 1e6f, 1.0f);
    cr_expect_float_eq(c.rope_base_swa, 1e4f, 0.01f);
    for (int il = 0; il < 6; il++) cr_expect_eq(c.sliding[il], il != 5, "layer %d", il);
    qk_gguf_close(&g);
}

Test(forward, fp32_matches_precise_reference) {
    qk_gemma_options opt = {QK_PATH_FP32, NULL, QK_ACT_PER_TOKEN};
    float out[REF_MAX_SEQ * 64], hid[REF_MAX_SEQ * 64];
    embed_all(&opt, &ref_precise, out, hid);
    expect_close("fp32 vs ref-precise", &ref_precise, out, hid, 0.99999);
    for (int s = 0; s < ref_precise.n_seq; s++)
        cr_expect(qk_max_abs_diff(out + s * 64, ref_precise.embedding[s], 64) < 1e-4,
                  "sequence %d: max |diff| %.3g", s,
                  qk_max_abs_diff(out + s * 64, ref_precise.embedding[s], 64));
}

#endif

/* Kernels whose embeddings must be bit-identical: the same matmul arithmetic (the seed variants of
 * one ISA; or the scalar ones with every QK_KERNEL_SCALAR_BITS kernel, whatever its ISA) and the
 * same row operations (the model runs norms, GeGLU, quantisation and attention with the row ops of
 * the kernel's ISA). QK_KERNEL_FUSED_ACT does not split a family: the fused row ops compute the
 * very values of their unfused composition (tests/test_row_ops.c), so fused = gemm, bit for bit. */
static int same_bits(const qk_kernel *a, const qk_kernel *b) {
    const int sa = !strcmp(a->isa, "scalar") || (a->flags & QK_KERNEL_SCALAR_BITS),
              sb = !strcmp(b->isa, "scalar") || (b->flags & QK_KERNEL_SCALAR_BITS);
    const qk_row_ops *oa = ops_of(a), *ob = ops_of(b);
    return sa == sb && (sa || !strcmp(a->isa, b->isa)) && oa && ob && !strcmp(oa->isa, ob->isa);
}

/* Every kernel in the registry (generated: a new kernel is tested with no edit here), both schemes:
 * block scales against llama.cpp's numerics, token scales against the precise reference; and the
 * kernels of one arithmetic family (same_bits) bit-identical. */
Test(forward, every_kernel_matches_references, .timeout = 600) {
    const int n_k = tested_count();
    cr_assert_gt(n_k, 0);
    const int per = ref_precise.n_seq * 64;
    float *outs = calloc((size_t)n_k * 2 * per, sizeof(float));
    int tested = 0;
    for (int i = 0; i < n_k; i++) {
        const qk_kernel *k = tested_at(i);
        if (!qk_kernel_available(k, NULL)) continue;
        char what[128];
        qk_gemma_options blk = {QK_PATH_INT8, k, QK_ACT_PER_BLOCK};
        embed_all(&blk, &ref_ggml, outs + (size_t)(2 * i) * per, NULL);
        snprintf(what, sizeof what, "%s/%s block scales vs ref", k->variant, k->isa);
        expect_close(what, &ref_ggml, outs + (size_t)(2 * i) * per, NULL, 0.999);
        qk_gemma_options tok = {QK_PATH_INT8, k, QK_ACT_PER_TOKEN};
        embed_all(&tok, &ref_precise, outs + (size_t)(2 * i + 1) * per, NULL);
        snprintf(what, sizeof what, "%s/%s token scales vs ref-precise", k->variant, k->isa);
        expect_close(what, &ref_precise, outs + (size_t)(2 * i + 1) * per, NULL, 0.99);
        tested++;
        for (int j = 0; j < i; j++) { /* same family, earlier kernel: bit-identical embeddings */
            const qk_kernel *o = tested_at(j);
            if (!same_bits(o, k) || !qk_kernel_available(o, NULL)) continue;
            cr_expect(memcmp(outs + (size_t)2 * i * per, outs + (size_t)2 * j * per,
                             2 * per * sizeof(float)) == 0,
                      "%s/%s and %s/%s differ", k->variant, k->isa, o->variant, o->isa);
        }
    }
    cr_expect_gt(tested, 0);
    free(outs);
}

#ifndef QK_TEST_SIMDE
Test(forward, rejects_bad_token_and_empty_sequence) {
    qk_gemma_options opt = {QK_PATH_INT8, qk_kernel_find("zero-copy", "scalar"), QK_ACT_PER_TOKEN};
    qk_gemma_model *m;
    qk_error err;
    cr_assert_eq(qk_gemma_load(&m, TINY, &opt, &err), 0, "%s", err.msg);
    float out[64];
    int32_t bad[] = {2, 512, 1};
    cr_expect_neq(qk_gemma_embed(m, bad, 3, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "outside the vocabulary") != NULL, "%s", err.msg);
    cr_expect_neq(qk_gemma_embed(m, bad, 0, out, NULL, &err), 0);
    cr_expect(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    qk_gemma_free(m);
}
#endif

#ifdef QK_TEST_SIMDE
/* The emulated tier ran here (above: every kernel against the references); on an AVX512-VNNI CPU
 * its embeddings equal the native tier's bit for bit, both activation schemes. */
Test(forward, emulated_tier_equals_native, .timeout = 600) {
    const int per = ref_precise.n_seq * 64;
    float *a = calloc((size_t)per, sizeof(float)), *b = calloc((size_t)per, sizeof(float));
    int ran = 0, compared = 0;
    for (int i = 0; i < tested_count(); i++) {
        const qk_kernel *k = tested_at(i), *n = qk_simde_native_of(k);
        cr_assert(n);
        if (!qk_kernel_available(k, NULL)) continue;
        ran++;
        if (!qk_kernel_available(n, NULL)) continue;
        for (int g = 0; g < 2; g++) {
            const int gran = g ? QK_ACT_PER_BLOCK : QK_ACT_PER_TOKEN;
            qk_gemma_options oe = {QK_PATH_INT8, k, gran}, on = {QK_PATH_INT8, n, gran};
            embed_all(&oe, &ref_precise, a, NULL);
            embed_all(&on, &ref_precise, b, NULL);
            cr_expect(memcmp(a, b, sizeof(float) * (size_t)per) == 0,
                      "%s: emulated and native embeddings differ (%s scales)", k->variant,
                      g ? "block" : "token");
            compared++;
        }
    }
    free(a), free(b);
    if (!ran) cr_skip_test("CPU lacks avx2: the emulated avx512vnni tier cannot run here");
    cr_assert_eq(ran, tested_count());
    fprintf(stderr, "SIMDe-emulated avx512vnni tier: %d kernels ran the forward pass; %s\n", ran,
            compared ? "native tier compared bit for bit" : "no native avx512vnni here");
    if (!compared) cr_skip_test("CPU lacks avx512vnni: no native embeddings to compare with");
}
#endif
