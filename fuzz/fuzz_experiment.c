/* libFuzzer target: the experiment parser and the sweep expansion.
 *
 * The input is taken as the text of an experiment file (a NUL is appended; an embedded NUL ends the
 * text early, as it would for a C string). When it parses, qk_experiment_expand runs against a
 * fixed universe like the runner's (the four kernel variants, two ISAs, four CPUs, five matmul
 * shapes) and against an empty one, and every configuration is checked against the limits the
 * header promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/experiment.h"

static volatile uint64_t sink;

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_experiment: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void check_message(const qk_error *err) {
    size_t n = strnlen(err->msg, sizeof err->msg);
    check(n > 0 && n < sizeof err->msg, "error message empty or not terminated");
}

static void check_configs(const qk_experiment *e, const qk_config *cfg, int n, int ncpu) {
    check(n >= 1 && n <= 100000, "configuration count");
    int last_group = -1;
    for (int i = 0; i < n; i++) {
        const qk_config *c = &cfg[i];
        check(memchr(c->name, 0, sizeof c->name) != NULL, "name terminated");
        check(memchr(c->variant, 0, sizeof c->variant) != NULL, "variant terminated");
        check(memchr(c->isa, 0, sizeof c->isa) != NULL, "isa terminated");
        check(memchr(c->op, 0, sizeof c->op) != NULL, "op terminated");
        check(c->threads >= 1 && c->threads <= (ncpu > QK_THREADS_MAX ? ncpu : QK_THREADS_MAX),
              "threads in range");
        check(c->seq_len >= 1 && c->seq_len <= QK_SEQ_LEN_MAX, "seq_len in range");
        check(c->path == QK_PATH_INT8 || c->path == QK_PATH_FP32, "path");
        check(c->group >= last_group, "groups contiguous and increasing");
        last_group = c->group;
        sink += strlen(c->name);
    }
    sink += strlen(e->name) + strlen(e->model) + (e->description ? strlen(e->description) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    qk_experiment e;
    qk_error err;
    if (qk_experiment_parse_string(text, "fuzz.ini", &e, &err)) {
        check_message(&err);
        qk_experiment_free(&e); /* "out is left empty (safe to free)" */
        free(text);
        return 0;
    }
    check(e.name && e.model && e.file && e.text, "required strings set");
    check(e.repetitions >= 1 && e.warmups >= 0 && e.quick_repetitions >= 1, "measure limits");
    for (int i = 0; i < e.seq_len.n; i++)
        check(e.seq_len.v[i] >= 1 && e.seq_len.v[i] <= QK_SEQ_LEN_MAX, "parsed seq_len");
    for (int i = 0; i < e.threads.n; i++)
        check(e.threads.v[i] >= 0 && e.threads.v[i] <= QK_THREADS_MAX, "parsed threads");

    static const char *const variants[] = {"alloc-copy", "parse-per-block", "precached-scales",
                                           "zero-copy"};
    static const char *const isas[] = {"scalar", "avx2"};
    static const qk_shape shapes[] = {{"attn_q", 128, 64},
                                      {"attn_k", 64, 64},
                                      {"attn_output", 64, 128},
                                      {"ffn_gate", 128, 64},
                                      {"ffn_down", 64, 128}};
    const qk_sweep_universe u = {variants, 4, isas, 2, 4, shapes, 5};
    qk_config *cfg = NULL;
    int n = 0;
    if (qk_experiment_expand(&e, &u, &cfg, &n, &err) == 0) {
        check(cfg != NULL, "configurations allocated");
        check_configs(&e, cfg, n, u.ncpu);
        free(cfg);
    } else {
        check_message(&err);
        check(cfg == NULL, "no configurations on failure");
    }
    const qk_sweep_universe none = {0};
    cfg = NULL;
    if (qk_experiment_expand(&e, &none, &cfg, &n, &err) == 0) {
        check_configs(&e, cfg, n, 0);
        free(cfg);
    } else {
        check_message(&err);
    }
    qk_experiment_free(&e);
    free(text);
    return 0;
}
