/* libFuzzer target: the sittings merge (harness/sittings_merge.c) over documents from outside.
 *
 * The input is split at its first "\n===\n" into two documents, each written to a memfd and loaded
 * with qk_results_load; when both load, qk_sittings_merge merges them as sittings 0 and 1 (of a
 * planned 2), and sitting 0 alone (of 1). A refusal must leave a message and an empty summary; a
 * merge must give a summary whose measured rows have finite medians inside their intervals and
 * sitting spreads, and a merged document that is no longer taken for a sitting. */
#define _GNU_SOURCE /* memfd_create, memmem */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness/results.h"
#include "harness/sittings_merge.h"

static int fds[2] = {-1, -1};

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_sittings: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void check_message(const qk_error *err) {
    const size_t n = strnlen(err->msg, sizeof err->msg);
    check(n > 0 && n < sizeof err->msg, "error message empty or not terminated");
}

static json_t *load(int i, const uint8_t *p, size_t n) {
    if (fds[i] < 0) fds[i] = memfd_create(i ? "fuzz_b" : "fuzz_a", MFD_CLOEXEC);
    if (fds[i] < 0 || ftruncate(fds[i], 0) != 0) return NULL;
    if (n && pwrite(fds[i], p, n, 0) != (ssize_t)n) return NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
    json_t *doc = NULL;
    qk_error err;
    if (qk_results_load(path, &doc, &err)) check_message(&err);
    return doc;
}

static void merge(const qk_sitting_doc *s, int n) {
    const qk_sittings_plan plan = {n, 1.5, 42, 0.05};
    qk_results *out = qk_results_new();
    if (!out) return;
    qk_sittings_summary sum;
    qk_error err;
    if (qk_sittings_merge(s, n, &plan, out, &sum, &err)) {
        check_message(&err);
        check(sum.rows == NULL && sum.n_rows == 0 && sum.cmps == NULL, "summary left on failure");
    } else {
        for (int i = 0; i < sum.n_rows; i++) {
            const qk_sittings_row *r = &sum.rows[i];
            if (!r->measured) continue;
            check(isfinite(r->median_s) && r->sittings >= 1 && r->sittings <= n && r->reps >= 1,
                  "a measured row without a median");
            check(r->sitting_min_s <= r->sitting_max_s, "sitting spread reversed");
            check(r->unstable_sittings >= 0 && r->unstable_sittings <= r->sittings,
                  "unstable sittings out of range");
        }
        for (int i = 0; i < sum.n_cmps; i++)
            check(sum.cmps[i].sittings >= 1 && sum.cmps[i].sittings <= n &&
                      sum.cmps[i].sitting_min <= sum.cmps[i].sitting_max,
                  "a comparison's sittings out of range");
        check(json_array_size(qk_results_benchmarks(out)) > 0, "a merge without records");
        qk_sittings_summary_free(&sum);
    }
    qk_results_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n===\n";
    const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
    const size_t na = cut ? (size_t)(cut - data) : size;
    json_t *a = load(0, data, na), *b = NULL;
    if (cut) b = load(1, cut + sizeof sep - 1, (size_t)(data + size - cut - (sizeof sep - 1)));
    if (a) {
        const qk_sitting_doc one[1] = {{a, "a.json", 1.0}};
        merge(one, 1);
    }
    if (a && b) {
        const qk_sitting_doc two[2] = {{a, "a.json", 1.0}, {b, "b.json", NAN}};
        merge(two, 2);
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
