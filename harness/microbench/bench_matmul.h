/* qkbench bench-matmul: one Q8_0 x int8 matmul shape on random data, timed for one kernel or for
 * every available kernel (repetitions interleaved round-robin), with a table of median and min time
 * per call, GOPS, weight GB/s and, for alloc-copy, allocations per call. */
#ifndef QK_HARNESS_MICROBENCH_BENCH_MATMUL_H
#define QK_HARNESS_MICROBENCH_BENCH_MATMUL_H

/* argv[0] is the command name; options follow (see --help). Returns the process exit code: 0 ok,
 * 1 run-time failure (out of memory, a kernel disagreeing with the reference), 2 usage error. */
int qk_cmd_bench_matmul(int argc, char **argv);

#endif
