/* libFuzzer target: the reference readers (harness/refdata.c), as the accuracy probe uses them on a
 * folder given through QK_TESTDATA_DIR.
 *
 * The input is split at its first "\n===\n": the part before is the token file, the part after the
 * embeddings file; each is written to a memfd and read by path, as the probe reads them. When both
 * read: every sequence has tokens, n_seq and dim are in range, every embedding and hidden value is
 * finite (a NaN in a reference is refused), and qk_cosine / qk_max_abs_diff of each embedding with
 * itself are 1 and 0. Every refusal must leave a non-empty, terminated message. */
#define _GNU_SOURCE /* memfd_create, memmem */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness/refdata.h"

static int fds[2] = {-1, -1};

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_refdata: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void check_message(const qk_error *err) {
    size_t n = strnlen(err->msg, sizeof err->msg);
    check(n > 0 && n < sizeof err->msg, "error message empty or not terminated");
}

/* Puts bytes into memfd i; path gets its name. 0 or -1. */
static int put(int i, const uint8_t *p, size_t n, char *path, size_t size) {
    if (fds[i] < 0) fds[i] = memfd_create(i ? "fuzz_ref" : "fuzz_tokens", MFD_CLOEXEC);
    if (fds[i] < 0 || ftruncate(fds[i], 0) != 0) return -1;
    if (n && pwrite(fds[i], p, n, 0) != (ssize_t)n) return -1;
    snprintf(path, size, "/proc/self/fd/%d", fds[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n===\n";
    const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
    const size_t n_tok = cut ? (size_t)(cut - data) : size;
    const uint8_t *ref = cut ? cut + sizeof sep - 1 : data + size;
    char tok_path[64], ref_path[64];
    if (put(0, data, n_tok, tok_path, sizeof tok_path) ||
        put(1, ref, (size_t)(data + size - ref), ref_path, sizeof ref_path))
        return 0;
    qk_refdata r;
    qk_error err;
    if (qk_refdata_read_tokens(&r, tok_path, &err)) {
        check_message(&err);
        return 0;
    }
    check(r.n_seq >= 0 && r.n_seq <= QK_REF_MAX_SEQ, "sequence count");
    for (int s = 0; s < r.n_seq; s++) check(r.n_tokens[s] >= 1 && r.tokens[s], "tokens");
    if (qk_refdata_read_embeddings(&r, ref_path, &err)) {
        check_message(&err);
    } else if (r.n_seq > 0) {
        check(r.dim >= 1, "width");
        for (int s = 0; s < r.n_seq; s++) {
            check(r.embedding[s] && r.hidden[s], "embeddings read");
            for (int i = 0; i < r.dim; i++)
                check(isfinite(r.embedding[s][i]) && isfinite(r.hidden[s][i]), "finite values");
            const double c = qk_cosine(r.embedding[s], r.embedding[s], r.dim);
            check(isnan(c) || (c > 0.999 && c < 1.001) || c == 1.0 || c == 0.0, "self cosine");
            check(qk_max_abs_diff(r.embedding[s], r.embedding[s], r.dim) == 0.0, "self diff");
        }
    }
    qk_refdata_free(&r);
    return 0;
}
