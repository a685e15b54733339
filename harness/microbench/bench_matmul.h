/* The matmul-only microbenchmark: one Q8_0 x int8 matmul shape on random data, timed for a list
 * of kernels (repetitions interleaved round-robin), each kernel's output checked against the
 * float64 reference. `qkbench bench-matmul` prints its table. */
#ifndef QK_HARNESS_MICROBENCH_BENCH_MATMUL_H
#define QK_HARNESS_MICROBENCH_BENCH_MATMUL_H

#include "common/error.h"
#include "kernels/kernel.h"

#define QK_BENCH_MATMUL_MAX_THREADS 256

typedef struct {
    int rows, cols, tokens; /* cols a multiple of 32 */
    int threads;            /* 1..QK_BENCH_MATMUL_MAX_THREADS, splitting the rows */
    int reps, warmup;       /* timed and untimed calls per kernel */
    int granularity;        /* QK_ACT_PER_TOKEN or QK_ACT_PER_BLOCK */
    unsigned long long seed;
} qk_bench_matmul_options;

typedef struct {
    const qk_kernel *kernel;
    double median_s, min_s;   /* per call */
    double gops, weight_gbps; /* at the median */
    double allocs_per_call, alloc_bytes_per_call;
    int ok; /* the last output is within tests/test_kernels.c's bound of the reference */
} qk_bench_matmul_result;

/* The kernels `variant` ("all" for every one) names on `isa` ("scalar", "avx2", "avx512vnni",
 * "best", "all"; NULL: best for one variant, all for every variant) that this CPU can run, into
 * list (qk_kernel_count() entries); returns how many, or -1 with err (an unknown name, a kernel
 * named by ISA that cannot run here, nothing left). skipped (may be NULL) hears of every kernel
 * left out because the CPU lacks its ISA. */
int qk_bench_matmul_select(const char *variant, const char *isa, const qk_kernel **list,
                           void (*skipped)(void *ctx, const qk_kernel *k, const char *why),
                           void *ctx, qk_error *err);

/* Times ks[0..nk) on the shape; results[i] for ks[i]. 0, or -1 with err (memory, threads, a bad
 * shape). A wrong output is not an error here: results[i].ok says so. */
int qk_bench_matmul_run(const qk_bench_matmul_options *o, const qk_kernel *const *ks, int nk,
                        qk_bench_matmul_result *results, qk_error *err);

#endif
