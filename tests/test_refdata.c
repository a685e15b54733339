/* The reference readers (harness/refdata.c) and the reference accuracy probe (harness/accuracy.c)
 * on hostile test data given through a folder like ../shared/testdata: a reference file narrower
 * than its precise twin is refused (it used to be read past its end: a heap-buffer-overflow under
 * ASan, a garbage cosine in release), a NaN or a word among the values is refused at its line, and
 * a cosine of non-finite values is NaN, never the plausible 0 or 1. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "harness/accuracy.h"
#include "harness/refdata.h"
#include "harness/text.h"

#define TD QK_TESTDATA_DIR

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-refdata-XXXXXX");
    cr_assert(mkdtemp(dir));
    char from[512], to[512];
    static const char *const files[] = {"tiny-gemma.gguf", "tiny-gemma.tokens.txt",
                                        "tiny-gemma.ref-precise.txt", "tiny-gemma.ref.txt"};
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "%s/%s", TD, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        cr_assert_eq(symlink(from, to), 0, "%s", to);
    }
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(refdata, .init = setup, .fini = teardown, .timeout = 120);

/* Replaces DIR/tiny-gemma.ref.txt by the real one with each value line cut to `keep` values, and
 * value number `nan_at` (1-based, 0: none) of the first embedding replaced by `word`. */
static void rewrite_ref(int keep, int nan_at, const char *word) {
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/tiny-gemma.ref.txt", TD);
    snprintf(dst, sizeof dst, "%s/tiny-gemma.ref.txt", dir);
    char **lines;
    int n;
    qk_error err;
    cr_assert_eq(qk_read_lines(src, &lines, &n, &err), 0, "%s", err.msg);
    unlink(dst);
    FILE *f = fopen(dst, "w");
    cr_assert(f);
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0) { /* "seq I n_tokens N" */
            fprintf(f, "%s\n", lines[i]);
            continue;
        }
        char *s = lines[i];
        const int hidden = !strncmp(s, "hidden ", 7);
        if (hidden) fputs("hidden", f), s += 7;
        int k = 0;
        for (char *tok = strtok(s, " "); tok; tok = strtok(NULL, " ")) {
            if (++k > keep) break;
            const int replace = i == 1 && k == nan_at;
            fprintf(f, "%s%s", k > 1 || hidden ? " " : "", replace ? word : tok);
        }
        fputc('\n', f);
    }
    cr_assert_eq(fclose(f), 0);
    qk_free_lines(lines, n);
}

static void expect_reference_refused(const char *substr) {
    json_t *acc = json_array();
    qk_error err = {{0}};
    const char *const zc[] = {"zero-copy"}, *const sc[] = {"scalar"};
    cr_expect_neq(qk_accuracy_reference(dir, zc, 1, sc, 1, acc, &err), 0,
                  "the accuracy probe accepted the damaged reference (%zu entries)",
                  json_array_size(acc));
    cr_expect(strstr(err.msg, substr) != NULL, "want '%s' in '%s'", substr, err.msg);
    json_decref(acc);
}

Test(refdata, narrower_reference_than_its_precise_twin) {
    rewrite_ref(32, 0, NULL); /* 32 of the 64 values */
    expect_reference_refused("of 32 values");
}

Test(refdata, nan_in_a_reference_is_an_error) {
    rewrite_ref(1 << 30, 5, "nan");
    expect_reference_refused("tiny-gemma.ref.txt:2");
    rewrite_ref(1 << 30, 7, "-inf");
    expect_reference_refused("must be finite");
}

Test(refdata, word_among_the_values_is_an_error) {
    rewrite_ref(1 << 30, 3, "0.1x");
    expect_reference_refused("is not a number");
}

Test(refdata, undamaged_copy_is_accepted) {
    json_t *acc = json_array();
    qk_error err = {{0}};
    const char *const zc[] = {"zero-copy"}, *const sc[] = {"scalar"};
    cr_expect_eq(qk_accuracy_reference(dir, zc, 1, sc, 1, acc, &err), 0, "%s", err.msg);
    cr_expect_gt(json_array_size(acc), 0);
    json_decref(acc);
}

Test(refdata, cosine_of_non_finite_values_is_nan) {
    const float a[4] = {1, 2, 3, 4}, b[4] = {1, NAN, 3, 4}, c[4] = {1, 2, INFINITY, 4};
    cr_expect(isnan(qk_cosine(a, b, 4)), "cosine %g", qk_cosine(a, b, 4));
    cr_expect(isnan(qk_cosine(c, a, 4)), "cosine %g", qk_cosine(c, a, 4));
    cr_expect(isnan(qk_max_abs_diff(a, b, 4)), "max diff %g", qk_max_abs_diff(a, b, 4));
    cr_expect(fabs(qk_cosine(a, a, 4) - 1.0) < 1e-12);
    cr_expect_eq(qk_max_abs_diff(a, a, 4), 0.0);
}
