/* The machine's ceilings for the roofline plot, measured by a small built-in
 * microbenchmark, per thread count (threads pinned compact by the project's pool):
 *   - read bandwidth: a 1 GiB buffer (DRAM) and a small per-thread buffer (half the L2, at most
 *     256 KiB) summed with wide loads, 8 independent sequential streams per thread;
 *   - int8 multiply-accumulate peak: scalar C; AVX2 vpmaddubsw + vpmaddwd + vpaddd (ymm);
 *     AVX512BW vpmaddubsw (zmm); vpdpbusd ymm (AVX-VNNI, or EVEX with AVX512-VNNI+VL); vpdpbusd
 *     zmm (AVX512-VNNI); each with 12 independent accumulator chains and only when the CPU (and the
 *     QK_ISA cap of kernels/kernel.h) allows it. 1 MAC = 2 ops.
 * Each figure is the best of several repetitions over `seconds`. The document (`qkbench roofline
 * --json`, read by `qkbench report --roofline`): {"roofline": {"context": {...}, "bandwidth":
 * [{"threads", "bytes", "gbps", "working_set"}], "peaks": [{"isa", "instruction", "threads",
 * "gops"}], "skipped": [{"isa", "instruction", "why"}], "settings": {...}}}. */
#ifndef QK_HARNESS_MICROBENCH_ROOFLINE_H
#define QK_HARNESS_MICROBENCH_ROOFLINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

typedef struct { /* what is about to be measured, for the caller's heading */
    const char *cpu_model;
    int cores, usable_cores;
    double seconds;
    int avx2_loads; /* the read loop uses 256-bit loads (else SSE2's 128-bit) */
} qk_roofline_setup;

typedef struct {      /* one measurement, as soon as it is taken */
    const char *what; /* "read bandwidth (DRAM)", "int8 avx2: vpmaddubsw+..." */
    int threads;
    size_t bytes;     /* working set (0: registers only) */
    int per_thread;   /* bytes is per thread */
    double value;     /* in unit */
    const char *unit; /* "GB/s" or "GOPS" */
    int repetitions;
} qk_roofline_row;

typedef struct {
    const int *threads; /* thread counts; 0 stands for every usable core */
    int n_threads;
    double seconds; /* spent per measurement */
    void (*on_start)(void *ctx, const qk_roofline_setup *s);
    void (*on_row)(void *ctx, const qk_roofline_row *r);
    void *ctx;
} qk_roofline_options;

/* Measures every ceiling; *out is the new document above. 0; 1 when a thread count is above the
 * usable PUs (refused before anything is measured: err says why); -1 with err (memory, threads). */
int qk_roofline_measure(const qk_roofline_options *o, json_t **out, qk_error *err);
/* Writes the document to path (common/output_file.h: a temporary file renamed into place);
 * replace = 0 refuses an existing file. */
int qk_roofline_write_json(const char *path, json_t *doc, int replace, qk_error *err);

/* ---- ISA-specific loops (roofline_avx2.c, roofline_avx512.c), for roofline.c only. Each returns
 * a value derived from all its work so the caller can keep it alive (sum into a sink). Callers
 * check the CPU first. */

/* Reads bytes (a multiple of 512, 32-byte aligned) from buf, passes times, as 8 interleaved
 * sequential streams of 256-bit loads summed with vpaddq. */
uint64_t qk_roofline_read_avx2(const void *buf, size_t bytes, long passes);
/* iters x 12 chains x (vpmaddubsw + vpmaddwd + vpaddd) on ymm: 12 x 32 MACs per iteration. */
uint64_t qk_roofline_maddubs_avx2(long iters);
/* iters x 12 chains x (vpmaddubsw + vpmaddwd + vpaddd) on zmm (AVX512BW): 12 x 64 MACs per
 * iteration. */
uint64_t qk_roofline_maddubs_avx512bw(long iters);
/* iters x 12 chains x vpdpbusd ymm: 12 x 32 MACs per iteration. _vex needs AVX-VNNI; _evex needs
 * AVX512-VNNI + AVX512VL. */
uint64_t qk_roofline_vnni_ymm_vex(long iters);
uint64_t qk_roofline_vnni_ymm_evex(long iters);
/* iters x 12 chains x vpdpbusd zmm (AVX512-VNNI): 12 x 64 MACs per iteration. */
uint64_t qk_roofline_vnni_zmm(long iters);

#endif
