/* Two results files side by side (`qkbench compare`, harness/cli/cmd_compare.c, prints it).
 *
 * Benchmarks are matched by name (per-repetition records; skipped configurations are ignored). For
 * each name in both files: the median time of A and of B with their 95% bootstrap intervals, and
 * the ratio B/A with its interval: paired (median of per-repetition ratios) when both sides have
 * the same number of repetitions, else the ratio of the medians with each side resampled on its
 * own. Whether B differs from A beyond the noise is a Mann-Whitney U test (as Google Benchmark's
 * compare.py does over repetitions): over the sittings' medians when both files have two or more
 * sittings, else over the repetitions. Then the geometric mean of the ratios. A library: it returns
 * a status, fills a qk_error and prints nothing. */
#ifndef QK_REPORT_COMPARE_H
#define QK_REPORT_COMPARE_H

#include "common/error.h"
#include "harness/measure.h"
#include "harness/rank_test.h"

#define QK_COMPARE_ALPHA  0.05    /* the rank test's level: "differs beyond the noise" below it */
#define QK_COMPARE_MAX_MS 86400e3 /* a repetition longer than a day is not a measurement */

/* One of the two results files. Strings are borrowed from the loaded document (NULL when the
 * context lacks them) and live until qk_compare_free. */
typedef struct {
    const char *path;
    const char *host, *cpu, *date, *commit;
    int incomplete;     /* "complete": false (an interrupted run) */
    const char **names; /* every benchmark name with per-repetition times, in file order */
    int n_names;
} qk_compare_file;

/* One benchmark of both files. A further statistic (a rank test over the repetitions, say) is a
 * field here, computed in compare.c from a and b, and a column in the command. */
typedef struct {
    const char *name;
    const double *a, *b; /* per-repetition real times (ms) of A and of B */
    int n_a, n_b;
    qk_stats stats_a, stats_b;  /* median, 95% interval, CV of each side */
    double ratio, lo, hi;       /* B/A and its 95% interval */
    int paired;                 /* from pairs of repetitions (else each side resampled alone) */
    int significant;            /* the interval excludes 1 */
    int noisy;                  /* CV above 5% on a side */
    int sittings_a, sittings_b; /* sittings with repetitions on each side (1 without sittings) */
    int rank_over_sittings;     /* the U test ran over sittings' medians (else repetitions) */
    qk_rank_test rank;          /* U of B against A, its two-sided p */
    int differs;                /* rank.p < QK_COMPARE_ALPHA */
    int too_few; /* these sample sizes cannot reach QK_COMPARE_ALPHA (rank.p_floor above it) */
} qk_compare_row;

typedef struct {
    qk_compare_file file[2]; /* A, B */
    int loaded;              /* both files were read: file[] is valid (even on a later failure) */
    char cpu_note[600];      /* "" or why A and B are not the same CPU (compared all the same) */
    qk_compare_row *rows;    /* the selected names of A found in B, in A's order */
    int n_rows;              /* 0: no benchmark in common (not an error here) */
    int only_a, only_b;      /* selected names in one file only */
    int n_significant;       /* rows whose interval excludes 1 */
    int n_differ;            /* rows whose rank test says B differs from A */
    double geomean;          /* of the rows' ratios; NAN without rows */
    struct qk_compare_data *data; /* owned: the documents and times the fields point into */
} qk_compare_result;

/* Compares path_a with path_b; select (may be NULL: every name) keeps the names it returns
 * non-zero for. 0, or -1 with err set: a file that cannot be read or has a record without name,
 * time or known unit, or files of two builds (one sanitized, or another build type) (out->loaded
 * 0), a benchmark whose times cannot be compared (out->loaded 1,
 * out->rows the rows before it). qk_compare_free(out) either way. */
int qk_compare_files(const char *path_a, const char *path_b,
                     int (*select)(const char *name, void *arg), void *arg, qk_compare_result *out,
                     qk_error *err);
void qk_compare_free(qk_compare_result *r);

#endif
