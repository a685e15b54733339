/* Sittings: the whole experiment run K times, each in a process of its own (this program again:
 * `SELF run EXP --as-sitting J/K -o DIR/NAME.sittings --name sitting-J`), so each has its own
 * model mapping, pool and warm-ups; one after another, each starting at least spacing_s after the
 * previous one started. Each sitting writes its own single-sitting results in DIR/NAME.sittings/
 * (sitting-J.json/.csv, J = 1..K; the partial pair of a sitting that stopped); after every sitting
 * the sittings done so far are merged (harness/sittings_merge.h) into the checkpoint
 * DIR/NAME.partial.json/.csv, and DIR/NAME.json/.csv are written only when all K completed
 * (earlier ones are replaced only with force, and only then). A stop request (*stop) is passed on
 * to the running sitting (SIGINT: it keeps its repetitions); a sitting that fails stops the run,
 * with its exit status and its last lines in err. Prints nothing. */
#ifndef QK_HARNESS_RUN_SITTINGS_H
#define QK_HARNESS_RUN_SITTINGS_H

#include "harness/runner.h"
#include "harness/sittings_merge.h"

typedef struct {
    int index, count;    /* the sitting (0-based), of count */
    double elapsed_s;    /* since the first sitting started */
    double eta_s;        /* the whole run's remaining time (estimate; < 0: not known yet) */
    double sitting_frac; /* of this sitting's measurements done */
    const char *name;    /* the configuration it measures (NULL: none yet) */
    int rep, reps;
    double wait_s;  /* > 0: the sitting starts in this long (spacing) */
    int group_done; /* the sitting reported a finished group */
} qk_sittings_progress;

typedef struct {
    const qk_run_options *run; /* experiment, folder, name, quick, force, self_exe, stop;
                                  run->obs.note gets the notes ("sitting 2/3: ...") */
    int sittings;              /* 0: the experiment's `sittings` */
    double spacing_s;          /* < 0: the experiment's `sitting_spacing` */
    void (*progress)(void *ctx, const qk_sittings_progress *p); /* may be NULL; ctx: run->obs.ctx */
} qk_sittings_options;

typedef struct {
    qk_sittings_summary sum;              /* the merged table (the sittings done) */
    int count, done;                      /* planned; completed */
    char json_path[4200], csv_path[4200]; /* NAME.json/.csv, or the partial ones */
    char dir[4200];                       /* where the single-sitting files are */
} qk_sittings_outcome;

/* The experiment's `sittings` key (1 when the file cannot be read: the run says why). */
int qk_run_sittings_planned(const char *experiment_path);

/* Runs the sittings and merges them; a qk_run_status (COMPLETE: all sittings complete; FAILED: a
 * sitting failed, or a configuration did; INTERRUPTED; BAD_INPUT: nothing ran). */
qk_run_status qk_run_sittings(const qk_sittings_options *o, qk_sittings_outcome *out,
                              qk_error *err);
void qk_sittings_outcome_free(qk_sittings_outcome *out);

#endif
