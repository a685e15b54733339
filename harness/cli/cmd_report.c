/* `qkbench report RESULTS.json... [--roofline ROOFLINE.json]... [-o DIR]`: the command over the
 * report generator (report/report.h): arguments, the progress lines and the summary on the
 * terminal, exit codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "report/report.h"

static const char usage[] =
    "usage: qkbench report RESULTS.json... [--roofline ROOFLINE.json]... [-o DIR]\n"
    "\n"
    "Writes DIR/REPORT.md (default DIR: report/out): the seed story's tables filled with the\n"
    "measured numbers (the machine, the ladder parse-per-block -> precached-scales -> zero-copy\n"
    "plus alloc-copy, Amdahl measured, memory, accuracy, per-operation breakdown, thread scaling,\n"
    "sequence length, roofline, the kernels beyond the story, the llama.cpp peer with a row per\n"
    "mode (in-process, own process; the summary quotes the own-process one when measured), Across\n"
    "sittings (results of run --sittings K: two-level intervals, the sittings' range, stable or\n"
    "not)) and plots (PNG + SVG) drawn by the gnuplot scripts report/*.gp\n"
    "(folder: $QK_REPORT_SCRIPTS, else the source tree's report/). Result files from one CPU are\n"
    "merged; several CPUs give a column (or group of rows) each. A section whose data the results\n"
    "lack says what to run. Without gnuplot the tables are still written.\n"
    "\n"
    "  --roofline FILE  ceilings measured by `qkbench roofline --json FILE` (repeatable: matched\n"
    "                   to results by CPU model and host)\n"
    "  -o, --output DIR output folder (created if missing)\n"
    "  --help           this text\n"
    "\n"
    "Exit code: 0 when REPORT.md was written (plots may be missing: see the report), 1 when\n"
    "nothing could be written, 2 on a usage error or an unreadable input.\n";

/* a plot takes a while: say which script runs */
static void progress(const char *script, void *arg) {
    (void)arg;
    fprintf(stderr, "qkbench report: gnuplot %s\n", script);
}

/* argv[0] is the command name. Returns 0 when REPORT.md was written (even with plots missing), 1
 * when nothing could be written, 2 on a usage error or an unreadable input file. */
int qk_cmd_report(int argc, char **argv) {
    const char **results = calloc((size_t)argc + 1, sizeof *results);
    const char **roofs = calloc((size_t)argc + 1, sizeof *roofs);
    qk_report_options o = {
        .results = results, .rooflines = roofs, .outdir = "report/out", .progress = progress};
    int rc = 2;
    if (!results || !roofs) {
        fprintf(stderr, "qkbench report: out of memory\n");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--roofline")) {
            if (i + 1 == argc) {
                fprintf(stderr, "qkbench report: %s needs a value (see --help)\n", a);
                goto out;
            }
            if (!strcmp(a, "--roofline"))
                roofs[o.n_rooflines++] = argv[++i];
            else
                o.outdir = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qkbench report: unknown option '%s' (see --help)\n", a);
            goto out;
        } else {
            results[o.n_results++] = a;
        }
    }
    if (o.n_results == 0) {
        fprintf(stderr, "qkbench report: expected at least one results file\n%s", usage);
        goto out;
    }
    qk_report_outcome res;
    qk_error err = {{0}};
    if (qk_report_generate(&o, &res, &err)) {
        /* an input that cannot be read is a usage error; an unwritable output is a failure */
        rc = qk_cli_error("report", res.write_failed ? 1 : 2, &err);
        goto out;
    }
    int drawn = 0, missing = 0;
    for (int i = 0; i < res.n_plots; i++) {
        if (res.plots[i].ok)
            drawn++;
        else if (res.plots[i].has_data) {
            missing++;
            fprintf(stderr, "qkbench report: plot %s missing: %s\n", res.plots[i].name,
                    res.plots[i].why);
        }
    }
    printf("wrote %s (%d CPU%s, %d plot%s drawn%s)\n", res.report_path, res.n_cpus,
           res.n_cpus == 1 ? "" : "s", drawn, drawn == 1 ? "" : "s",
           missing ? ", some missing: see the report" : "");
    rc = 0;
out:
    free(results);
    free(roofs);
    return rc;
}
