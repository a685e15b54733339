/* `qkbench roofline`: the machine's ceilings for the roofline plot, measured by a small built-in
 * microbenchmark, per thread count (threads pinned compact by the project's pool):
 *   - read bandwidth: a 1 GiB buffer (DRAM) and a small per-thread buffer (half the L2, at most
 *     256 KiB) summed with wide loads, 8 independent sequential streams per thread;
 *   - int8 multiply-accumulate peak: scalar C; AVX2 vpmaddubsw + vpmaddwd + vpaddd (ymm);
 *     AVX512BW vpmaddubsw (zmm); vpdpbusd ymm (AVX-VNNI, or EVEX with AVX512-VNNI+VL); vpdpbusd
 *     zmm (AVX512-VNNI); each with 12 independent accumulator chains and only when the CPU (and the
 *     QK_ISA cap of kernels/kernel.h) allows it. 1 MAC = 2 ops.
 * Each figure is the best of several repetitions over --seconds. Output: a table on stdout and,
 * with --json FILE, {"roofline": {"context": {...}, "bandwidth": [{"threads", "bytes", "gbps",
 * "working_set"}], "peaks": [{"isa", "instruction", "threads", "gops"}], "skipped": [{"isa",
 * "instruction", "why"}], "settings": {...}}}. */
#ifndef QK_HARNESS_MICROBENCH_ROOFLINE_H
#define QK_HARNESS_MICROBENCH_ROOFLINE_H

#include <stddef.h>
#include <stdint.h>

/* argv[0] is the command name; options: --threads LIST (integers or "all"; default 1,all),
 * --seconds S (per measurement, default 0.2), --json FILE, --help. Returns 0, 1 on a run-time
 * failure (memory, threads, writing the JSON), 2 on a usage error. */
int qk_cmd_roofline(int argc, char **argv);

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
