#include "report/compare.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/measure.h"
#include "harness/results.h"

#define SEED 0x5eedull

static const char usage[] =
    "usage: qkbench compare A.json B.json [--filter REGEX]\n"
    "\n"
    "Matches the benchmarks of two qkbench result files by name and prints, for each, the median\n"
    "time of A and of B (ms) with 95% bootstrap intervals, and the ratio B/A with its interval\n"
    "(< 1: B is faster). The ratio is paired (median of per-repetition ratios) when both sides "
    "have\n"
    "the same number of repetitions, else the ratio of medians with each side resampled on its\n"
    "own. Last line: the geometric mean of the ratios.\n"
    "\n"
    "  --filter REGEX  only names matching this POSIX extended regular expression\n"
    "  --help          this text\n"
    "\n"
    "Exit code: 0, or 2 on a usage error, an unreadable file, or no benchmark in common.\n";

/* Per-repetition real times (ms) of one benchmark name. */
typedef struct {
    const char *name; /* borrowed from the loaded document */
    double *t;
    int n, cap;
} series;

typedef struct {
    json_t *doc;
    series *s;
    int n;
} run_times;

static double to_ms(double v, const char *unit) {
    if (!unit || !strcmp(unit, "ms")) return v;
    if (!strcmp(unit, "ns")) return v * 1e-6;
    if (!strcmp(unit, "us")) return v * 1e-3;
    if (!strcmp(unit, "s")) return v * 1e3;
    return NAN;
}

static series *find_series(run_times *rt, const char *name) {
    for (int i = 0; i < rt->n; i++)
        if (!strcmp(rt->s[i].name, name)) return &rt->s[i];
    return NULL;
}

static void free_times(run_times *rt) {
    for (int i = 0; i < rt->n; i++) free(rt->s[i].t);
    free(rt->s);
    json_decref(rt->doc);
}

/* Groups the per-repetition records by name; -1 (message printed) on a malformed record. */
static int collect(const char *path, run_times *rt) {
    json_t *benchmarks = json_object_get(rt->doc, "benchmarks");
    size_t nb = json_array_size(benchmarks), i;
    rt->s = calloc(nb + 1, sizeof *rt->s);
    if (!rt->s) return fprintf(stderr, "qkbench compare: out of memory\n"), -1;
    json_t *b;
    json_array_foreach(benchmarks, i, b) {
        const char *type = json_string_value(json_object_get(b, "run_type"));
        const char *name = json_string_value(json_object_get(b, "name"));
        if (!type || strcmp(type, "iteration") ||
            json_is_true(json_object_get(b, "error_occurred")))
            continue;
        json_t *rt_v = json_object_get(b, "real_time");
        double ms =
            to_ms(json_number_value(rt_v), json_string_value(json_object_get(b, "time_unit")));
        if (!name || !json_is_number(rt_v) || !isfinite(ms)) {
            fprintf(stderr,
                    "qkbench compare: %s: benchmarks[%zu]: no name, real_time or known "
                    "time_unit\n",
                    path, i);
            return -1;
        }
        series *s = find_series(rt, name);
        if (!s) {
            s = &rt->s[rt->n++];
            s->name = name;
        }
        if (s->n == s->cap) {
            int cap = s->cap ? 2 * s->cap : 16;
            double *t = realloc(s->t, sizeof(double) * (size_t)cap);
            if (!t) return fprintf(stderr, "qkbench compare: out of memory\n"), -1;
            s->t = t, s->cap = cap;
        }
        s->t[s->n++] = ms;
    }
    return 0;
}

static void describe(const char *label, const char *path, json_t *doc) {
    json_t *c = json_object_get(doc, "context");
    const char *host = json_string_value(json_object_get(c, "host_name"));
    const char *cpu = json_string_value(json_object_get(c, "cpu_model"));
    const char *date = json_string_value(json_object_get(c, "date"));
    const char *commit = json_string_value(json_object_get(c, "git_commit"));
    printf("%s: %s (%s, %s, %s, commit %s)%s\n", label, path, host ? host : "?", cpu ? cpu : "?",
           date ? date : "?", commit ? commit : "?",
           json_is_false(json_object_get(doc, "complete")) ? " INCOMPLETE (interrupted run)" : "");
}

static void fmt_ci(char *buf, size_t size, double m, double lo, double hi) {
    snprintf(buf, size, "%.4g [%.4g, %.4g]", m, lo, hi);
}

int qk_cmd_compare(int argc, char **argv) {
    const char *paths[2] = {NULL, NULL}, *filter = NULL;
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--filter")) {
            if (++i == argc) {
                fprintf(stderr, "qkbench compare: --filter needs a regular expression\n");
                return 2;
            }
            filter = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "qkbench compare: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (np < 2) {
            paths[np++] = argv[i];
        } else {
            fprintf(stderr, "qkbench compare: expected two result files, got more ('%s')\n",
                    argv[i]);
            return 2;
        }
    }
    if (np != 2) {
        fprintf(stderr, "qkbench compare: expected two result files\n%s", usage);
        return 2;
    }
    regex_t re;
    if (filter && regcomp(&re, filter, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "qkbench compare: --filter: invalid regular expression '%s'\n", filter);
        return 2;
    }

    int rc = 2;
    run_times rt[2] = {{0}, {0}};
    for (int k = 0; k < 2; k++) {
        qk_error err;
        if (qk_results_load(paths[k], &rt[k].doc, &err)) {
            fprintf(stderr, "qkbench compare: %s\n", err.msg);
            goto done;
        }
        if (collect(paths[k], &rt[k])) goto done;
    }

    int width = 9; /* "benchmark" */
    for (int i = 0; i < rt[0].n; i++) {
        int l = (int)strlen(rt[0].s[i].name);
        if (find_series(&rt[1], rt[0].s[i].name) && l > width) width = l;
    }
    describe("A", paths[0], rt[0].doc);
    describe("B", paths[1], rt[1].doc);
    printf("\n%-*s  %-28s  %-28s  %s\n", width, "benchmark", "A median ms [95% CI]",
           "B median ms [95% CI]", "B/A [95% CI]");

    double log_sum = 0;
    int matched = 0, only_a = 0, significant = 0;
    for (int i = 0; i < rt[0].n; i++) {
        series *a = &rt[0].s[i], *b = find_series(&rt[1], a->name);
        if (filter && regexec(&re, a->name, 0, NULL, 0) != 0) continue;
        if (!b) {
            only_a++;
            continue;
        }
        qk_stats sa, sb, ratio;
        double r, lo, hi;
        int paired = a->n == b->n;
        if (qk_stats_compute(a->t, a->n, SEED, &sa) || qk_stats_compute(b->t, b->n, SEED, &sb)) {
            fprintf(stderr, "qkbench compare: %s: unusable times\n", a->name);
            goto done;
        }
        if (paired && qk_ratio_compute(b->t, a->t, a->n, SEED, &ratio) == 0) {
            r = ratio.median, lo = ratio.ci_lo, hi = ratio.ci_hi;
        } else if (qk_ratio_unpaired(b->t, b->n, a->t, a->n, SEED, &r, &lo, &hi) == 0) {
            paired = 0;
        } else {
            fprintf(stderr, "qkbench compare: %s: a time is zero or negative\n", a->name);
            goto done;
        }
        char ca[64], cb[64], cr[64];
        fmt_ci(ca, sizeof ca, sa.median, sa.ci_lo, sa.ci_hi);
        fmt_ci(cb, sizeof cb, sb.median, sb.ci_lo, sb.ci_hi);
        snprintf(cr, sizeof cr, "%.3f [%.3f, %.3f]", r, lo, hi);
        int sig = lo > 1 || hi < 1;
        significant += sig;
        printf("%-*s  %-28s  %-28s  %-24s %s%s%s\n", width, a->name, ca, cb, cr,
               paired ? "paired" : "unpaired", sig ? (r < 1 ? " faster" : " slower") : "",
               qk_is_noisy(&sa, 0.05) || qk_is_noisy(&sb, 0.05) ? " noisy" : "");
        log_sum += log(r);
        matched++;
    }
    int only_b = 0;
    for (int i = 0; i < rt[1].n; i++)
        if (!find_series(&rt[0], rt[1].s[i].name) &&
            (!filter || regexec(&re, rt[1].s[i].name, 0, NULL, 0) == 0))
            only_b++;
    if (!matched) {
        fprintf(stderr, "qkbench compare: no benchmark name in common between %s and %s%s\n",
                paths[0], paths[1], filter ? " (after --filter)" : "");
        goto done;
    }
    printf("\ngeomean B/A over %d benchmarks: %.3f; %d with an interval excluding 1\n", matched,
           exp(log_sum / matched), significant);
    if (only_a || only_b) printf("not compared: %d only in A, %d only in B\n", only_a, only_b);
    printf("faster/slower: the 95%% interval of B/A excludes 1; noisy: CV above 5%% on a side\n");
    rc = 0;
done:
    for (int k = 0; k < 2; k++) free_times(&rt[k]);
    if (filter) regfree(&re);
    return rc;
}
