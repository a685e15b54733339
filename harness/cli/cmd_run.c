/* qkbench run: arguments, Ctrl-C, progress and the console table around qk_run_experiment. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/runner.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    int tty;       /* stderr is a terminal: one progress line rewritten in place */
    int line_open; /* that line is on the screen: end it before another message */
} console;

static void end_line(console *c) {
    if (c->line_open) fputc('\n', stderr);
    c->line_open = 0;
}

static void on_note(void *ctx, const char *line) {
    end_line(ctx);
    fprintf(stderr, "qkbench run: %s\n", line);
}

/* On a terminal one line rewritten per repetition; otherwise a line per group. */
static void on_progress(void *ctx, const qk_run_progress *p) {
    console *c = ctx;
    if (!c->tty && !p->group_done) return;
    const double frac = p->total > 0 ? p->done / p->total : 1;
    const double eta = frac > 0 ? p->elapsed_s / frac - p->elapsed_s : 0;
    fprintf(stderr, "%s[%3.0f%%] %s  rep %d/%d  elapsed %.0fs  ETA %.0fs%s",
            c->tty ? "\r\033[K" : "", 100 * frac, p->name, p->rep, p->reps, p->elapsed_s, eta,
            c->tty ? "" : "\n");
    c->line_open = c->tty;
}

static void print_table(const qk_run_outcome *out, int reps_planned) {
    int w = 13;
    for (int i = 0; i < out->n_rows; i++)
        if ((int)strlen(out->rows[i].name) > w) w = (int)strlen(out->rows[i].name);
    printf("\n| %-*s | %10s | %21s | %6s | %8s | %9s |\n", w, "configuration", "median ms",
           "95% CI of median (ms)", "CV", "GOPS", "allocs");
    printf("|");
    for (int i = 0; i < w + 2; i++) putchar('-');
    printf("|------------|-----------------------|--------|----------|-----------|\n");
    for (int i = 0; i < out->n_rows; i++) {
        const qk_run_row *r = &out->rows[i];
        if (r->skipped) {
            printf("| %-*s | %s\n", w, r->name, r->reason);
            continue;
        }
        if (!r->measured) continue;
        char allocs[32] = "-", reps[48] = ""; /* allocations are not counted for the peer */
        if (!r->peer) snprintf(allocs, sizeof allocs, "%llu", r->allocations);
        if (r->reps_done < reps_planned)
            snprintf(reps, sizeof reps, " %d of %d repetitions", r->reps_done, reps_planned);
        printf("| %-*s | %10.3f | %9.3f .. %9.3f | %5.1f%% | %8.1f | %9s |%s%s%s\n", w, r->name,
               1e3 * r->median_s, 1e3 * r->ci_lo_s, 1e3 * r->ci_hi_s, 100 * r->cv, r->gops, allocs,
               r->noisy ? " noisy" : "", r->oversubscribed ? " oversubscribed" : "", reps);
    }
    for (int i = 0; i < out->n_rows; i++) {
        const qk_run_row *r = &out->rows[i];
        if (!r->peer || r->skipped || !r->measured) continue;
        printf("peer %s: %s; cosine vs our fp32 %.6f, vs %s %.6f\n", r->name, r->peer_binding,
               r->peer_cos_fp32, *r->peer_best ? r->peer_best : "(no int8 kernel)",
               r->peer_cos_best);
    }
}

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: qkbench run EXPERIMENT.ini [-o DIR] [--quick] [--force]\n"
        "\n"
        "Runs an experiment file (format: experiments/README.md): every configuration of its "
        "sweep,\n"
        "warm-ups first, then repetitions interleaved round-robin across the kernels compared, on "
        "a\n"
        "pinned thread pool. Progress goes to stderr; a table to stdout; results to\n"
        "DIR/NAME.json (Google Benchmark-shaped, with the machine's context) and DIR/NAME.csv,\n"
        "written when the run is complete. Until then the run checkpoints into "
        "DIR/NAME.partial.json\n"
        "and .partial.csv (complete: false; \"state\": running, interrupted, failed or\n"
        "write_failed), after every group. Ctrl-C or TERM stops after the current repetition and\n"
        "keeps every repetition measured (the partial group too: each configuration says how many\n"
        "of its planned repetitions it has); the partial files stay, NAME.json is not touched.\n"
        "Existing NAME.json/.csv or partial files are never replaced without --force, and with\n"
        "--force the earlier complete NAME.json/.csv stay until the new run is complete.\n"
        "Exit code: 0 complete; 1 a run-time failure (a configuration failed: the others are\n"
        "measured and the failure recorded; or the results could not be written); 2 bad usage or\n"
        "bad input (nothing was run); 130 interrupted.\n"
        "\n"
        "  -o, --output DIR  results folder (default results/local)\n"
        "  --quick           use the file's quick_repetitions and one warm-up\n"
        "  --force           replace existing result files of the same name (once complete)\n"
        "  --name NAME       results file base name (default: the experiment's name)\n"
        "\n"
        "Synthetic models (model = synthetic:PRESET) are generated once into $QK_MODEL_DIR\n"
        "(default ./models).\n");
}

int qk_cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"quick", no_argument, 0, 'q'},
        {"force", no_argument, 0, 'f'},        {"name", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *out_dir = "results/local", *name = NULL;
    int quick = 0, force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_dir = optarg;
            break;
        case 'q':
            quick = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    console con = {isatty(2), 0};
    qk_run_options o = {argv[optind],
                        out_dir,
                        name,
                        quick,
                        force,
                        NULL,
                        &stop_requested,
                        {on_note, on_progress, &con}};
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    qk_run_outcome out;
    qk_error err = {{0}};
    const qk_run_status st = qk_run_experiment(&o, &out, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    end_line(&con);
    int code = 0;
    switch (st) {
    case QK_RUN_BAD_INPUT:
        code = qk_cli_error("run", 2, &err);
        break;
    case QK_RUN_ERROR:
        code = qk_cli_error("run", 1, &err);
        break;
    case QK_RUN_FAILED:
        code = qk_cli_error("run", 1, &err);
        break;
    case QK_RUN_INTERRUPTED:
        code = 130;
        break;
    case QK_RUN_COMPLETE:
        break;
    }
    if (st == QK_RUN_COMPLETE || st == QK_RUN_INTERRUPTED || st == QK_RUN_FAILED) {
        print_table(&out, out.reps_planned);
        const int partial = strstr(out.json_path, ".partial.json") != NULL;
        printf("\nresults: %s and %s%s\n", out.json_path, out.csv_path,
               partial               ? " (incomplete)"
               : st == QK_RUN_FAILED ? " (with failed configurations)"
                                     : "");
    }
    qk_run_outcome_free(&out);
    return code;
}
