#define _GNU_SOURCE /* MADV_HUGEPAGE, gethostname */
#include "harness/microbench/roofline.h"

#include "common/output_file.h"

#include <emmintrin.h>
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernel.h"
#include "harness/measure.h"
#include "harness/pool.h"
#include "harness/topology.h"

#define DRAM_BYTES ((size_t)1 << 30)
#define MIN_REPS   3
#define MAX_REPS   100000

/* every loop's result lands here, so no loop is dead code */
static _Atomic uint64_t sink;

/* ------------------------------------------------------------------ portable loops */

/* SSE2 (baseline x86-64) read loop: same shape as the AVX2 one, 128-bit loads. */
static uint64_t read_sse2(const void *buf, size_t bytes, long passes) {
    const size_t stream = bytes / 8;
    const char *base = buf;
    __m128i s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm_setzero_si128();
    for (long p = 0; p < passes; p++)
        for (size_t off = 0; off + 64 <= stream; off += 64)
            for (int k = 0; k < 8; k++) {
                const __m128i *q = (const __m128i *)(base + (size_t)k * stream + off);
                s[k] = _mm_add_epi64(s[k], _mm_load_si128(q));
                s[k] = _mm_add_epi64(s[k], _mm_load_si128(q + 1));
                s[k] = _mm_add_epi64(s[k], _mm_load_si128(q + 2));
                s[k] = _mm_add_epi64(s[k], _mm_load_si128(q + 3));
            }
    uint64_t lanes[2], r = 0;
    for (int k = 0; k < 8; k++) {
        _mm_storeu_si128((__m128i *)lanes, s[k]);
        r += lanes[0] + lanes[1];
    }
    return r;
}

/* Scalar int8 MACs as the scalar kernels do them (sign-extending byte loads, multiply, add), on
 * 64-byte operands that stay in L1: 64 MACs per iteration into 8 independent accumulators. The
 * empty asm statements hide the pointers (so nothing is hoisted or folded) and pin the
 * accumulators to general registers (so nothing is vectorised). */
static int8_t scalar_w[64], scalar_x[64];

static uint64_t scalar_macs(long iters) {
    const int8_t *w = scalar_w, *x = scalar_x;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+r"(w), "+r"(x));
        for (int j = 0; j < 64; j += 8) {
            a0 += w[j] * x[j];
            a1 += w[j + 1] * x[j + 1];
            a2 += w[j + 2] * x[j + 2];
            a3 += w[j + 3] * x[j + 3];
            a4 += w[j + 4] * x[j + 4];
            a5 += w[j + 5] * x[j + 5];
            a6 += w[j + 6] * x[j + 6];
            a7 += w[j + 7] * x[j + 7];
            __asm__(""
                    : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5), "+r"(a6),
                      "+r"(a7));
        }
        /* |products| <= 127*127 and 8 per accumulator per iteration: keep the sums bounded so
         * the signed additions never overflow, at a cost of one op every 64 MACs */
        a0 &= 0xffff, a1 &= 0xffff, a2 &= 0xffff, a3 &= 0xffff;
        a4 &= 0xffff, a5 &= 0xffff, a6 &= 0xffff, a7 &= 0xffff;
    }
    return (uint64_t)(uint32_t)(a0 + a1 + a2 + a3) + (uint64_t)(uint32_t)(a4 + a5 + a6 + a7);
}

/* ------------------------------------------------------------------ int8 peaks */

typedef struct {
    const char *isa, *instruction;
    double macs_per_iter;
    uint64_t (*fn)(long iters);
    const char *why; /* NULL: available here */
} peak_kernel;

static int cap_allows_avx512(void) {
    /* QK_ISA caps the kernels' tiers; it caps these loops too (unset: no cap) */
    return qk_cpu_isa_note()[0] == 0 || (qk_cpu_isa_bits() & QK_ISA_AVX512VNNI);
}

static int detect_peaks(peak_kernel *k) {
    const unsigned bits = qk_cpu_isa_bits();
    const int avx2 = (bits & QK_ISA_AVX2) != 0, vnni512 = (bits & QK_ISA_AVX512VNNI) != 0;
    int n = 0;
    k[n++] = (peak_kernel){"scalar", "C int8 multiply-add (8 chains)", 64, scalar_macs, NULL};
    k[n++] =
        (peak_kernel){"avx2", "vpmaddubsw+vpmaddwd+vpaddd ymm", 12 * 32, qk_roofline_maddubs_avx2,
                      avx2 ? NULL : "CPU lacks avx2+fma+f16c (or QK_ISA caps it)"};
    const int bw = __builtin_cpu_supports("avx512bw") && cap_allows_avx512();
    k[n++] = (peak_kernel){"avx512bw", "vpmaddubsw+vpmaddwd+vpaddd zmm", 12 * 64,
                           qk_roofline_maddubs_avx512bw,
                           bw ? NULL : "CPU lacks avx512bw (or QK_ISA caps it)"};
    const int avxvnni = avx2 && __builtin_cpu_supports("avxvnni");
    if (avxvnni)
        k[n++] = (peak_kernel){"avx-vnni", "vpdpbusd ymm (VEX)", 12 * 32, qk_roofline_vnni_ymm_vex,
                               NULL};
    else if (vnni512 && __builtin_cpu_supports("avx512vl"))
        k[n++] = (peak_kernel){"avx512vnni-ymm", "vpdpbusd ymm (EVEX)", 12 * 32,
                               qk_roofline_vnni_ymm_evex, NULL};
    else
        k[n++] = (peak_kernel){"avx-vnni", "vpdpbusd ymm", 12 * 32, qk_roofline_vnni_ymm_vex,
                               "CPU lacks avx_vnni and avx512_vnni+avx512vl"};
    k[n++] = (peak_kernel){"avx512vnni", "vpdpbusd zmm", 12 * 64, qk_roofline_vnni_zmm,
                           vnni512 ? NULL
                                   : "CPU lacks avx512vnni (with avx512 f/bw/vl/dq), or QK_ISA "
                                     "caps it"};
    return n;
}

/* ------------------------------------------------------------------ jobs on the pool */

typedef enum { JOB_READ, JOB_MACS, JOB_TOUCH } job_kind;

typedef struct {
    job_kind kind;
    char *buf;
    size_t slice;  /* bytes per worker */
    size_t stride; /* distance between workers' slices */
    long passes;   /* JOB_READ: passes over the slice; JOB_MACS: iterations */
    int use_avx2;
    uint64_t (*macs)(long iters);
} job;

static void job_body(void *arg, int worker) {
    const job *j = arg;
    char *p = j->buf ? j->buf + (size_t)worker * j->stride : NULL;
    uint64_t r = 0;
    switch (j->kind) {
    case JOB_TOUCH:
        memset(p, 1 + worker, j->slice);
        break;
    case JOB_READ:
        r = j->use_avx2 ? qk_roofline_read_avx2(p, j->slice, j->passes)
                        : read_sse2(p, j->slice, j->passes);
        break;
    case JOB_MACS:
        r = j->macs(j->passes);
        break;
    }
    atomic_fetch_add_explicit(&sink, r, memory_order_relaxed);
}

static double time_job(qk_pool *pool, job *j) {
    const double t0 = qk_now_seconds();
    qk_pool_run_on_each(pool, job_body, j);
    return qk_now_seconds() - t0;
}

/* Grows j->passes until one repetition lasts at least `target` seconds (or `max_passes`), then
 * repeats for `seconds`, at least MIN_REPS times. Returns the best (shortest) time. */
static double best_time(qk_pool *pool, job *j, double target, long max_passes, double seconds,
                        int *reps_out) {
    /* calibrate on the better of two runs, so one slow start (page faults, a wake-up from
     * sleep, a preempted thread) does not leave the repetitions too short to time well */
    double t = fmin(time_job(pool, j), time_job(pool, j));
    while (t < target && j->passes < max_passes) {
        double f = t > 0 ? 1.2 * target / t : 16;
        if (f > 16) f = 16;
        if (f < 2) f = 2;
        long np = (long)(j->passes * f);
        j->passes = np > max_passes ? max_passes : np;
        t = fmin(time_job(pool, j), time_job(pool, j));
    }
    double best = t, start = qk_now_seconds();
    int reps = 1;
    while ((reps < MIN_REPS || qk_now_seconds() - start < seconds) && reps < MAX_REPS) {
        t = time_job(pool, j);
        if (t < best) best = t;
        reps++;
    }
    *reps_out = reps;
    return best;
}

/* ------------------------------------------------------------------ context */

static char *cpu_model(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return NULL;
    char line[1024], *r = NULL;
    while (!r && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        r = strdup(v);
    }
    fclose(f);
    return r;
}

static json_t *context_json(const qk_topology_info *ti, double seconds) {
    char host[256] = "unknown", date[32] = "unknown";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *model = cpu_model();
    const unsigned bits = qk_cpu_isa_bits();
    json_t *c = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:f}", "generator",
        "qkbench " QK_VERSION " roofline", "date", date, "host_name", host, "cpu_model",
        model ? model : "unknown", "num_cpus", ti->pus, "cores", ti->cores, "usable_cores",
        ti->usable_cores, "l2_bytes", (json_int_t)ti->cache[1].size, "isa",
        bits & QK_ISA_AVX512VNNI ? "avx512vnni"
        : bits & QK_ISA_AVX2     ? "avx2"
                                 : "scalar",
        "isa_note", qk_cpu_isa_note(), "compiler", QK_COMPILER, "build_type", QK_BUILD_TYPE,
        "git_commit", QK_GIT_COMMIT, "seconds_per_measurement", seconds);
    free(model);
    return c;
}

static void *map_buffer(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* fewer TLB misses; best effort */
#endif
    return p;
}

int qk_roofline_write_json(const char *path, json_t *doc, int replace, qk_error *err) {
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    if (!text) return qk_fail(err, "%s: cannot serialise the figures (out of memory)", path);
    const int rc = qk_write_file(path, text, strlen(text), replace, err);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ the measurement */

static void row(const qk_roofline_options *o, qk_roofline_row r) {
    if (o->on_row) o->on_row(o->ctx, &r);
}

int qk_roofline_measure(const qk_roofline_options *o, json_t **out, qk_error *err) {
    *out = NULL;
    if (o->n_threads < 1) return qk_fail(err, "roofline: no thread count given");
    qk_topology *topo = NULL;
    if (qk_topology_open(&topo, err)) return -1;
    const qk_topology_info *ti = qk_topology_get_info(topo);
    const double seconds = o->seconds;
    int *threads = malloc((size_t)o->n_threads * sizeof *threads), n_threads = 0;
    if (!threads) {
        qk_topology_close(topo);
        return qk_fail(err, "out of memory");
    }
    for (int i = 0; i < o->n_threads; i++) { /* 0 = all usable cores; each count once */
        const int t = o->threads[i] > 0 ? o->threads[i] : ti->usable_cores;
        if (t > ti->usable_pus) { /* threads taking turns on a PU measure no ceiling */
            qk_fail(err,
                    "--threads %d: this machine has %d usable PUs (%d cores): a ceiling measured "
                    "with more threads than PUs would be reported for a machine that is not this "
                    "one",
                    t, ti->usable_pus, ti->usable_cores);
            free(threads);
            qk_topology_close(topo);
            return 1;
        }
        int dup = 0;
        for (int j = 0; j < n_threads; j++) dup |= threads[j] == t;
        if (!dup) threads[n_threads++] = t;
    }
    int max_threads = 1;
    for (int i = 0; i < n_threads; i++)
        if (threads[i] > max_threads) max_threads = threads[i];

    for (int i = 0; i < 64; i++) {
        scalar_w[i] = (int8_t)(i * 37 - 100);
        scalar_x[i] = (int8_t)(90 - i * 13);
    }
    const int use_avx2 = (qk_cpu_isa_bits() & QK_ISA_AVX2) != 0;
    peak_kernel kern[8];
    const int n_kern = detect_peaks(kern);

    /* the small buffer: half of one core's L2 (at most 256 KiB), a multiple of 4 KiB */
    size_t small = 256 << 10;
    if (ti->cache[1].size && ti->cache[1].size / 2 < small) small = ti->cache[1].size / 2;
    small = small / 4096 * 4096;
    if (small < 16384) small = 16384;
    const size_t small_stride = small + 4096; /* offset workers' buffers by a page */
    size_t dram = DRAM_BYTES;
    char *big = map_buffer(dram);
    if (!big) { /* a small machine: fall back to 256 MiB, still far beyond any L3 here */
        dram = (size_t)256 << 20;
        big = map_buffer(dram);
    }
    char *smallbuf = map_buffer(small_stride * (size_t)max_threads);
    json_t *bw = json_array(), *peaks = json_array(), *skipped = json_array();
    int rc = -1;
    if (!big || !smallbuf || !bw || !peaks || !skipped) {
        qk_fail(err, "out of memory (buffers of %zu MiB)", dram >> 20);
        goto done;
    }
    if (o->on_start) {
        char *model = cpu_model();
        const qk_roofline_setup su = {model ? model : "unknown CPU", ti->cores, ti->usable_cores,
                                      seconds, use_avx2};
        o->on_start(o->ctx, &su);
        free(model);
    }

    /* first touch of the big buffer, once (it is shared by every thread count) */
    {
        qk_pool *pool = qk_pool_create(1, topo, QK_BIND_COMPACT, err);
        if (!pool) goto done;
        job touch = {JOB_TOUCH, big, dram, 0, 0, 0, NULL};
        time_job(pool, &touch);
        qk_pool_destroy(pool);
    }

    for (int ti_i = 0; ti_i < n_threads; ti_i++) {
        const int nt = threads[ti_i];
        qk_pool *pool = qk_pool_create(nt, topo, QK_BIND_COMPACT, err);
        if (!pool) goto done;
        int reps;
        /* DRAM: the whole buffer split in nt slices (multiples of 4 KiB), one pass per rep */
        size_t slice = dram / (size_t)nt / 4096 * 4096;
        job rd = {JOB_READ, big, slice, slice, 1, use_avx2, NULL};
        double t = best_time(pool, &rd, 0.0, 1, seconds, &reps);
        double gbps = (double)slice * nt / t / 1e9;
        row(o, (qk_roofline_row){"read bandwidth (DRAM)", nt, slice * (size_t)nt, 0, gbps, "GB/s",
                                 reps});
        json_array_append_new(bw, json_pack("{s:i, s:I, s:f, s:s, s:i}", "threads", nt, "bytes",
                                            (json_int_t)(slice * (size_t)nt), "gbps", gbps,
                                            "working_set", "dram", "repetitions", reps));
        /* L2: a private buffer per thread, first touched by that thread, many passes per rep */
        job touch = {JOB_TOUCH, smallbuf, small, small_stride, 0, 0, NULL};
        time_job(pool, &touch);
        job rs = {JOB_READ, smallbuf, small, small_stride, 16, use_avx2, NULL};
        t = best_time(pool, &rs, seconds / 10 < 0.01 ? seconds / 10 : 0.01, 1L << 30, seconds,
                      &reps);
        gbps = (double)small * nt * rs.passes / t / 1e9;
        row(o, (qk_roofline_row){"read bandwidth (L2)", nt, small, 1, gbps, "GB/s", reps});
        json_array_append_new(bw, json_pack("{s:i, s:I, s:f, s:s, s:i}", "threads", nt, "bytes",
                                            (json_int_t)(small * (size_t)nt), "gbps", gbps,
                                            "working_set", "l2", "repetitions", reps));
        /* int8 peaks */
        for (int k = 0; k < n_kern; k++) {
            if (kern[k].why) continue;
            job mj = {JOB_MACS, NULL, 0, 0, 1000, 0, kern[k].fn};
            t = best_time(pool, &mj, seconds / 10 < 0.01 ? seconds / 10 : 0.01, 1L << 40, seconds,
                          &reps);
            const double gops = 2.0 * kern[k].macs_per_iter * (double)mj.passes * nt / t / 1e9;
            char desc[64];
            snprintf(desc, sizeof desc, "int8 %s: %s", kern[k].isa, kern[k].instruction);
            row(o, (qk_roofline_row){desc, nt, 0, 0, gops, "GOPS", reps});
            json_array_append_new(peaks, json_pack("{s:s, s:s, s:i, s:f, s:i}", "isa", kern[k].isa,
                                                   "instruction", kern[k].instruction, "threads",
                                                   nt, "gops", gops, "repetitions", reps));
        }
        qk_pool_destroy(pool);
    }
    for (int k = 0; k < n_kern; k++) {
        if (!kern[k].why) continue;
        json_array_append_new(skipped,
                              json_pack("{s:s, s:s, s:s}", "isa", kern[k].isa, "instruction",
                                        kern[k].instruction, "why", kern[k].why));
    }
    json_t *settings = json_pack("{s:f, s:I, s:I, s:s}", "seconds", seconds, "dram_bytes",
                                 (json_int_t)dram, "l2_bytes_per_thread", (json_int_t)small,
                                 "read_loads", use_avx2 ? "avx2 256-bit" : "sse2 128-bit");
    *out =
        json_pack("{s:{s:o, s:O, s:O, s:O, s:o}}", "roofline", "context", context_json(ti, seconds),
                  "bandwidth", bw, "peaks", peaks, "skipped", skipped, "settings", settings);
    rc = *out ? 0 : qk_fail(err, "out of memory");
done:
    if (big) munmap(big, dram);
    if (smallbuf) munmap(smallbuf, small_stride * (size_t)max_threads);
    json_decref(bw);
    json_decref(peaks);
    json_decref(skipped);
    free(threads);
    qk_topology_close(topo);
    return rc;
}
