/* The report generator's internal model, shared by the files of report/ and by nothing outside it
 * (the API is report/report.h). Results files are read (load.c) into CPU groups of configurations;
 * the sections (report/sections/, listed in report/sections.c) find configurations and derive
 * figures with lookup.c and mix.c, format them with format.c and write their plot data with
 * plot.c, in the looks of style.c; gnuplot.c draws the plots; report.c runs it all. Internal names
 * start with rp_. */
#ifndef QK_REPORT_MODEL_H
#define QK_REPORT_MODEL_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "report/amdahl.h"
#include "report/report.h"

/* Every snprintf of report/ writes into a fixed buffer sized for its use; cutting an over-long
 * label is the intended behaviour, not a bug. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ================================================================== the data */

/* One configuration of one results file (a run_name): what it ran and its aggregates. */
typedef struct {
    int doc;              /* index of the file it came from */
    const char *run_name; /* borrowed from the document */
    const char *variant, *isa, *run, *act, *binding, *path, *op;
    /* the results file's context.model.spec: runs of different models never mix */
    const char *model;
    int threads, seq_len, rows, cols;
    double med, lo, hi, cv; /* ms; cv a fraction */
    int has_med, noisy;
    json_t *agg;       /* the median aggregate record (borrowed): memory, profile_ms, gops... */
    const char *error; /* a skipped configuration's message */
    int has_cmp;       /* a paired comparison with its baseline */
    double ratio, r_lo, r_hi;
    const char *cmp_base;
} rp_cfg;

/* Where a configuration was measured, all but the variant: the rows of the ladder's tables. */
typedef struct {
    const char *isa, *act, *binding, *model;
    int seq, threads;
} rp_key;

/* The results files of one machine and build (context.cpu_model + host_name, the build type and
 * whether it was sanitized: a sanitized build's times never share a table with a release build's;
 * and a fleet's target and array task: two targets, or two tasks, may run on one node), merged. */
typedef struct {
    char label[12];               /* "A", "B", ... */
    const char *cpu_model, *host; /* borrowed */
    const char *target;           /* context.slurm.fleet_target: a fleet's target, else "" */
    int task;                     /* context.slurm.array_task_id with a target, else -1 */
    char build[160];              /* "CPU, Release build" (qk_results_describe of the first file) */
    json_t *ctx;                  /* first file's context */
    int *docs, n_docs;
    rp_cfg *cfgs;
    int n_cfgs, cap;
    json_t *accuracy; /* new array: every file's context.accuracy entries */
    json_t *roof;     /* the matching roofline object (borrowed), or NULL */
    int roof_foreign; /* roof measured on another machine (only one given) */
} rp_cpu;

/* The state of one qk_report_generate. */
typedef struct {
    const qk_report_options *o;
    json_t **docs;
    int n_docs;
    json_t **roofs;
    int n_roofs;
    rp_cpu *cpus;
    int n_cpus;
    const char **variants; /* every int8 variant seen, seed ones first */
    int n_variants;
    int show_model; /* the inputs have several models: name the model in headings and labels */
    json_t *not_measured; /* qk_report_generate_fleet's lines, Markdown-safe (a JSON array) */
    qk_report_plot plots[QK_REPORT_MAX_PLOTS];
    int n_plots;
    char *outdir;
    char scripts[4096]; /* the gnuplot scripts' folder */
} rp_report;

static inline int rp_is_int8(const rp_cfg *c) {
    return !strcmp(c->path, "int8");
}
static inline int rp_usable(const rp_cfg *c) {
    return c->has_med && !c->error;
}

/* ---- load.c */

/* Reads the options' results and roofline files into R (zeroed here) and groups them by CPU. 0,
 * or -1 with err set (a file that cannot be read or is not what it should be, out of memory);
 * rp_free(R) either way. */
int rp_load(rp_report *R, const qk_report_options *o, qk_error *err);
void rp_free(rp_report *R);

/* ================================================================== lookups (lookup.c) */

int rp_isa_rank(const char *isa); /* scalar < avx2 < avx512vnni < other; -1 for "" */
int rp_variant_rank(const rp_report *R, const char *v); /* order of R->variants; 1000 if absent */

int rp_key_cmp(const rp_key *a, const rp_key *b);
rp_key rp_key_of(const rp_cfg *c);
/* Distinct keys of the usable int8 configurations of `run`, sorted. *out is malloc'd. */
int rp_collect_keys(const rp_cpu *g, const char *run, rp_key **out);
/* The usable int8 configuration of run/variant at key k (and matmul shape op, unless NULL). */
const rp_cfg *rp_find_cfg(const rp_cpu *g, const char *run, const char *variant, const rp_key *k,
                          const char *op);
/* The FP32 path's forward configuration at k's sequence length, threads, binding and model. */
const rp_cfg *rp_find_fp32(const rp_cpu *g, const rp_key *k);

/* Speedup of v against the baseline b (b time / v time): the paired comparison when the results
 * have it, else the ratio of medians with the conservative hull of the two intervals. */
qk_interval rp_speedup_of(const rp_cfg *v, const rp_cfg *b, int *paired);
/* Time of v relative to b (v/b), interval as above. */
qk_interval rp_ratio_of(const rp_cfg *v, const rp_cfg *b);

/* A configuration's per-operation profile (ms per operation), or NULL. */
json_t *rp_profile_of(const rp_cfg *c);
double rp_prof_sum(json_t *p, int matmul_only);

/* The configuration the summaries quote: a forward key with both parse-per-block and zero-copy,
 * preferring the widest ISA, then the most threads, then the sequence length nearest 16, then
 * per-token activation scales. 0 if there is one. */
int rp_headline(const rp_cpu *g, rp_key *out);

/* A memory figure of the median record (NAN when absent), and the footprint: resident file (or
 * the whole mapped file: *used_file = 1) + prepared + scratch + fp32 + tokenizer heap. */
double rp_mem_field(const rp_cfg *c, const char *key);
double rp_footprint(const rp_cfg *c, int *used_file);

/* A roofline file's read bandwidth (GB/s) at a thread count and working set ("dram", "l2"), and
 * its most threads. */
double rp_roof_bw(json_t *roof, int threads, const char *ws);
int rp_roof_max_threads(json_t *roof);

/* ================================================================== derived figures (mix.c) */

/* How often a matmul shape runs per layer, given which shapes the run measured. */
int rp_op_weight(const rp_cpu *g, const rp_key *k, const rp_cfg *c);
/* The baseline's matmul configurations at key k (every shape measured, in the model's order). */
int rp_mm_shapes(const rp_cpu *g, const rp_key *k, const rp_cfg **out, int max);
/* Local speedup of `variant` over the per-layer mix of the measured shapes at key k:
 * T_base / T_variant with T = sum(weight x median). 0 ok, -1 missing data. */
int rp_mix_speedup(const rp_cpu *g, const rp_key *k, const char *variant, qk_interval *s,
                   double *t_base, double *t_var, int *n_shapes, int *paired_out);

/* The Amdahl figures of one (key, variant) against parse-per-block. */
typedef struct {
    int has_p, has_s, has_ach;
    double p, prof_total, removed; /* removed: matmul time the variant removed / baseline total */
    qk_interval s, pred, bound, ach;
    double implied;
    const char *s_source;
    char s_note[96];
    qk_amdahl_verdict verdict;
    char line[512];
} rp_amdahl;

void rp_amdahl_for(const rp_cpu *g, const rp_key *k, const char *variant, rp_amdahl *a);

/* ================================================================== formatting (format.c) */

typedef struct {
    char s[160];
} rp_str;

rp_str rp_fmt_ms(double v);                                  /* digits by magnitude; "n/a" */
rp_str rp_fmt_ms_ci(double m, double lo, double hi);         /* "12.3 [11.9, 13.0]" */
rp_str rp_fmt_x(double v);                                   /* "1.234" */
rp_str rp_fmt_xi(qk_interval x);                             /* "1.234x [1.200, 1.270]" */
rp_str rp_fmt_pct(double f);                                 /* "12.3%" */
rp_str rp_fmt_pct_i(qk_interval x);                          /* "12.3% [11.0%, 13.5%]" */
rp_str rp_fmt_mb(double bytes);                              /* MB = 10^6 bytes */
rp_str rp_fmt_key(const rp_report *R, const rp_key *k);      /* "avx2, 16 tokens, 2 threads, ..." */
rp_str rp_plot_prefix(const rp_report *R, const rp_cpu *g);  /* "A " when several CPUs */
rp_str rp_panel_prefix(const rp_report *R, const rp_cpu *g); /* "CPU A: " when several */
const char *rp_short_variant(const char *v);                 /* "parse", "precached", ... */

/* A fleet's target of g, "alpha" or "alpha/1" (array task 1); "" outside a fleet. */
rp_str rp_target_name(const rp_cpu *g);
/* A CPU's heading (level ###) when the report has several CPUs; nothing otherwise. */
void rp_cpu_heading(FILE *f, const rp_report *R, const rp_cpu *g);
/* "*Not measured in these results: WHAT. Run RUN.*" */
void rp_not_measured(FILE *f, const char *what, const char *run);

/* ================================================================== plot data (plot.c) */

FILE *rp_open_out(const rp_report *R, const char *name); /* OUTDIR/name for writing */
void rp_gp_string(FILE *f, const char *s);               /* a gnuplot double-quoted string */
void rp_gp_num(FILE *f, double v);                       /* " %.6g", or " NaN" */
/* "N_NAME = n" then "array ARR[n] = [...]" of strings (nothing more when n is 0). */
void rp_gp_titles(FILE *f, const char *n_name, const char *arr, const char *const *t, int n);
void rp_gp_strings(FILE *f, const char *arr, const char *const *t, int n);
void rp_gp_ints(FILE *f, const char *arr, const int *v, int n);
/* (colours, dash and point types, panels: report/style.h) */

/* One measured llama.cpp configuration of a CPU (peerdata.c): its median and 95% interval, and
 * the paired ratio llama.cpp time / our fastest kernel's (base) when the results compared them. */
typedef struct {
    const char *model, *binding, *base; /* borrowed; base "" without a comparison */
    const char *mode;                   /* RP_PEER_IN_PROCESS or RP_PEER_PROCESS */
    int threads, seq;
    double med, lo, hi;
    int has_cmp;
    double ratio, r_lo, r_hi;
} rp_peer_point;

/* The peer's two modes: llama.cpp's library called from our process, bound and polled as our
 * kernels are ("in-process"; results without a peer_mode are of this mode), and llama.cpp in a
 * child process of its own with its default threadpool and polling ("process": as its users run
 * it). */
#define RP_PEER_IN_PROCESS "in-process"
#define RP_PEER_PROCESS    "process"
/* The mode of a peer record: "peer_mode", else isa "peer-process", else in-process. */
const char *rp_peer_mode(json_t *rec);
/* In words, for tables and sentences: "in-process", "own process". */
const char *rp_peer_mode_words(const char *mode);

/* The CPU's measured peer configurations, in the files' order. *out is malloc'd (NULL when 0). */
int rp_peer_points(const rp_report *R, const rp_cpu *g, rp_peer_point **out);
/* The mode the headlines quote: the own-process mode when the CPU's results compared it with our
 * kernels (llama.cpp as its users run it), else in-process. */
const char *rp_peer_headline_mode(const rp_peer_point *p, int n);
/* The point the summary quotes: a comparison in the headline mode at the headline key's threads
 * and tokens (k may be NULL), else the one with most threads and tokens nearest 16. NULL if
 * none. */
const rp_peer_point *rp_peer_headline(const rp_peer_point *p, int n, const rp_key *k);

/* ================================================================== sections */

/* One section of REPORT.md: report/sections/NAME.c defines `const rp_section rp_section_NAME`
 * and report/sections.c lists it. The plot data is written first (every section), then the plots
 * are drawn, then the Markdown, which gets its plot's outcome (NULL for a section without one). */
typedef struct {
    /* its plot: the gnuplot script NAME.gp drawing NAME.{dat,vars} into NAME.{png,svg}; or NULL */
    const char *plot;
    /* writes the plot's data files: > 0 when there is something to draw, 0 when not (no plot),
     * -1 when a file cannot be written; NULL when the section has no plot */
    int (*data)(const rp_report *R);
    void (*markdown)(FILE *f, const rp_report *R, const qk_report_plot *plot);
} rp_section;

extern const rp_section *const rp_sections[];
extern const int rp_n_sections;

/* ---- gnuplot.c */

/* Runs every *.gp of R->scripts: a section's plot when has_data[i] (what rp_sections[i]->data
 * returned) is > 0, any other script as it is. Fills R->plots, the sections' plots first. */
void rp_draw_plots(rp_report *R, const int *has_data);
const qk_report_plot *rp_plot_named(const rp_report *R, const char *name);

#endif
