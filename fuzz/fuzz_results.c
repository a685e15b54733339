/* libFuzzer target: reading results files (qk_results_load) and what `qkbench compare` and
 * `qkbench report` do with them.
 *
 * The input is written to a memfd and loaded by path, as the commands do. A document the loader
 * accepts is walked (every benchmark record's fields the readers use), then qk_compare_files runs
 * with the file as both A and B, and again with a selection, which exercises the grouping by name,
 * the unit conversion and the statistics on whatever numbers the file holds. Then
 * qk_report_generate runs on it: once as a results file, once as results plus roofline file (a
 * document can be both), writing into a folder in /dev/shm, with an empty scripts folder so no
 * gnuplot starts. The report may print: fuzz/results.options gives this target -close_fd_mask=3
 * (libFuzzer and the sanitizers keep their own stderr; the invariant checks write there too). */
#define _GNU_SOURCE /* memfd_create */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report/compare.h"
#include "harness/results.h"
#include "report/report.h"

#define COMPARE_MAX_BYTES (64u << 10) /* compare bootstraps every series: keep executions fast */

static volatile uint64_t sink;
static int memfd = -1;
static int err_fd = 2; /* the real stderr, kept before -close_fd_mask discards fd 2 */

/* libFuzzer calls this before it acts on -close_fd_mask. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    int fd = dup(2);
    if (fd >= 0) err_fd = fd;
    return 0;
}

static void check(int cond, const char *what) {
    if (!cond) {
        dprintf(err_fd, "fuzz_results: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void walk(json_t *doc) {
    check(json_is_object(doc), "document is an object");
    check(json_is_array(json_object_get(doc, "benchmarks")), "benchmarks is an array");
    check(json_is_boolean(json_object_get(doc, "complete")), "complete is a boolean");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *type = json_string_value(json_object_get(b, "run_type"));
        sink += (name ? strlen(name) : 0) + (type ? strlen(type) : 0);
        sink += (uint64_t)(json_number_value(json_object_get(b, "real_time")) > 0);
    }
}

static char out_dir[64], scripts_dir[64];

static void remove_dirs(void) { /* at exit: the report's files, then both folders */
    DIR *d = opendir(out_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", out_dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
    rmdir(out_dir);
    rmdir(scripts_dir);
}

static void report(const char *path) {
    if (!out_dir[0]) {
        snprintf(out_dir, sizeof out_dir, "/dev/shm/qk-fuzz-report-XXXXXX");
        snprintf(scripts_dir, sizeof scripts_dir, "/dev/shm/qk-fuzz-scripts-XXXXXX");
        if (!mkdtemp(out_dir) || !mkdtemp(scripts_dir)) {
            out_dir[0] = 0;
            return;
        }
        atexit(remove_dirs);
    }
    const char *const files[2] = {path, path};
    for (int with_roofline = 0; with_roofline < 2; with_roofline++) {
        qk_report_options o = {files,   1 + with_roofline, files, with_roofline,
                               out_dir, scripts_dir,       NULL,  NULL};
        qk_report_outcome res;
        qk_error err;
        if (qk_report_generate(&o, &res, &err) == 0) {
            check(res.n_plots >= 0 && res.n_plots <= QK_REPORT_MAX_PLOTS, "plot count");
            check(memchr(res.report_path, 0, sizeof res.report_path) != NULL, "report path");
        } else {
            size_t n = strnlen(err.msg, sizeof err.msg);
            check(n > 0 && n < sizeof err.msg, "report error message");
        }
    }
}

static int select_some(const char *name, void *arg) {
    (void)arg;
    return strstr(name, "zero") != NULL || strstr(name, "seq:1") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memfd < 0) memfd = memfd_create("fuzz_results", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, 0) != 0) return 0;
    if (size && pwrite(memfd, data, size, 0) != (ssize_t)size) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    json_t *doc = NULL;
    qk_error err;
    if (qk_results_load(path, &doc, &err)) {
        size_t n = strnlen(err.msg, sizeof err.msg);
        check(n > 0 && n < sizeof err.msg, "error message empty or not terminated");
        check(doc == NULL, "no document on failure");
        return 0;
    }
    walk(doc);
    json_decref(doc);
    if (size > COMPARE_MAX_BYTES) return 0;
    for (int pass = 0; pass < 2; pass++) { /* every name, then a selection */
        qk_compare_result r;
        const int rc = qk_compare_files(path, path, pass ? select_some : NULL, NULL, &r, &err);
        check(rc == 0 || (strnlen(err.msg, sizeof err.msg) > 0), "compare: a refusal says why");
        for (int i = 0; rc == 0 && i < r.n_rows; i++)
            check(r.rows[i].ratio > 0 && isfinite(r.rows[i].ratio) && r.rows[i].rank.p >= 0 &&
                      r.rows[i].rank.p <= 1,
                  "compare: a row of one file against itself is a finite positive ratio");
        qk_compare_free(&r);
    }
    report(path);
    return 0;
}
