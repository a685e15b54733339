/* The runner's internal state, shared by its units: runner.c (the driver), run_group.c (setting up
 * and measuring one group), run_record.c (what goes into the results), run_probe.c (accuracy and
 * footprint probes), run_peer.c (the llama.cpp peer). Not for use outside harness/. */
#ifndef QK_HARNESS_RUN_INTERNAL_H
#define QK_HARNESS_RUN_INTERNAL_H

#include <stdint.h>

#include "harness/accuracy.h"
#include "harness/counters.h"
#include "harness/experiment.h"
#include "harness/measure.h"
#include "harness/peers/llama.h"
#include "harness/peers/llama_process.h"
#include "harness/pool.h"
#include "harness/profile.h"
#include "harness/refdata.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/topology.h"
#include "model/gemma.h"

/* One configuration of the sweep: its model instance, buffers and figures. */
typedef struct {
    qk_config cfg;
    const qk_kernel *kernel; /* NULL: FP32 path */
    qk_gemma_model *model;
    int skipped;           /* not measured (or not to the end): skip_reason says why */
    int failed;            /* ... because it failed (skip_reason "failed: ..."), not by choice */
    char skip_reason[600]; /* "skipped: ..." or "failed: ..." */
    int reps_done;         /* repetitions measured (all of them unless the run was stopped) */
    int oversubscribed;    /* more threads than usable PUs */
    int smt_shared;        /* more threads than usable cores: some share a core (SMT) */
    double *real, *cpu;    /* [reps] seconds */
    long long *counters;   /* [reps][n_events] */
    qk_alloc_stats allocs; /* per pass (the last repetition's) */
    qk_profile profile;    /* summed over the profiled passes */
    int profiled_passes;
    /* matmul runs: the weight (layer 0) and int8 activations */
    const qk_gemma_weight *weight;
    int8_t *act_q;
    float *act_scale, *dst;
    qk_act_i8 act;
    float *embedding; /* forward runs: the last output (accuracy cross-checks) */
    qk_stats stats;
    double macs, weight_bytes; /* per pass, kept for the table after the model is released */
    int probed;                /* footprint measured (forward runs, accuracy on) */
    qk_footprint footprint;
    /* the llama.cpp peer (cfg.peer): in this process, or (peer_mode process) in a child */
    qk_peer_llama *peer;
    qk_peer_process *peer_proc;
    qk_peer_process_times peer_times; /* the child's figures for its last pass */
    double decode_s;                  /* the last pass's llama_decode call alone */
    double *decode;       /* [reps] of those (the timed region also fills the batch, fetches and
                             normalises the embedding, as ours does) */
    json_t *peer_info;    /* library, version, binding (kept after release) */
    double peer_cos_fp32; /* its embedding against our FP32 path (NAN: not measured) */
    double peer_cos_best; /* ... against the group's fastest int8 kernel */
    char peer_best[256];  /* that kernel's configuration name */
} run_entry;

typedef struct {
    const qk_run_options *opt; /* stop flag, observer */
    const char *self_exe;      /* for the probes in processes of their own */
    const qk_experiment *exp;
    const char *model_path;
    qk_topology *topo;
    qk_counters counters;
    int reps, warmups, profile_passes;
    int32_t *tokens; /* seq_len tokens: BOS, deterministic ids, EOS */
    int n_tokens_cap;
    float *act_src; /* random float activations for matmul runs */
    struct {
        int threads;
        qk_binding_policy binding;
        qk_pool *pool;
    } pools[16];
    int n_pools;
    qk_pool *cur_pool; /* the pool of the group being set up */
    float *fp32_emb;   /* our FP32 embedding of tokens at fp32_seq (the peer's accuracy) */
    int fp32_seq, fp32_dim;
} run_ctx;

/* runner.c */
int qk_run_stopped(const run_ctx *rc); /* the caller asked to stop */
void qk_run_note(const run_ctx *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* run_group.c */
uint64_t qk_run_splitmix(uint64_t *s);
/* seq tokens: BOS, deterministic ids in [260, n_vocab), EOS */
void qk_run_make_tokens(int32_t *t, int n, int n_vocab, uint64_t seed);
void qk_run_drop_pool(run_ctx *rc, qk_pool *p);
/* Frees the model and buffers of a measured configuration; its figures stay for the table. */
void qk_run_release_entry(run_entry *e);
/* Multiply-accumulates and matmul weight bytes of one pass (the entry's model must be loaded). */
double qk_run_pass_macs(const run_entry *e);
double qk_run_pass_weight_bytes(const run_entry *e);
/* Marks e as failed (not measured further): "failed: " + why; tells the observer. */
void qk_run_fail_entry(const run_ctx *rc, run_entry *e, const char *why);
/* Sets up, warms up and measures the group g[0..n) (interleaved repetitions), then its profiles.
 * A configuration that fails (its setup, a pass, a non-finite output) is marked failed and the
 * others go on. done/total/started: the run's progress. 0 measured, 1 stopped (each entry has its
 * reps_done and statistics over them), -1 a failure of the run itself (err). */
int qk_run_measure_group(run_ctx *rc, run_entry *g, int n, int done, int total, double started,
                         qk_error *err);

/* run_record.c */
/* e's records: its reps_done repetitions (of reps planned) and their aggregates, or the reason it
 * was not measured. */
void qk_run_add_entry_results(run_ctx *rc, qk_results *res, run_entry *e, int reps);
/* Each configuration against its group's baseline (the experiment's first kernel on the same ISA
 * and activation scheme), as the paired time ratio per round. */
void qk_run_add_comparisons(run_ctx *rc, qk_results *res, run_entry *g, int n);
/* The console table's row of e. */
void qk_run_fill_row(const run_entry *e, double noisy_cv, qk_run_row *row);

/* run_probe.c */
/* Accuracy and footprint of each distinct forward configuration, one process each, at the
 * smallest forward seq_len; entries go to acc (the context's "accuracy" array). */
int qk_run_probe_forward(run_ctx *rc, run_entry *all, int n, int n_vocab, json_t *acc,
                         qk_error *err);

/* run_peer.c */
/* Opens the peer and embeds once in a child process first (threads, max_seq: the largest of the
 * run's peer configurations), so an abort inside llama.cpp (GGML_ASSERT) costs the child, not the
 * run. 0 when the child succeeded; else -1 and why says how it failed ("killed by SIGABRT: ...").
 */
int qk_run_peer_trial(run_ctx *rc, int threads, int max_seq, int n_vocab, char *why, size_t size);
int qk_run_setup_peer(run_ctx *rc, run_entry *e, qk_error *err);
/* The dimension of the peer's embedding (0: not open). */
int qk_run_peer_dim(const run_entry *e);
/* One pass of the peer: in-process, or in its child (our pool parked first, so none of its threads
 * spins while the child measures; e->peer_times then holds the child's times). */
int qk_run_peer_embed(run_ctx *rc, run_entry *e, qk_error *err);
/* After a group with the peer was measured: its accuracy and its paired ratio against the group's
 * fastest int8 kernel. */
void qk_run_peer_after_group(run_ctx *rc, qk_results *res, run_entry *g, int n);

#endif
