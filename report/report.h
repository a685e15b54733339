/* The report generator: results files of `qkbench run` (and `qkbench roofline --json` files) ->
 * REPORT.md, the seed story's tables filled with measured numbers, and plots. A library: it
 * returns a status, fills a qk_error and prints nothing (`qkbench report`,
 * harness/cli/cmd_report.c, is its command).
 *
 * Results files are grouped by CPU (context.cpu_model + host_name): files from one machine merge
 * (say a ladder run, a thread-scaling run and a sequence-length run), files from several machines
 * give one report with a column (or a group of rows) per CPU. Writes into DIR (default report/out):
 *   REPORT.md   the machine and the run; the ladder (parse-per-block -> precached-scales ->
 *               zero-copy, plus alloc-copy) forward and matmul-only, with paired speedups and
 *               each step's share of the gain; Amdahl, measured; memory; accuracy; per-operation
 *               breakdown; thread scaling; sequence length; roofline; kernels beyond the story;
 *               the llama.cpp peer (a row per peer mode; the headline quotes the own-process
 *               mode when measured, else in-process); across sittings (for results of several
 *               sittings: two-level intervals, the sittings' spread, which ratios are stable);
 *               how this CPU's story differs from the seed's. A section whose
 *               data the results lack says what to run instead. (One file per section in
 *               report/sections/, listed in report/sections.c.)
 *   NAME.dat, NAME.vars   data and gnuplot variables of each plot;
 *   NAME.png, NAME.svg    the plots, drawn by the gnuplot scripts NAME.gp of the scripts folder
 *               (QK_REPORT_SCRIPTS, else QK_SOURCE_DIR/report): ladder, breakdown, threads, seqlen,
 *               roofline, peer (any other *.gp there runs too, with the same variables), all in
 *               one vocabulary (report/style.h: a colour per variant, a dash and point type per
 *               ISA, black for llama.cpp) and split into panels rather than crowded;
 *   style.vars  what every script loads first: terminals, the panel grid, the legend;
 *   NAME.log    gnuplot's output for each plot.
 * Every script is run as `gnuplot -e "datadir='DIR'; outdir='DIR'" NAME.gp`. Gnuplot missing or
 * failing does not stop the report: the tables are written and REPORT.md says which plots are
 * missing and why. */
#ifndef QK_REPORT_REPORT_H
#define QK_REPORT_REPORT_H

#include "common/error.h"

#define QK_REPORT_MAX_PLOTS 16

typedef struct {
    const char *const *results; /* result files (qkbench run JSON) */
    int n_results;
    const char *const *rooflines; /* qkbench roofline --json files; may be empty */
    int n_rooflines;
    const char *outdir;      /* created if missing */
    const char *scripts_dir; /* NULL: $QK_REPORT_SCRIPTS, else QK_SOURCE_DIR "/report" */
    /* Called with a script's path before gnuplot runs it (a plot takes a while); may be NULL. */
    void (*progress)(const char *script, void *arg);
    void *progress_arg;
} qk_report_options;

typedef struct {
    char name[32];   /* "ladder", ... (the script's name without .gp) */
    int has_data;    /* the results had data for it (else not attempted) */
    int attempted;   /* gnuplot was started */
    int exit_status; /* gnuplot's exit status (-1: did not exit normally or could not start) */
    int ok;          /* exit 0 and NAME.png and NAME.svg exist and are non-empty */
    char why[256];   /* when !ok: why the plot is missing */
} qk_report_plot;

typedef struct {
    int n_cpus;
    int n_plots;
    qk_report_plot plots[QK_REPORT_MAX_PLOTS];
    char report_path[4096]; /* DIR/REPORT.md */
    int write_failed;       /* on failure: 1 if the output could not be written, 0 if an input
                               could not be read */
} qk_report_outcome;

/* Loads the inputs, writes DIR/REPORT.md, the data files and the plots. 0 when REPORT.md was
 * written (out says which plots were drawn); -1 with err set otherwise (an input that cannot be
 * read, or DIR not writable). out may be NULL. */
int qk_report_generate(const qk_report_options *opts, qk_report_outcome *out, qk_error *err);

/* The same, naming also what was to be measured and was not, a line each (a fleet's failed
 * targets: "bad (nodelist=n1): failed: exit 2: ..."): listed with the CPUs and in the Fleet
 * section (`qkbench fleet report`). */
int qk_report_generate_fleet(const qk_report_options *opts, const char *const *not_measured,
                             int n_not_measured, qk_report_outcome *out, qk_error *err);

#endif
