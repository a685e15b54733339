/* `qkbench compare A.json B.json [--filter REGEX]`: the command over report/compare.h: arguments,
 * the table on stdout, errors on stderr, exit codes. */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "report/compare.h"

static const char usage[] =
    "usage: qkbench compare A.json B.json [--filter REGEX]\n"
    "\n"
    "Matches the benchmarks of two qkbench result files by name and prints, for each, the median\n"
    "time of A and of B (ms) with 95% bootstrap intervals, and the ratio B/A with its interval\n"
    "(< 1: B is faster). The ratio is paired (median of per-repetition ratios) when both sides "
    "have\n"
    "the same number of repetitions, else the ratio of medians with each side resampled on its\n"
    "own. Whether B differs from A beyond the noise (faster, slower or same) is a Mann-Whitney\n"
    "U test at p < 0.05, as Google Benchmark's compare.py does: over the sittings' medians when\n"
    "both files have two or more sittings (qkbench run --sittings), else over the repetitions.\n"
    "Last line: the geometric mean of the ratios.\n"
    "\n"
    "  --filter REGEX  only names matching this POSIX extended regular expression\n"
    "  --help          this text\n"
    "\n"
    "Exit code: 0, or 2 on a usage error, an unreadable file, or no benchmark in common.\n";

static int matches(const char *name, void *re) {
    return regexec(re, name, 0, NULL, 0) == 0;
}

static void describe(const char *label, const qk_compare_file *f) {
    printf("%s: %s (%s, %s, %s, commit %s)%s\n", label, f->path, f->host ? f->host : "?",
           f->cpu ? f->cpu : "?", f->date ? f->date : "?", f->commit ? f->commit : "?",
           f->incomplete ? " INCOMPLETE (interrupted run)" : "");
}

static void fmt_ci(char *buf, size_t size, double m, double lo, double hi) {
    snprintf(buf, size, "%.4g [%.4g, %.4g]", m, lo, hi);
}

/* The table: a row per benchmark in both files (printed even when a later one fails). */
static void print_rows(const qk_compare_result *r) {
    int width = 9; /* "benchmark" */
    const qk_compare_file *a = &r->file[0], *b = &r->file[1];
    for (int i = 0; i < a->n_names; i++) {
        int l = (int)strlen(a->names[i]), in_b = 0;
        for (int j = 0; j < b->n_names && !in_b; j++) in_b = !strcmp(a->names[i], b->names[j]);
        if (in_b && l > width) width = l;
    }
    describe("A", a);
    describe("B", b);
    if (*r->cpu_note) printf("note: %s: the ratios compare two machines\n", r->cpu_note);
    printf("\n%-*s  %-28s  %-28s  %s\n", width, "benchmark", "A median ms [95% CI]",
           "B median ms [95% CI]", "B/A [95% CI]");
    for (int i = 0; i < r->n_rows; i++) {
        const qk_compare_row *x = &r->rows[i];
        char ca[64], cb[64], cr[64];
        fmt_ci(ca, sizeof ca, x->stats_a.median, x->stats_a.ci_lo, x->stats_a.ci_hi);
        fmt_ci(cb, sizeof cb, x->stats_b.median, x->stats_b.ci_lo, x->stats_b.ci_hi);
        snprintf(cr, sizeof cr, "%.3f [%.3f, %.3f]", x->ratio, x->lo, x->hi);
        char rank[96];
        const char *over = x->rank_over_sittings ? "sittings" : "reps";
        if (x->too_few)
            snprintf(rank, sizeof rank, "U p=%.3g (%d/%d %s: too few to tell)", x->rank.p,
                     x->rank_over_sittings ? x->sittings_a : x->n_a,
                     x->rank_over_sittings ? x->sittings_b : x->n_b, over);
        else
            snprintf(rank, sizeof rank, "U p=%.3g (%d/%d %s)", x->rank.p,
                     x->rank_over_sittings ? x->sittings_a : x->n_a,
                     x->rank_over_sittings ? x->sittings_b : x->n_b, over);
        printf("%-*s  %-28s  %-28s  %-24s %s%s%s  %s\n", width, x->name, ca, cb, cr,
               x->paired ? "paired" : "unpaired",
               x->differs ? (x->ratio < 1 ? " faster" : " slower") : " same",
               x->noisy ? " noisy" : "", rank);
    }
}

/* argv[0] is the command name ("compare"); options: --filter REGEX (POSIX extended, on names),
 * --help. Returns the exit code: 0, or 2 on a usage error, an unreadable file, or no benchmark in
 * common. */
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
    qk_compare_result r;
    qk_error err = {{0}};
    const int failed = qk_compare_files(paths[0], paths[1], filter ? matches : NULL,
                                        filter ? &re : NULL, &r, &err);
    if (r.loaded) print_rows(&r);
    if (failed) {
        rc = qk_cli_error("compare", 2, &err);
    } else if (!r.n_rows) {
        fprintf(stderr, "qkbench compare: no benchmark name in common between %s and %s%s\n",
                paths[0], paths[1], filter ? " (after --filter)" : "");
    } else {
        printf("\ngeomean B/A over %d benchmarks: %.3f; %d with an interval excluding 1; %d differ "
               "beyond the noise\n",
               r.n_rows, r.geomean, r.n_significant, r.n_differ);
        if (r.only_a || r.only_b)
            printf("not compared: %d only in A, %d only in B\n", r.only_a, r.only_b);
        printf("faster/slower/same: a Mann-Whitney U test of B against A at p < %.2f, over the "
               "sittings' medians\nwhen both files have two or more sittings, else over the "
               "repetitions; noisy: CV above 5%% on a side\n",
               QK_COMPARE_ALPHA);
        rc = 0;
    }
    qk_compare_free(&r);
    if (filter) regfree(&re);
    return rc;
}
