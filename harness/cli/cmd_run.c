/* qkbench run: arguments, Ctrl-C, progress and the console table around qk_run_experiment. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/run_sittings.h"
#include "harness/sittings.h"
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

/* A sitting's child (--as-sitting): every repetition as a line its parent reads
 * (harness/run_sittings.c). */
static void on_progress_child(void *ctx, const qk_run_progress *p) {
    (void)ctx;
    fprintf(stderr, "qkbench-progress: %.0f %.0f %.3f %d %d %d %s\n", p->done, p->total,
            p->elapsed_s, p->rep, p->reps, p->group_done, p->name ? p->name : "");
}

/* On a terminal one line rewritten in place; otherwise a line per group and per spacing wait. */
static void on_sittings_progress(void *ctx, const qk_sittings_progress *p) {
    console *c = ctx;
    static double last_wait_line = -1e9;
    char eta[32] = "?";
    if (p->eta_s >= 0) snprintf(eta, sizeof eta, "%.0fs", p->eta_s);
    if (p->wait_s > 0) {
        if (!c->tty && p->elapsed_s - last_wait_line < 30) return;
        last_wait_line = p->elapsed_s;
        fprintf(stderr, "%ssitting %d/%d starts in %.0fs  elapsed %.0fs  ETA %s%s",
                c->tty ? "\r\033[K" : "", p->index + 1, p->count, p->wait_s, p->elapsed_s, eta,
                c->tty ? "" : "\n");
        c->line_open = c->tty;
        return;
    }
    if (!c->tty && !p->group_done) return;
    const double frac = (p->index + p->sitting_frac) / p->count;
    fprintf(stderr, "%s[%3.0f%%] sitting %d/%d  %s  rep %d/%d  elapsed %.0fs  ETA %s%s",
            c->tty ? "\r\033[K" : "", 100 * frac, p->index + 1, p->count, p->name ? p->name : "",
            p->rep, p->reps, p->elapsed_s, eta, c->tty ? "" : "\n");
    c->line_open = c->tty;
}

static void print_sittings_table(const qk_sittings_outcome *out) {
    const qk_sittings_summary *s = &out->sum;
    int w = 13;
    for (int i = 0; i < s->n_rows; i++)
        if ((int)strlen(s->rows[i].name) > w) w = (int)strlen(s->rows[i].name);
    printf("\n%d of %d sittings merged; intervals: two-level bootstrap (sittings, then "
           "repetitions)\n",
           out->done, out->count);
    printf("| %-*s | %10s | %21s | %21s | %6s | %8s |\n", w, "configuration", "median ms",
           "95% CI of median (ms)", "sitting medians (ms)", "CV", "sittings");
    printf("|");
    for (int i = 0; i < w + 2; i++) putchar('-');
    printf("|------------|-----------------------|-----------------------|--------|----------|\n");
    for (int i = 0; i < s->n_rows; i++) {
        const qk_sittings_row *r = &s->rows[i];
        if (!r->measured) {
            printf("| %-*s | %s\n", w, r->name, r->reason);
            continue;
        }
        printf("| %-*s | %10.3f | %9.3f .. %9.3f | %9.3f .. %9.3f | %5.1f%% | %8d |%s%s\n", w,
               r->name, 1e3 * r->median_s, 1e3 * r->ci_lo_s, 1e3 * r->ci_hi_s,
               1e3 * r->sitting_min_s, 1e3 * r->sitting_max_s, 100 * r->cv, r->sittings,
               r->noisy ? " noisy" : "", r->stable ? "" : " unstable");
    }
    int unstable = 0;
    for (int i = 0; i < s->n_cmps; i++) {
        const qk_sittings_cmp_row *c = &s->cmps[i];
        printf("%s / %s: %.3f (%.3f .. %.3f), sitting ratios %.3f .. %.3f, %s\n", c->name,
               c->baseline, c->ratio, c->ci_lo, c->ci_hi, c->sitting_min, c->sitting_max,
               c->stable ? "stable" : "not stable");
        unstable += !c->stable;
    }
    if (unstable)
        printf("%d ratio%s not stable: a sitting's own interval misses the pooled one\n", unstable,
               unstable == 1 ? " is" : "s are");
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
        "usage: qkbench run EXPERIMENT.ini [-o DIR] [--quick] [--force] [--name NAME]\n"
        "                   [--sittings K] [--sitting-spacing S]\n"
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
        "  --sittings K      K sittings (overrides the experiment's `sittings`, default 1)\n"
        "  --sitting-spacing S  seconds from one sitting's start to the next's, at least\n"
        "                    (overrides `sitting_spacing`, default 0)\n"
        "  --as-sitting J/K  (internal) run as sitting J of K of a sittings run\n"
        "\n"
        "Sittings: the whole measurement repeated in K separate processes (this program again,\n"
        "one after another), each with its own model mapping, thread pool and warm-ups; within\n"
        "a sitting the repetitions stay interleaved. Each sitting writes its own results to\n"
        "DIR/NAME.sittings/sitting-J.json/.csv (J = 1..K; the records' \"sitting\" counts from "
        "0),\n"
        "kept there. After every sitting the ones done are merged into "
        "DIR/NAME.partial.json/.csv;\n"
        "DIR/NAME.json/.csv (every repetition with its sitting; medians and paired ratios with a\n"
        "two-level bootstrap interval, sittings then repetitions, and the spread of the sittings'\n"
        "own medians) are written when all K completed. A sitting starts at least S seconds\n"
        "after the previous one started (the wait is shown). Ctrl-C stops the running sitting\n"
        "(it keeps its repetitions) and keeps the finished ones; a sitting that fails stops the\n"
        "run with its exit status and last lines. NAME.json and the sittings' files are never\n"
        "replaced without --force; with it NAME.json stays until the new merge is complete (the\n"
        "sittings' files are replaced as each new sitting runs). The table shows the pooled\n"
        "medians with their intervals, the min..max of the sittings' medians, and each ratio\n"
        "with its sittings' spread and whether it is stable (every sitting's own interval\n"
        "overlaps the pooled one). With one sitting (the default) the run is as above;\n"
        "--sittings 1 runs it the sittings way (one child, merged file).\n"
        "\n"
        "Synthetic models (model = synthetic:PRESET) are generated once into $QK_MODEL_DIR\n"
        "(default ./models).\n");
}

/* The exit code of a run's status (README): 2 bad input, 1 a run-time failure, 130 interrupted;
 * the error is printed for the first two. */
static int exit_code(qk_run_status st, const qk_error *err) {
    switch (st) {
    case QK_RUN_BAD_INPUT:
        return qk_cli_error("run", 2, err);
    case QK_RUN_ERROR:
    case QK_RUN_FAILED:
        return qk_cli_error("run", 1, err);
    case QK_RUN_INTERRUPTED:
        return 130;
    case QK_RUN_COMPLETE:
        break;
    }
    return 0;
}

static int run_sittings(const qk_run_options *o, int sittings, double spacing, console *con,
                        const struct sigaction *old_int, const struct sigaction *old_term) {
    qk_sittings_options so = {o, sittings, spacing, on_sittings_progress};
    qk_sittings_outcome out;
    qk_error err = {{0}};
    const qk_run_status st = qk_run_sittings(&so, &out, &err);
    sigaction(SIGINT, old_int, NULL);
    sigaction(SIGTERM, old_term, NULL);
    end_line(con);
    const int code = exit_code(st, &err);
    if (st == QK_RUN_COMPLETE || st == QK_RUN_INTERRUPTED || st == QK_RUN_FAILED) {
        if (out.sum.n_rows) print_sittings_table(&out);
        const int partial = strstr(out.json_path, ".partial.json") != NULL;
        printf("\nresults: %s and %s%s; each sitting's in %s\n", out.json_path, out.csv_path,
               partial ? " (incomplete)" : "", out.dir);
    }
    qk_sittings_outcome_free(&out);
    return code;
}

int qk_cmd_run(int argc, char **argv) {
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"quick", no_argument, 0, 'q'},
                                         {"force", no_argument, 0, 'f'},
                                         {"name", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {"sittings", required_argument, 0, 'k'},
                                         {"sitting-spacing", required_argument, 0, 's'},
                                         {"as-sitting", required_argument, 0, 'a'},
                                         {0, 0, 0, 0}};
    const char *out_dir = "results/local", *name = NULL;
    int quick = 0, force = 0, c, sittings = 0, as_j = 0, as_k = 0;
    double spacing = -1;
    char *end;
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
        case 'k':
            sittings = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || sittings < 1 || sittings > QK_SITTINGS_MAX) {
                fprintf(stderr, "qkbench run: --sittings %s: a whole number in 1..%d expected\n",
                        optarg, QK_SITTINGS_MAX);
                return 2;
            }
            break;
        case 's':
            spacing = strtod(optarg, &end);
            if (*end || end == optarg || !isfinite(spacing) || spacing < 0 || spacing > 86400) {
                fprintf(stderr, "qkbench run: --sitting-spacing %s: seconds in 0..86400 expected\n",
                        optarg);
                return 2;
            }
            break;
        case 'a': {
            int n = 0;
            if (sscanf(optarg, "%d/%d%n", &as_j, &as_k, &n) != 2 || optarg[n] || as_k < 1 ||
                as_k > QK_SITTINGS_MAX || as_j < 1 || as_j > as_k) {
                fprintf(stderr, "qkbench run: --as-sitting %s: J/K with 1 <= J <= K <= %d\n",
                        optarg, QK_SITTINGS_MAX);
                return 2;
            }
            break;
        }
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
                        {on_note, as_k ? on_progress_child : on_progress, &con}};
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* sittings: asked for, or the experiment's key (never inside a sitting) */
    if (!as_k && (sittings > 0 || qk_run_sittings_planned(argv[optind]) > 1))
        return run_sittings(&o, sittings, spacing, &con, &old_int, &old_term);
    qk_run_outcome out;
    qk_error err = {{0}};
    const qk_run_status st = as_k ? qk_run_experiment_sitting(&o, as_j - 1, as_k, &out, &err)
                                  : qk_run_experiment(&o, &out, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    end_line(&con);
    const int code = exit_code(st, &err);
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
