/* Running an experiment file: every configuration of its sweep, measured in groups (same path,
 * binding, threads, tokens, shape; differing in kernel): every configuration gets its own model
 * instance (the file is mapped once per instance; the OS shares the pages), warm-ups run first,
 * then repetitions go round-robin across the group so that machine drift hits all of them alike, on
 * a pinned pool. Speedups are paired ratios within a round. Results go to DIR/NAME.json and
 * DIR/NAME.csv when the run is complete, to the checkpoint DIR/NAME.partial.json/.csv until then
 * (harness/results.h), rewritten after every group and when the run stops.
 *
 * The runner prints nothing: it tells its caller what it does through an observer, and returns a
 * row per configuration for the caller's table. Stopping (Ctrl-C) is the caller's flag. */
#ifndef QK_HARNESS_RUNNER_H
#define QK_HARNESS_RUNNER_H

#include <signal.h>

#include "common/error.h"
#include "harness/model_files.h"

typedef struct {
    double done, total; /* measurements (configuration x repetition) finished, and in the run */
    double elapsed_s;
    const char *name; /* the configuration being measured */
    int rep, reps;
    int group_done; /* 1: once after each group; 0: before each repetition */
} qk_run_progress;

typedef struct {
    qk_note_fn note; /* a line for the user (what is done, what is missing and why) */
    void (*progress)(void *ctx, const qk_run_progress *p);
    void *ctx;
} qk_run_observer;

typedef struct {
    const char *experiment_path;
    const char *out_dir;  /* results folder */
    const char *name;     /* results file base name; NULL: the experiment's name */
    int quick;            /* the file's quick_repetitions and one warm-up */
    int force;            /* replace existing result files of the same name */
    const char *self_exe; /* this program, for the probes that run in a process of their own
                             (NULL: /proc/self/exe) */
    /* set (by a signal handler, say) to stop after the current repetition; may be NULL */
    const volatile sig_atomic_t *stop;
    qk_run_observer obs;
} qk_run_options;

typedef enum {
    QK_RUN_COMPLETE = 0,    /* every configuration measured (or skipped, with its reason) */
    QK_RUN_INTERRUPTED = 1, /* stopped by *stop: every repetition measured is kept in the
                               checkpoint (complete: false, state interrupted) */
    QK_RUN_FAILED = 2,      /* a configuration failed (err says which): recorded as failed, the
                               others measured (results complete); or the run itself failed and
                               stopped (checkpoint, state failed) */
    QK_RUN_BAD_INPUT = 3,   /* nothing ran: the experiment, its model or the output is unusable */
    QK_RUN_ERROR = 4,       /* a run-time failure (memory, threads, writing the results) */
} qk_run_status;

typedef struct { /* one configuration as the console table shows it */
    char name[256];
    int skipped;        /* not run: reason says why */
    int failed;         /* ... because it failed ("failed: ...") */
    int oversubscribed; /* more threads than usable PUs */
    int reps_done;      /* repetitions measured */
    char reason[600];   /* "skipped: ..." */
    int measured;       /* 1 when it has statistics */
    int peer;           /* the llama.cpp peer */
    double median_s, ci_lo_s, ci_hi_s, cv;
    double gops;                    /* 2 x multiply-accumulates per pass / median */
    unsigned long long allocations; /* per pass (ours; the peer's are not counted) */
    int noisy;                      /* CV above the experiment's noisy_cv */
    /* the peer: how it was bound, its cosines against our FP32 path and our fastest kernel */
    char peer_binding[256], peer_best[256];
    double peer_cos_fp32, peer_cos_best;
} qk_run_row;

typedef struct {
    qk_run_row *rows; /* malloc'd, one per configuration: qk_run_outcome_free */
    int n_rows;
    int reps_planned; /* repetitions per configuration (the --quick count under --quick) */
    char json_path[4200], csv_path[4200]; /* NAME.json/.csv, or the .partial ones of a run that
                                             stopped before its end */
} qk_run_outcome;

/* Runs the experiment; returns a qk_run_status. err is set for QK_RUN_FAILED, _BAD_INPUT and
 * _ERROR. out (may be NULL) gets the rows when anything was set up. */
qk_run_status qk_run_experiment(const qk_run_options *o, qk_run_outcome *out, qk_error *err);
/* The same, as sitting `index` (0-based) of `count` of a sittings run (harness/run_sittings.h):
 * recorded as context "sitting": {"index", "count"}. */
qk_run_status qk_run_experiment_sitting(const qk_run_options *o, int index, int count,
                                        qk_run_outcome *out, qk_error *err);
void qk_run_outcome_free(qk_run_outcome *out);

#endif
