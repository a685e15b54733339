/* Experiment files: an INI text (parsed with libinih) naming a model, what to run and the lists to
 * sweep; qk_experiment_expand turns it into the cartesian list of configurations the runner
 * measures. Every key, its type, default and meaning: experiments/README.md.
 *
 * Errors are "FILE:LINE: message" with the line of the offending key (or section header); a missing
 * required key is reported at the file's last line and names the key. Nothing is run or printed
 * here. */
#ifndef QK_HARNESS_EXPERIMENT_H
#define QK_HARNESS_EXPERIMENT_H

#include <stdint.h>

#include "common/error.h"
#include "model/gemma.h"      /* qk_path: QK_PATH_INT8, QK_PATH_FP32 */
#include "harness/topology.h" /* qk_binding_policy: QK_BIND_COMPACT, _SCATTER, _NONE */

typedef enum { QK_RUN_FORWARD, QK_RUN_MATMUL } qk_run_kind;
typedef enum { QK_ACT_SCALE_TOKEN, QK_ACT_SCALE_BLOCK } qk_act_scale;
/* How the llama.cpp peer runs: in our process (its threadpool at poll 0, so its idle threads
 * sleep while ours measure), or in a child process of its own at its default threadpool and
 * polling, stopped while ours measure. */
typedef enum { QK_PEER_IN_PROCESS, QK_PEER_PROCESS } qk_peer_mode;
#define QK_EXPERIMENT_SITTINGS_MAX 64

typedef enum { QK_COUNTERS_DEFAULT, QK_COUNTERS_NONE, QK_COUNTERS_LIST } qk_counters_mode;

/* The names used in files and in configuration names ("forward", "token"); bindings are named by
 * qk_binding_policy_name (topology.h), paths "int8" / "fp32". */
const char *qk_run_kind_name(qk_run_kind v);
const char *qk_act_scale_name(qk_act_scale v);

#define QK_SEQ_LEN_MAX 2048
#define QK_THREADS_MAX 1024

typedef struct {
    char **v;
    int n;
} qk_strlist;

typedef struct {
    int *v;
    int n;
} qk_intlist;

typedef struct {
    char *file; /* the path or name the text came from (used in messages) */
    char *text; /* the file's full text, for the results context */

    /* [experiment] */
    char *name;        /* default: the file's base name without ".ini" */
    char *description; /* "" when absent */
    char *model;       /* a GGUF path, or "synthetic:PRESET" */
    unsigned runs;     /* bit (1 << qk_run_kind) for each kind listed in `run` */

    /* [sweep]; a list marked *_all was written `all` and is resolved by qk_experiment_expand */
    qk_strlist kernels; /* variant names */
    int kernels_all;
    qk_strlist isas; /* "scalar", "avx2", "avx512vnni" */
    int isas_all;
    qk_intlist threads; /* each 1..QK_THREADS_MAX */
    int threads_all;
    qk_intlist seq_len;   /* tokens per forward pass (or per matmul call), each 1..QK_SEQ_LEN_MAX */
    qk_intlist act_scale; /* qk_act_scale values */
    qk_intlist binding;   /* qk_binding_policy values */
    qk_intlist path;      /* qk_path values */
    int peer_llama;       /* peer = llama.cpp: a llama.cpp configuration joins each forward group */
    char *peer_library;   /* peer_library: libllama's path or folder; NULL: the default */
    unsigned peer_modes;  /* peer_mode: bit (1 << qk_peer_mode) per mode; default in-process */

    /* [measure] */
    int repetitions;       /* >= 1 */
    int warmups;           /* >= 0 */
    int quick_repetitions; /* >= 1, used instead of repetitions under --quick */
    qk_counters_mode counters_mode;
    qk_strlist counters; /* PAPI event names when counters_mode is QK_COUNTERS_LIST */
    int profile;         /* 1: record the per-operation breakdown of the forward pass */
    int accuracy;    /* 1: measure accuracy and memory footprint of the forward configurations */
    double noisy_cv; /* a configuration whose CV exceeds this is flagged noisy */
    uint64_t seed;   /* seeds token ids, activations and the bootstrap */
    int sittings;    /* the whole measurement repeated in this many processes (default 1) */
    double sitting_spacing_s; /* pause between the start of one sitting and the next */

    /* where these keys were (0 when defaulted), for messages about them after parsing */
    int run_line, kernels_line, isas_line, threads_line, peer_line, counters_line;
} qk_experiment;

/* Parse the file at path; on error out is left empty (safe to free) and err says "path:line: ...".
 */
int qk_experiment_parse_file(const char *path, qk_experiment *out, qk_error *err);
/* Parse text; name stands for the file in messages and gives the default experiment name. */
int qk_experiment_parse_string(const char *text, const char *name, qk_experiment *out,
                               qk_error *err);
void qk_experiment_free(qk_experiment *e);

/* One point of the sweep. Strings are copies: a config outlives the experiment. */
typedef struct {
    char name[256];   /* e.g. "forward/zero-copy/avx2/t:2/seq:16/act:token/bind:compact" */
    char variant[64]; /* kernel variant; "fp32" for the FP32 path */
    char isa[16];     /* "" for the FP32 path */
    char op[32];      /* matmul: the model operation whose shape this is; "" for forward */
    int rows, cols;   /* matmul: the weight shape (M x K); 0 for forward */
    int threads, seq_len;
    qk_act_scale act_scale; /* meaningless for the FP32 path (which quantises nothing) */
    qk_binding_policy binding;
    qk_path path;
    int peer; /* 1: the llama.cpp peer (variant "llama.cpp", isa "peer"); path is then unused */
    qk_peer_mode peer_mode; /* the peer's: in-process (isa "peer"), process ("peer-process") */
    int group; /* configurations with the same group differ only in variant/ISA: one comparison */
} qk_config;

typedef struct {    /* a matmul shape of the model (run = matmul) */
    const char *op; /* e.g. "attn_q" */
    int rows, cols;
} qk_shape;

/* What the experiment's `all` and the model mean on this machine; the runner fills it from the
 * kernel registry, the CPU and the loaded model. */
typedef struct {
    const char *const *variants; /* kernels = all: every variant, in registry order */
    int n_variants;
    const char *const *isas; /* isas = all: the ISAs this CPU can run, most portable first */
    int n_isas;
    int ncpu;               /* threads = all: 1, 2, ..., ncpu */
    const qk_shape *shapes; /* run = matmul: the model's distinct matmul shapes */
    int n_shapes;
} qk_sweep_universe;

/* Cartesian expansion, each list in file order. Outer loops, one group each: binding x threads x
 * seq_len [x shape] x path x act_scale; inner loops, the members of a group (contiguous): kernel x
 * ISA. The FP32 path has no kernel, ISA or activation scale: one configuration, a group of its own,
 * per (binding, threads, seq_len [, shape]). With peer = llama.cpp, each forward (binding, threads,
 * seq_len) gets one peer configuration per peer mode ("forward/llama.cpp/peer/t:T/seq:S/bind:B" in
 * our process, ".../llama.cpp/peer-process/..." in its own), the last members of that point's first
 * group (the first int8 activation scale's, else the FP32 one), so its repetitions interleave with
 * our kernels'. When u->variants is non-NULL, every named kernel must be in it, else "file:line:
 * kernels: unknown kernel ...". ISA names are checked when parsing; u->isas only resolves `all`.
 * Whether a (variant, ISA) pair exists and runs on this CPU is left to the runner (qk_kernel_find /
 * qk_kernel_available), which reports the pair as skipped, so one file serves every CPU. On success
 * *out is malloc'd (free with free()), *n >= 1. */
int qk_experiment_expand(const qk_experiment *e, const qk_sweep_universe *u, qk_config **out,
                         int *n, qk_error *err);

#endif
