/* How the model runs its parallel work and its per-operation timers, without knowing threads:
 * the harness passes a parallel_for (its pinned pool) and, when profiling, a table of op timers. */
#ifndef QK_MODEL_EXEC_H
#define QK_MODEL_EXEC_H

/* Body of a parallel loop: handle items [begin, end). worker is 0..n_workers-1 (0 = calling
 * thread). */
typedef void (*qk_range_fn)(void *arg, int begin, int end, int worker);

/* Runs fn over [0, n) and returns when all of it is done. grain >= 1: the items are handed out in
 * chunks of grain (the last may be shorter) to whichever worker is free, so a worker the OS
 * descheduled holds back at most one chunk; grain <= 0: one contiguous range per worker. */
typedef void (*qk_parallel_for_fn)(void *pool, int n, int grain, qk_range_fn fn, void *arg);

/* Operations timed by the forward-pass profile. */
typedef enum {
    QK_OP_EMBED,
    QK_OP_NORM,     /* attn/post-attn/ffn/post-ffw/output norms */
    QK_OP_QK_NORM,  /* per-head q/k norms */
    QK_OP_QUANTIZE, /* activation quantisation (INT8 path) */
    QK_OP_MATMUL_Q,
    QK_OP_MATMUL_K,
    QK_OP_MATMUL_V,
    QK_OP_MATMUL_O,
    QK_OP_MATMUL_GATE,
    QK_OP_MATMUL_UP,
    QK_OP_MATMUL_DOWN,
    QK_OP_MATMUL_DENSE,
    QK_OP_ROPE,
    QK_OP_ATTENTION,
    QK_OP_GELU,
    QK_OP_RESIDUAL,
    QK_OP_POOL,          /* mean pooling + L2 normalisation */
    QK_OP_NORM_QUANTIZE, /* RMSNorm fused into activation quantisation (QK_KERNEL_FUSED_ACT) */
    QK_OP_GELU_QUANTIZE, /* GELU(gate) * up fused into the down projection's input quantisation */
    QK_OP_COUNT
} qk_op;

const char *qk_op_name(qk_op op);
int qk_op_is_matmul(qk_op op);

typedef struct {
    qk_parallel_for_fn parallel_for; /* NULL: run serially on the calling thread */
    void *pool;
    int n_workers;      /* >= 1: how many workers parallel_for uses */
    double *op_seconds; /* NULL: profiling off (no clock reads); else QK_OP_COUNT sums */
} qk_exec;

#endif
