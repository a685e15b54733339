/* The matmul-only benchmark of the optimisation ladder.
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

#define MAX_THREADS QK_BENCH_MATMUL_MAX_THREADS

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

int qk_bench_matmul_select(const char *variant, const char *isa, const qk_kernel **list,
                           void (*skipped)(void *ctx, const qk_kernel *k, const char *why),
                           void *ctx, qk_error *err) {
    const int all_variants = !strcmp(variant, "all");
    if (!isa) isa = all_variants ? "all" : "best";
    if (strcmp(isa, "all") && strcmp(isa, "best") && !known_isa(isa))
        return qk_fail(err, "unknown ISA '%s' (scalar, avx2, avx512vnni, best, all)", isa);
    if (!all_variants && !known_variant(variant)) {
        char names[400] = "";
        size_t len = 0;
        for (int i = 0; i < qk_kernel_count(); i++) { /* each variant once */
            const char *v = qk_kernel_at(i)->variant;
            int seen = 0;
            for (int j = 0; j < i && !seen; j++) seen = !strcmp(qk_kernel_at(j)->variant, v);
            if (!seen && len < sizeof names)
                len += (size_t)snprintf(names + len, sizeof names - len, " %s", v);
        }
        return qk_fail(err, "unknown kernel '%s'; variants:%s", variant, names);
    }
    int n = 0;
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_at(i);
        if (!all_variants && strcmp(k->variant, variant)) continue;
        const char *why;
        if (!strcmp(isa, "best")) {
            if (k != qk_kernel_best(k->variant)) continue;
        } else if (strcmp(isa, "all") && strcmp(k->isa, isa)) {
            continue;
        }
        if (!qk_kernel_available(k, &why)) {
            if (strcmp(isa, "all")) /* asked for this ISA by name */
                return qk_fail(err, "%s__%s is not available here: %s", k->variant, k->isa, why);
            if (skipped) skipped(ctx, k, why);
            continue;
        }
        list[n++] = k;
    }
    if (n == 0) return qk_fail(err, "no kernel matches --kernel %s --isa %s here", variant, isa);
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

/* ---- the benchmark
 * ------------------------------------------------------------------------------- */

int qk_bench_matmul_run(const qk_bench_matmul_options *o, const qk_kernel *const *ks, int nk,
                        qk_bench_matmul_result *results, qk_error *err) {
    if (o->cols <= 0 || o->cols % QK8_0 || o->rows <= 0 || o->tokens <= 0)
        return qk_fail(err, "bad shape %dx%d x %d tokens (cols a multiple of %d)", o->rows, o->cols,
                       o->tokens, QK8_0);
    if (o->threads < 1 || o->threads > MAX_THREADS || o->reps < 1 || o->warmup < 0)
        return qk_fail(err, "bad settings: threads %d (1..%d), reps %d, warmup %d", o->threads,
                       MAX_THREADS, o->reps, o->warmup);
    const int nb = o->cols / QK8_0;
    const size_t n_blocks = (size_t)o->rows * nb, n_out = (size_t)o->tokens * o->rows;
    const size_t n_xs =
        o->granularity == QK_ACT_PER_BLOCK ? (size_t)o->tokens * nb : (size_t)o->tokens;
    uint8_t *blocks = alloc64(n_blocks * QK8_0_BLOCK_BYTES);
    int8_t *xq = alloc64((size_t)o->tokens * o->cols);
    float *xs = alloc64(n_xs * sizeof(float));
    qk_q8_matrix *ws = calloc((size_t)nk, sizeof *ws);
    float **dst = calloc((size_t)nk, sizeof *dst);
    double *times = calloc((size_t)nk * o->reps, sizeof *times),
           *allocs = calloc((size_t)nk, sizeof(double)),
           *alloc_bytes = calloc((size_t)nk, sizeof(double));
    double *ref = malloc(n_out * sizeof(double)), *mag = malloc(n_out * sizeof(double));
    int status = -1, team_up = 0;
    team *tm = malloc(sizeof *tm);
    if (!blocks || !xq || !xs || !ws || !dst || !times || !allocs || !alloc_bytes || !ref || !mag ||
        !tm) {
        qk_fail(err, "out of memory");
        goto out;
    }

    uint64_t s = o->seed;
    for (size_t i = 0; i < n_blocks; i++) {
        uint8_t *blk = blocks + i * QK8_0_BLOCK_BYTES;
        const uint16_t d = qk_fp32_to_fp16(0.0005f + 0.02f * rng_unit(&s));
        blk[0] = (uint8_t)(d & 0xff), blk[1] = (uint8_t)(d >> 8);
        for (int j = 0; j < QK8_0; j += 8) {
            const uint64_t r = rng_next(&s); /* full int8 range, -128 included */
            memcpy(blk + 2 + j, &r, 8);
        }
    }
    for (size_t i = 0; i < (size_t)o->tokens * o->cols; i++)
        xq[i] = (int8_t)((int)(rng_next(&s) % 255) - 127);
    for (size_t i = 0; i < n_xs; i++) xs[i] = 0.001f + 0.05f * rng_unit(&s);
    const qk_act_i8 x = {.q = xq,
                         .scale = xs,
                         .n_tokens = o->tokens,
                         .cols = o->cols,
                         .granularity = o->granularity};

    for (int k = 0; k < nk; k++) {
        ws[k] = (qk_q8_matrix){.blocks = blocks, .rows = o->rows, .cols = o->cols};
        dst[k] = alloc64(n_out * sizeof(float));
        if (!dst[k] || qk_q8_matrix_prepare(&ws[k], ks[k])) {
            qk_fail(err, "cannot prepare %s__%s (out of memory?)", ks[k]->variant, ks[k]->isa);
            goto out;
        }
    }

    if (team_start(tm, o->threads, o->rows)) {
        qk_fail(err, "cannot create %d threads", o->threads);
        goto out;
    }
    team_up = 1;
    for (int r = 0; r < o->warmup; r++)
        for (int k = 0; k < nk; k++) team_call(tm, ks[k], &ws[k], &x, dst[k]);
    for (int r = 0; r < o->reps; r++)
        for (int k = 0; k < nk; k++) {
            qk_alloc_stats a0, a1;
            qk_alloc_stats_read(&a0);
            times[(size_t)k * o->reps + r] = team_call(tm, ks[k], &ws[k], &x, dst[k]);
            qk_alloc_stats_read(&a1);
            allocs[k] += (double)(a1.allocations - a0.allocations);
            alloc_bytes[k] += (double)(a1.bytes - a0.bytes);
        }
    team_stop(tm);
    team_up = 0;

    /* Check every kernel's last output against the oracle (bound: tests/test_kernels.c). */
    qk_reference_matmul_f64(ref, mag, &ws[0], &x, 0, o->rows);
    const double ops = 2.0 * o->rows * o->cols * o->tokens,
                 wbytes = (double)n_blocks * QK8_0_BLOCK_BYTES;
    for (int k = 0; k < nk; k++) {
        double *t = times + (size_t)k * o->reps;
        qsort(t, (size_t)o->reps, sizeof *t, cmp_double);
        const double med =
            o->reps % 2 ? t[o->reps / 2] : 0.5 * (t[o->reps / 2 - 1] + t[o->reps / 2]);
        int ok = 1;
        for (size_t i = 0; i < n_out && ok; i++)
            ok = fabs((double)dst[k][i] - ref[i]) <= (nb + 8) * 0x1p-24 * mag[i] + 1e-30;
        results[k] = (qk_bench_matmul_result){ks[k],
                                              med,
                                              t[0],
                                              ops / med * 1e-9,
                                              wbytes / med * 1e-9,
                                              allocs[k] / o->reps,
                                              alloc_bytes[k] / o->reps,
                                              ok};
    }
    status = 0;

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
    return status;
}
