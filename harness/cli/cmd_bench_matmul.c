/* qkbench bench-matmul: arguments and the table around harness/microbench/bench_matmul.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/microbench/bench_matmul.h"

typedef struct {
    const char *kernel, *isa;
    qk_bench_matmul_options b;
} options;

static void usage(FILE *f) {
    fputs("usage: qkbench bench-matmul --kernel VARIANT|all [options]\n"
          "\n"
          "Times dst = W x for a random Q8_0 matrix W (rows x cols) and int8 activations x (tokens "
          "x\n"
          "cols): median and min time per call, GOPS (2*rows*cols*tokens per second), weight GB/s\n"
          "(Q8_0 bytes of W per second) and, for alloc-copy, heap allocations per call.\n"
          "\n"
          "  --kernel VARIANT|all   parse-per-block, precached-scales, alloc-copy, zero-copy, ... "
          "or all\n"
          "                         (every kernel this CPU can run, repetitions interleaved)\n"
          "  --isa ISA              scalar, avx2, avx512vnni, best or all (default: best for one\n"
          "                         variant, all with --kernel all)\n"
          "  --rows R               weight rows (default 768)\n"
          "  --cols C               weight columns, a multiple of 32 (default 768)\n"
          "  --tokens N             activation rows (default 1)\n"
          "  --threads T            threads splitting the rows (default 1)\n"
          "  --reps N               timed calls per kernel (default 50)\n"
          "  --warmup N             untimed calls per kernel first (default 5)\n"
          "  --act-scale token|block  one activation scale per token or per 32-block (default "
          "token)\n"
          "  --seed S               random data seed (default 1)\n"
          "  --help                 this text\n"
          "\n"
          "Exit status: 0 ok, 1 run-time failure (memory, wrong result), 2 usage error.\n",
          f);
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    const long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "qkbench bench-matmul: %s expects an integer in [%ld, %ld], got '%s'\n",
                opt, lo, hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* Fills o from argv; returns 0 ok, 1 help shown, 2 usage error (reported). */
static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.b = {.rows = 768,
                         .cols = 768,
                         .tokens = 1,
                         .threads = 1,
                         .reps = 50,
                         .warmup = 5,
                         .granularity = QK_ACT_PER_TOKEN,
                         .seed = 1}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "qkbench bench-matmul: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        /* --name value or --name=value */
        const char *eq = strchr(a, '='), *v;
        char name[32];
        const size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) goto unknown;
        memcpy(name, a, len);
        name[len] = '\0';
        if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(stderr, "qkbench bench-matmul: %s needs a value (see --help)\n", name);
            return 2;
        }
        long n = 0;
        if (!strcmp(name, "--kernel"))
            o->kernel = v;
        else if (!strcmp(name, "--isa"))
            o->isa = v;
        else if (!strcmp(name, "--act-scale")) {
            if (!strcmp(v, "token"))
                o->b.granularity = QK_ACT_PER_TOKEN;
            else if (!strcmp(v, "block"))
                o->b.granularity = QK_ACT_PER_BLOCK;
            else {
                fprintf(stderr,
                        "qkbench bench-matmul: --act-scale expects token or block, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            o->b.seed = strtoull(v, &end, 10);
            if (errno || end == v || *end) {
                fprintf(stderr, "qkbench bench-matmul: --seed expects an integer, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(name, "--rows")) {
            if (parse_long(name, v, 1, 1 << 20, &n)) return 2;
            o->b.rows = (int)n;
        } else if (!strcmp(name, "--cols")) {
            if (parse_long(name, v, 1, 1 << 20, &n)) return 2;
            o->b.cols = (int)n;
        } else if (!strcmp(name, "--tokens")) {
            if (parse_long(name, v, 1, 1 << 16, &n)) return 2;
            o->b.tokens = (int)n;
        } else if (!strcmp(name, "--threads")) {
            if (parse_long(name, v, 1, QK_BENCH_MATMUL_MAX_THREADS, &n)) return 2;
            o->b.threads = (int)n;
        } else if (!strcmp(name, "--reps")) {
            if (parse_long(name, v, 1, 1000000, &n)) return 2;
            o->b.reps = (int)n;
        } else if (!strcmp(name, "--warmup")) {
            if (parse_long(name, v, 0, 1000000, &n)) return 2;
            o->b.warmup = (int)n;
        } else {
        unknown:
            fprintf(stderr, "qkbench bench-matmul: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!o->kernel) {
        fprintf(stderr,
                "qkbench bench-matmul: --kernel is required (a variant or all; see --help)\n");
        return 2;
    }
    if (o->b.cols % QK8_0) {
        fprintf(stderr, "qkbench bench-matmul: --cols %d is not a multiple of %d (Q8_0 blocks)\n",
                o->b.cols, QK8_0);
        return 2;
    }
    if ((double)o->b.rows * o->b.cols + (double)o->b.tokens * o->b.cols > 4e9) {
        fprintf(stderr, "qkbench bench-matmul: shape too large\n");
        return 2;
    }
    return 0;
}

static void on_skipped(void *ctx, const qk_kernel *k, const char *why) {
    (void)ctx;
    fprintf(stderr, "qkbench bench-matmul: skipping %s__%s: %s\n", k->variant, k->isa, why);
}

int qk_cmd_bench_matmul(int argc, char **argv) {
    options o;
    const int parsed = parse_options(argc, argv, &o);
    if (parsed == 1) return 0;
    if (parsed) return 2;
    qk_error err = {{0}};
    const qk_kernel **ks = calloc((size_t)qk_kernel_count(), sizeof *ks);
    qk_bench_matmul_result *res = calloc((size_t)qk_kernel_count(), sizeof *res);
    if (!ks || !res) {
        free(ks), free(res);
        fprintf(stderr, "qkbench bench-matmul: out of memory\n");
        return 1;
    }
    int status = 2;
    const int nk = qk_bench_matmul_select(o.kernel, o.isa, ks, on_skipped, NULL, &err);
    if (nk < 0) {
        status = qk_cli_error("bench-matmul", 2, &err);
        goto out;
    }
    if (qk_bench_matmul_run(&o.b, ks, nk, res, &err)) {
        status = qk_cli_error("bench-matmul", 1, &err);
        goto out;
    }
    const qk_bench_matmul_options *b = &o.b;
    const char *note = qk_cpu_isa_note();
    printf("bench-matmul: rows=%d cols=%d tokens=%d act-scale=%s threads=%d reps=%d warmup=%d "
           "seed=%llu\n",
           b->rows, b->cols, b->tokens, b->granularity == QK_ACT_PER_BLOCK ? "block" : "token",
           b->threads, b->reps, b->warmup, b->seed);
    printf("cache: hot (same matrix every call, %.1f KiB of Q8_0 weights); time per call = whole "
           "row range on all threads%s%s\n",
           (double)b->rows * (b->cols / QK8_0) * QK8_0_BLOCK_BYTES / 1024.0, *note ? "; " : "",
           note);
    printf("%-30s %11s %11s %9s %11s %12s %13s %6s\n", "kernel", "median_us", "min_us", "GOPS",
           "weight_GB/s", "allocs/call", "alloc_KB/call", "check");
    int wrong = 0;
    for (int k = 0; k < nk; k++) {
        const qk_bench_matmul_result *r = &res[k];
        char name[64];
        snprintf(name, sizeof name, "%s__%s", r->kernel->variant, r->kernel->isa);
        printf("%-30s %11.2f %11.2f %9.2f %11.2f %12.0f %13.1f %6s\n", name, r->median_s * 1e6,
               r->min_s * 1e6, r->gops, r->weight_gbps, r->allocs_per_call,
               r->alloc_bytes_per_call / 1024.0, r->ok ? "ok" : "WRONG");
        wrong += !r->ok;
    }
    if (wrong)
        fprintf(stderr, "qkbench bench-matmul: %d kernel(s) disagree with the reference\n", wrong);
    status = wrong ? 1 : 0;
out:
    free(ks);
    free(res);
    return status;
}
