/* qkbench roofline: arguments, the table on stdout and the JSON file around qk_roofline_measure.
 */
#define _GNU_SOURCE /* strtok_r, strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/output_file.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/microbench/roofline.h"

static const char usage[] =
    "usage: qkbench roofline [--threads LIST] [--seconds S] [--json FILE [--force]]\n"
    "\n"
    "Measures this machine's ceilings for the roofline analysis of `qkbench report`, per thread\n"
    "count (threads pinned compact, one per core first):\n"
    "  - read bandwidth: a 1 GiB buffer (DRAM) and a small buffer per thread (half the L2, at\n"
    "    most 256 KiB), summed with wide loads in 8 independent streams per thread;\n"
    "  - int8 multiply-accumulate peaks: scalar C, AVX2 vpmaddubsw+vpmaddwd+vpaddd (ymm), and\n"
    "    when the CPU has them AVX512BW vpmaddubsw (zmm), vpdpbusd ymm (AVX-VNNI) and vpdpbusd\n"
    "    zmm (AVX512-VNNI); 12 independent accumulator chains; 1 MAC = 2 ops.\n"
    "Each figure is the best repetition within S seconds. Skipped ISAs are listed with the "
    "reason.\n"
    "\n"
    "  --threads LIST  thread counts, integers or 'all' (usable cores); default 1,all; a count\n"
    "                  above the usable PUs is refused (threads taking turns measure no ceiling)\n"
    "  --seconds S     time spent per measurement, 0.01..60 (default 0.2)\n"
    "  --json FILE     also write the figures as JSON (read by qkbench report --roofline); an\n"
    "                  existing FILE is refused before anything is measured\n"
    "  --force         replace an existing FILE (written to a temporary file, then renamed)\n"
    "  --help          this text\n"
    "\n"
    "Exit code: 0; 1 on a run-time failure (memory, threads, writing FILE); 2 on a usage error\n"
    "or bad input (FILE exists, too many threads), before anything is measured.\n";

/* "1,all" -> {1, 0}: 0 stands for every usable core (the library resolves it). */
static int parse_threads(const char *s, int **out, int *n, qk_error *err) {
    int cap = 8, count = 0;
    int *v = malloc((size_t)cap * sizeof *v);
    char *copy = strdup(s);
    if (!v || !copy) {
        free(v), free(copy);
        return qk_fail(err, "out of memory");
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        long t = 0;
        if (strcmp(tok, "all") && qk_parse_int(tok, "--threads", 1, 1024, &t, err)) {
            free(v), free(copy);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < count; i++) dup |= v[i] == (int)t;
        if (dup) continue;
        if (count == cap) {
            int *nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) {
                free(v), free(copy);
                return qk_fail(err, "out of memory");
            }
            v = nv;
        }
        v[count++] = (int)t;
    }
    free(copy);
    if (count == 0) {
        free(v);
        return qk_fail(err, "--threads: empty list '%s'", s);
    }
    *out = v;
    *n = count;
    return 0;
}

static const char *fmt_bytes(size_t b, char *buf, size_t size) {
    if (b >= (1u << 30) && b % (1u << 30) == 0)
        snprintf(buf, size, "%zu GiB", b >> 30);
    else if (b >= (1u << 20))
        snprintf(buf, size, "%.0f MiB", b / 1048576.0);
    else
        snprintf(buf, size, "%zu KiB", b >> 10);
    return buf;
}

static void on_start(void *ctx, const qk_roofline_setup *s) {
    (void)ctx;
    printf("qkbench roofline: %s, %d cores (%d usable), %.2f s per measurement, best repetition\n",
           s->cpu_model, s->cores, s->usable_cores, s->seconds);
    printf("read loop: %s loads, 8 streams per thread\n\n",
           s->avx2_loads ? "256-bit (AVX2)" : "128-bit (SSE2)");
    printf("| %-48s | %7s | %-22s | %12s | %4s |\n", "measurement", "threads", "working set",
           "result", "reps");
    printf("|--------------------------------------------------|---------|------------------------|"
           "--------------|------|\n");
    fflush(stdout);
}

static void on_row(void *ctx, const qk_roofline_row *r) {
    (void)ctx;
    char ws[48], b[32], res[32];
    if (!r->bytes)
        snprintf(ws, sizeof ws, "registers");
    else if (r->per_thread)
        snprintf(ws, sizeof ws, "%s per thread", fmt_bytes(r->bytes, b, sizeof b));
    else
        snprintf(ws, sizeof ws, "%s", fmt_bytes(r->bytes, b, sizeof b));
    snprintf(res, sizeof res, "%.1f %s", r->value, r->unit);
    printf("| %-48.48s | %7d | %-22s | %12s | %4d |\n", r->what, r->threads, ws, res,
           r->repetitions);
    fflush(stdout);
}

int qk_cmd_roofline(int argc, char **argv) {
    const char *threads_arg = "1,all", *json_path = NULL;
    int force = 0;
    double seconds = 0.2;
    qk_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (!strcmp(a, "--threads") || !strcmp(a, "--seconds") || !strcmp(a, "--json")) {
            if (i + 1 == argc) {
                fprintf(stderr, "qkbench roofline: %s needs a value (see --help)\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--threads"))
                threads_arg = v;
            else if (!strcmp(a, "--json"))
                json_path = v;
            else {
                char *end;
                seconds = strtod(v, &end);
                if (end == v || *end || !(seconds >= 0.01 && seconds <= 60)) {
                    fprintf(stderr, "qkbench roofline: --seconds: '%s' is not in 0.01..60\n", v);
                    return 2;
                }
            }
        } else {
            fprintf(stderr, "qkbench roofline: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    int *threads = NULL, n_threads = 0;
    if (parse_threads(threads_arg, &threads, &n_threads, &err))
        return qk_cli_error("roofline", 2, &err);
    if (json_path && !force && qk_refuse_existing(json_path, &err)) {
        free(threads);
        return qk_cli_error("roofline", 2, &err);
    }
    const qk_roofline_options o = {threads, n_threads, seconds, on_start, on_row, NULL};
    json_t *doc = NULL;
    const int mrc = qk_roofline_measure(&o, &doc, &err);
    free(threads);
    if (mrc) return qk_cli_error("roofline", mrc > 0 ? 2 : 1, &err);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(json_object_get(doc, "roofline"), "skipped"), i, s) {
        if (i == 0) printf("\nskipped:\n");
        printf("  %s (%s): %s\n", json_string_value(json_object_get(s, "isa")),
               json_string_value(json_object_get(s, "instruction")),
               json_string_value(json_object_get(s, "why")));
    }
    int rc = 0;
    if (json_path) {
        if (qk_roofline_write_json(json_path, doc, force, &err))
            rc = qk_cli_error("roofline", 1, &err);
        else
            printf("\nwrote %s\n", json_path);
    }
    json_decref(doc);
    return rc;
}
