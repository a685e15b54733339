#include "model/exec.h"

static const char *const op_names[QK_OP_COUNT] = {
    [QK_OP_EMBED] = "embed",
    [QK_OP_NORM] = "norm",
    [QK_OP_QK_NORM] = "qk_norm",
    [QK_OP_QUANTIZE] = "quantize",
    [QK_OP_MATMUL_Q] = "matmul_q",
    [QK_OP_MATMUL_K] = "matmul_k",
    [QK_OP_MATMUL_V] = "matmul_v",
    [QK_OP_MATMUL_O] = "matmul_o",
    [QK_OP_MATMUL_GATE] = "matmul_gate",
    [QK_OP_MATMUL_UP] = "matmul_up",
    [QK_OP_MATMUL_DOWN] = "matmul_down",
    [QK_OP_MATMUL_DENSE] = "matmul_dense",
    [QK_OP_ROPE] = "rope",
    [QK_OP_ATTENTION] = "attention",
    [QK_OP_GELU] = "gelu",
    [QK_OP_RESIDUAL] = "residual",
    [QK_OP_POOL] = "pool",
    [QK_OP_NORM_QUANTIZE] = "norm+quantize",
    [QK_OP_GELU_QUANTIZE] = "gelu+quantize",
};

const char *qk_op_name(qk_op op) {
    return (unsigned)op < QK_OP_COUNT ? op_names[op] : "?";
}

int qk_op_is_matmul(qk_op op) {
    return op >= QK_OP_MATMUL_Q && op <= QK_OP_MATMUL_DENSE;
}
