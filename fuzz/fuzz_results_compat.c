/* libFuzzer target: the range-checked readers and the compatibility check of harness/results.c
 * that `report` and `compare` are to use.
 *
 * The input is split at its first "\n===\n" into two documents, each written to a memfd and loaded
 * with qk_results_load. For every loaded document, every benchmark record's numbers (seq_len,
 * threads, repetitions, real_time, ...) and the context's topology counts are read with
 * qk_results_get_int / qk_results_get_number: an accepted value must lie in the range asked for
 * (whatever the file holds: 1e300, negatives, strings), a refusal must leave a message. When both
 * load, qk_results_comparable runs with each set of checks and qk_results_describe on each. */
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

static int fds[2] = {-1, -1};
static volatile uint64_t sink;

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_results_compat: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void check_message(const qk_error *err) {
    size_t n = strnlen(err->msg, sizeof err->msg);
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
    if (qk_results_load(path, &doc, &err)) {
        check_message(&err);
        check(doc == NULL, "no document on failure");
    }
    return doc;
}

static void read_int(const json_t *o, const char *key, long long lo, long long hi) {
    long long v = lo - 1;
    qk_error err;
    if (qk_results_get_int(o, key, lo, hi, &v, &err) == 0)
        check(v >= lo && v <= hi, "an accepted integer outside its range");
    else
        check_message(&err);
    sink += (uint64_t)v;
}

static void read_number(const json_t *o, const char *key, double lo, double hi) {
    double v = NAN;
    qk_error err;
    if (qk_results_get_number(o, key, lo, hi, &v, &err) == 0)
        check(isfinite(v) && v >= lo && v <= hi, "an accepted number outside its range");
    else
        check_message(&err);
    sink += (uint64_t)(v == v);
}

static void walk(const json_t *doc) {
    const json_t *topo = json_object_get(json_object_get(doc, "context"), "topology");
    read_int(topo, "cores", 1, 1 << 20);
    read_int(topo, "pus", 1, 1 << 20);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        read_int(b, "seq_len", 1, 2048);
        read_int(b, "threads", 1, 1024);
        read_int(b, "repetitions", 0, 100000);
        read_int(b, "repetitions_planned", 1, 100000);
        read_number(b, "real_time", 1e-9, 1e9);
        read_number(b, "cpu_time", 0, 1e9);
        read_number(b, "gops", 0, 1e9);
    }
    char text[512];
    qk_results_describe(doc, text, sizeof text);
    check(memchr(text, 0, sizeof text) != NULL, "description terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n===\n";
    const uint8_t *cut = memmem(data, size, sep, sizeof sep - 1);
    const size_t na = cut ? (size_t)(cut - data) : size;
    json_t *a = load(0, data, na), *b = NULL;
    if (cut) b = load(1, cut + sizeof sep - 1, (size_t)(data + size - cut - (sizeof sep - 1)));
    if (a) walk(a);
    if (b) walk(b);
    if (a && b) {
        static const unsigned checks[4] = {0, QK_RESULTS_SAME_BUILD, QK_RESULTS_SAME_CPU,
                                           QK_RESULTS_SAME_BUILD | QK_RESULTS_SAME_CPU};
        for (int k = 0; k < 4; k++) {
            qk_error err;
            if (qk_results_comparable(a, "a.json", b, "b.json", checks[k], &err))
                check_message(&err);
        }
        qk_error err;
        check(qk_results_comparable(a, "a.json", a, "a.json", 0, &err) == 0,
              "a document is not comparable with itself");
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
