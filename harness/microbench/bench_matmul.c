/* qkbench bench-matmul: the matmul-only benchmark of the optimisation ladder.
 *
 * Random Q8_0 weights (full int8 range) and int8 activations; each kernel gets its own prepared
 * view of the same blocks. Threads: a team created once before any timing; the rows are split in
 * contiguous chunks (multiples of 8 rows where possible), the calling thread takes chunk 0 and the
 * others spin on a phase counter, so one timed call = release the team, run, wait for all. Time:
 * CLOCK_MONOTONIC_RAW around that whole call. Warm-up calls are discarded; then the repetitions run
 * round-robin across the kernels so machine drift hits them alike. Cache regime: hot (the same
 * matrix every call). Each kernel's last output is checked against the float64 reference with the
 * bound of tests/test_kernels.c. */
#define _GNU_SOURCE
#include "harness/microbench/bench_matmul.h"

#include "kernels/fp16.h"
#include "kernels/kernel.h"
#include "kernels/reference.h"

#include <errno.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 256

typedef struct {
    const char *kernel, *isa;
    int rows, cols, tokens, threads, reps, warmup, gran;
    unsigned long long seed;
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
    *o = (options){.rows = 768,
                   .cols = 768,
                   .tokens = 1,
                   .threads = 1,
                   .reps = 50,
                   .warmup = 5,
                   .gran = QK_ACT_PER_TOKEN,
                   .seed = 1};
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
                o->gran = QK_ACT_PER_TOKEN;
            else if (!strcmp(v, "block"))
                o->gran = QK_ACT_PER_BLOCK;
            else {
                fprintf(stderr,
                        "qkbench bench-matmul: --act-scale expects token or block, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (errno || end == v || *end) {
                fprintf(stderr, "qkbench bench-matmul: --seed expects an integer, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(name, "--rows")) {
            if (parse_long(name, v, 1, 1 << 20, &n)) return 2;
            o->rows = (int)n;
        } else if (!strcmp(name, "--cols")) {
            if (parse_long(name, v, 1, 1 << 20, &n)) return 2;
            o->cols = (int)n;
        } else if (!strcmp(name, "--tokens")) {
            if (parse_long(name, v, 1, 1 << 16, &n)) return 2;
            o->tokens = (int)n;
        } else if (!strcmp(name, "--threads")) {
            if (parse_long(name, v, 1, MAX_THREADS, &n)) return 2;
            o->threads = (int)n;
        } else if (!strcmp(name, "--reps")) {
            if (parse_long(name, v, 1, 1000000, &n)) return 2;
            o->reps = (int)n;
        } else if (!strcmp(name, "--warmup")) {
            if (parse_long(name, v, 0, 1000000, &n)) return 2;
            o->warmup = (int)n;
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
    if (o->cols % QK8_0) {
        fprintf(stderr, "qkbench bench-matmul: --cols %d is not a multiple of %d (Q8_0 blocks)\n",
                o->cols, QK8_0);
        return 2;
    }
    if ((double)o->rows * o->cols + (double)o->tokens * o->cols > 4e9) {
        fprintf(stderr, "qkbench bench-matmul: shape too large\n");
        return 2;
    }
    return 0;
}

/* ---- the kernels to run
 * -------------------------------------------------------------------------- */

static int known_isa(const char *isa) {
    return !strcmp(isa, "scalar") || !strcmp(isa, "avx2") || !strcmp(isa, "avx512vnni");
}

static int known_variant(const char *v) {
    for (int i = 0; i < qk_kernel_count(); i++)
        if (!strcmp(qk_kernel_at(i)->variant, v)) return 1;
    return 0;
}

/* Fills list (qk_kernel_count() entries) and returns how many; -1 after reporting a usage error. */
static int select_kernels(const options *o, const qk_kernel **list) {
    const int all_variants = !strcmp(o->kernel, "all");
    const char *isa = o->isa ? o->isa : all_variants ? "all" : "best";
    if (strcmp(isa, "all") && strcmp(isa, "best") && !known_isa(isa)) {
        fprintf(stderr,
                "qkbench bench-matmul: unknown ISA '%s' (scalar, avx2, avx512vnni, best, all)\n",
                isa);
        return -1;
    }
    if (!all_variants && !known_variant(o->kernel)) {
        fprintf(stderr, "qkbench bench-matmul: unknown kernel '%s'; variants:", o->kernel);
        for (int i = 0; i < qk_kernel_count(); i++) { /* each variant once */
            const char *v = qk_kernel_at(i)->variant;
            int seen = 0;
            for (int j = 0; j < i && !seen; j++) seen = !strcmp(qk_kernel_at(j)->variant, v);
            if (!seen) fprintf(stderr, " %s", v);
        }
        fputs("\n", stderr);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_at(i);
        if (!all_variants && strcmp(k->variant, o->kernel)) continue;
        const char *why;
        if (!strcmp(isa, "best")) {
            if (k != qk_kernel_best(k->variant)) continue;
        } else if (strcmp(isa, "all") && strcmp(k->isa, isa)) {
            continue;
        }
        if (!qk_kernel_available(k, &why)) {
            if (strcmp(isa, "all")) { /* asked for this ISA by name */
                fprintf(stderr, "qkbench bench-matmul: %s__%s is not available here: %s\n",
                        k->variant, k->isa, why);
                return -1;
            }
            fprintf(stderr, "qkbench bench-matmul: skipping %s__%s: %s\n", k->variant, k->isa, why);
            continue;
        }
        list[n++] = k;
    }
    if (n == 0) {
        fprintf(stderr, "qkbench bench-matmul: no kernel matches --kernel %s --isa %s here\n",
                o->kernel, isa);
        return -1;
    }
    return n;
}

/* ---- the thread team
 * ----------------------------------------------------------------------------- */

typedef struct {
    int n;                  /* threads, the caller included */
    _Atomic unsigned phase; /* bumped to start a call */
    _Atomic int done;       /* workers (not the caller) finished with this call */
    _Atomic int stop;
    const qk_kernel *k; /* the call: written before phase is bumped */
    const qk_q8_matrix *w;
    const qk_act_i8 *x;
    float *dst;
    int bounds[MAX_THREADS + 1]; /* rows of thread i: [bounds[i], bounds[i+1]) */
    pthread_t tid[MAX_THREADS];
    struct worker_arg {
        void *tm;
        int id;
    } args[MAX_THREADS];
} team;

/* Busy-wait that stays polite when threads outnumber cores. */
static void relax(unsigned *spins) {
    if (++*spins < 4096)
        _mm_pause();
    else
        sched_yield();
}

static void run_chunk(team *tm, int id) {
    const int r0 = tm->bounds[id], r1 = tm->bounds[id + 1];
    if (r1 > r0) tm->k->matmul(tm->dst, tm->w, tm->x, r0, r1);
}

static void *worker_main(void *arg) {
    team *tm = ((struct worker_arg *)arg)->tm;
    const int id = ((struct worker_arg *)arg)->id;
    unsigned seen = 0; /* the phase at creation: a call may start before this thread first looks */
    for (;;) {
        unsigned spins = 0, now;
        while ((now = atomic_load_explicit(&tm->phase, memory_order_acquire)) == seen)
            relax(&spins);
        seen = now;
        if (atomic_load_explicit(&tm->stop, memory_order_relaxed)) return NULL;
        run_chunk(tm, id);
        atomic_fetch_add_explicit(&tm->done, 1, memory_order_release);
    }
}

/* Contiguous chunks, cut at multiples of 8 rows when every thread still gets some (row tiles). */
static void split_rows(team *tm, int rows) {
    const int unit = rows >= 8 * tm->n ? 8 : 1, units = (rows + unit - 1) / unit;
    for (int i = 0; i <= tm->n; i++) {
        const long r = (long)units * i / tm->n * unit;
        tm->bounds[i] = (int)(r < rows ? r : rows);
    }
}

static int team_start(team *tm, int n, int rows) {
    memset(tm, 0, sizeof *tm);
    tm->n = n;
    split_rows(tm, rows);
    for (int i = 1; i < n; i++) {
        tm->args[i].tm = tm, tm->args[i].id = i;
        if (pthread_create(&tm->tid[i], NULL, worker_main, &tm->args[i])) {
            fprintf(stderr, "qkbench bench-matmul: cannot create thread %d\n", i);
            atomic_store(&tm->stop, 1);
            atomic_fetch_add(&tm->phase, 1);
            for (int j = 1; j < i; j++) pthread_join(tm->tid[j], NULL);
            return -1;
        }
    }
    return 0;
}

static void team_stop(team *tm) {
    atomic_store_explicit(&tm->stop, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tm->phase, 1, memory_order_release);
    for (int i = 1; i < tm->n; i++) pthread_join(tm->tid[i], NULL);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One call of k over all rows on the whole team; returns its wall time in seconds. */
static double team_call(team *tm, const qk_kernel *k, const qk_q8_matrix *w, const qk_act_i8 *x,
                        float *dst) {
    tm->k = k, tm->w = w, tm->x = x, tm->dst = dst;
    atomic_store_explicit(&tm->done, 0, memory_order_relaxed);
    const double t0 = now_seconds();
    atomic_fetch_add_explicit(&tm->phase, 1, memory_order_release);
    run_chunk(tm, 0);
    unsigned spins = 0;
    while (atomic_load_explicit(&tm->done, memory_order_acquire) < tm->n - 1) relax(&spins);
    return now_seconds() - t0;
}

/* ---- data
 * ---------------------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float rng_unit(uint64_t *s) {
    return (float)(rng_next(s) >> 40) * 0x1p-24f;
}

static void *alloc64(size_t bytes) {
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the command
 * --------------------------------------------------------------------------------- */

int qk_cmd_bench_matmul(int argc, char **argv) {
    options o;
    const int parsed = parse_options(argc, argv, &o);
    if (parsed == 1) return 0;
    if (parsed) return 2;
    const int nk_max = qk_kernel_count();
    const qk_kernel **ks = calloc((size_t)nk_max, sizeof *ks);
    if (!ks) return 1;
    const int nk = select_kernels(&o, ks);
    if (nk < 0) {
        free(ks);
        return 2;
    }

    const int nb = o.cols / QK8_0;
    const size_t n_blocks = (size_t)o.rows * nb, n_out = (size_t)o.tokens * o.rows;
    const size_t n_xs = o.gran == QK_ACT_PER_BLOCK ? (size_t)o.tokens * nb : (size_t)o.tokens;
    uint8_t *blocks = alloc64(n_blocks * QK8_0_BLOCK_BYTES);
    int8_t *xq = alloc64((size_t)o.tokens * o.cols);
    float *xs = alloc64(n_xs * sizeof(float));
    qk_q8_matrix *ws = calloc((size_t)nk, sizeof *ws);
    float **dst = calloc((size_t)nk, sizeof *dst);
    double *times = calloc((size_t)nk * o.reps, sizeof *times),
           *allocs = calloc((size_t)nk, sizeof(double)),
           *alloc_bytes = calloc((size_t)nk, sizeof(double));
    double *ref = malloc(n_out * sizeof(double)), *mag = malloc(n_out * sizeof(double));
    int status = 1, team_up = 0;
    team *tm = malloc(sizeof *tm);
    if (!blocks || !xq || !xs || !ws || !dst || !times || !allocs || !alloc_bytes || !ref || !mag ||
        !tm) {
        fprintf(stderr, "qkbench bench-matmul: out of memory\n");
        goto out;
    }

    uint64_t s = o.seed;
    for (size_t i = 0; i < n_blocks; i++) {
        uint8_t *blk = blocks + i * QK8_0_BLOCK_BYTES;
        const uint16_t d = qk_fp32_to_fp16(0.0005f + 0.02f * rng_unit(&s));
        blk[0] = (uint8_t)(d & 0xff), blk[1] = (uint8_t)(d >> 8);
        for (int j = 0; j < QK8_0; j += 8) {
            const uint64_t r = rng_next(&s); /* full int8 range, -128 included */
            memcpy(blk + 2 + j, &r, 8);
        }
    }
    for (size_t i = 0; i < (size_t)o.tokens * o.cols; i++)
        xq[i] = (int8_t)((int)(rng_next(&s) % 255) - 127);
    for (size_t i = 0; i < n_xs; i++) xs[i] = 0.001f + 0.05f * rng_unit(&s);
    const qk_act_i8 x = {
        .q = xq, .scale = xs, .n_tokens = o.tokens, .cols = o.cols, .granularity = o.gran};

    for (int k = 0; k < nk; k++) {
        ws[k] = (qk_q8_matrix){.blocks = blocks, .rows = o.rows, .cols = o.cols};
        dst[k] = alloc64(n_out * sizeof(float));
        if (!dst[k] || qk_q8_matrix_prepare(&ws[k], ks[k])) {
            fprintf(stderr, "qkbench bench-matmul: cannot prepare %s__%s (out of memory?)\n",
                    ks[k]->variant, ks[k]->isa);
            goto out;
        }
    }

    if (team_start(tm, o.threads, o.rows)) goto out;
    team_up = 1;
    for (int r = 0; r < o.warmup; r++)
        for (int k = 0; k < nk; k++) team_call(tm, ks[k], &ws[k], &x, dst[k]);
    for (int r = 0; r < o.reps; r++)
        for (int k = 0; k < nk; k++) {
            qk_alloc_stats a0, a1;
            qk_alloc_stats_read(&a0);
            times[(size_t)k * o.reps + r] = team_call(tm, ks[k], &ws[k], &x, dst[k]);
            qk_alloc_stats_read(&a1);
            allocs[k] += (double)(a1.allocations - a0.allocations);
            alloc_bytes[k] += (double)(a1.bytes - a0.bytes);
        }
    team_stop(tm);
    team_up = 0;

    /* Check every kernel's last output against the oracle (bound: tests/test_kernels.c). */
    qk_reference_matmul_f64(ref, mag, &ws[0], &x, 0, o.rows);
    int wrong = 0;
    const char *note = qk_cpu_isa_note();
    printf("bench-matmul: rows=%d cols=%d tokens=%d act-scale=%s threads=%d reps=%d warmup=%d "
           "seed=%llu\n",
           o.rows, o.cols, o.tokens, o.gran == QK_ACT_PER_BLOCK ? "block" : "token", o.threads,
           o.reps, o.warmup, o.seed);
    printf("cache: hot (same matrix every call, %.1f KiB of Q8_0 weights); time per call = whole "
           "row range on all threads%s%s\n",
           (double)n_blocks * QK8_0_BLOCK_BYTES / 1024.0, *note ? "; " : "", note);
    printf("%-30s %11s %11s %9s %11s %12s %13s %6s\n", "kernel", "median_us", "min_us", "GOPS",
           "weight_GB/s", "allocs/call", "alloc_KB/call", "check");
    const double ops = 2.0 * o.rows * o.cols * o.tokens,
                 wbytes = (double)n_blocks * QK8_0_BLOCK_BYTES;
    for (int k = 0; k < nk; k++) {
        double *t = times + (size_t)k * o.reps;
        qsort(t, (size_t)o.reps, sizeof *t, cmp_double);
        const double med = o.reps % 2 ? t[o.reps / 2] : 0.5 * (t[o.reps / 2 - 1] + t[o.reps / 2]);
        int ok = 1;
        for (size_t i = 0; i < n_out && ok; i++)
            ok = fabs((double)dst[k][i] - ref[i]) <= (nb + 8) * 0x1p-24 * mag[i] + 1e-30;
        wrong += !ok;
        char name[64];
        snprintf(name, sizeof name, "%s__%s", ks[k]->variant, ks[k]->isa);
        printf("%-30s %11.2f %11.2f %9.2f %11.2f %12.0f %13.1f %6s\n", name, med * 1e6, t[0] * 1e6,
               ops / med * 1e-9, wbytes / med * 1e-9, allocs[k] / o.reps,
               alloc_bytes[k] / o.reps / 1024.0, ok ? "ok" : "WRONG");
    }
    if (wrong)
        fprintf(stderr, "qkbench bench-matmul: %d kernel(s) disagree with the reference\n", wrong);
    status = wrong ? 1 : 0;

out:
    if (team_up) team_stop(tm);
    for (int k = 0; ws && dst && k < nk; k++) {
        qk_q8_matrix_release(&ws[k]);
        free(dst[k]);
    }
    free(tm);
    free(ref);
    free(mag);
    free(times);
    free(allocs);
    free(alloc_bytes);
    free(dst);
    free(ws);
    free(xs);
    free(xq);
    free(blocks);
    free(ks);
    return status;
}
