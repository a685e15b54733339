/* qkbench: the command line. Each subcommand lives in its own cmd_*.c file. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/commands.h"

typedef struct {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"list", "kernels compiled in, and which this CPU can run", qk_cmd_list},
    {"gen-model", "write a synthetic EmbeddingGemma GGUF (tiny ... embeddinggemma-300m)",
     qk_cmd_gen_model},
    {"env", "CPU, topology, caches, counter availability", qk_cmd_env},
    {"embed", "embed token sequences (FP32 path or any INT8 kernel)", qk_cmd_embed},
    {"bench-matmul", "quick look: one kernel (or all) on one matrix shape", qk_cmd_bench_matmul},
    {"run", "run an experiment file: interleaved repetitions -> JSON + CSV", qk_cmd_run},
    {"compare", "two result files side by side, with ratios and intervals", qk_cmd_compare},
    {"roofline", "measure this CPU's ceilings: read bandwidth and int8 peak rates",
     qk_cmd_roofline},
    {"report", "REPORT.md + gnuplot plots from result files (one column per CPU)", qk_cmd_report},
    {"tokenize", "text -> token ids with a model's tokenizer", qk_cmd_tokenize},
    {"fleet", "one experiment on many CPUs through SLURM, merged into one report", qk_cmd_fleet},
};

static void usage(FILE *f) {
    fprintf(
        f,
        "qkbench %s (%s): Q8_0 kernels measured alone and inside EmbeddingGemma's forward pass\n\n"
        "usage: qkbench COMMAND [options]     (qkbench COMMAND --help for each)\n\n",
        QK_VERSION, QK_GIT_COMMIT);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

/* QK_ISA caps the kernels' tier; a value that is not a tier would be ignored and the run measured
 * at the full tier, so every command refuses it (exit 2) before doing anything. */
static int check_qk_isa(void) {
    static const char *const tiers[] = {"scalar", "avx2", "avx512vnni"};
    const char *v = getenv("QK_ISA");
    if (!v || !*v) return 0;
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++)
        if (strcmp(v, tiers[i]) == 0) return 0;
    fprintf(stderr,
            "qkbench: QK_ISA=%.40s is not a tier: expected scalar, avx2 or avx512vnni (unset it "
            "for the best this CPU has)\n",
            v);
    return 2;
}

int main(int argc, char **argv) {
    /* a file-size limit (ulimit -f) then fails a write with EFBIG, which is reported like a full
     * disk and leaves the earlier file, instead of killing the process mid-write */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("qkbench %s (%s, %s, %s)\n", QK_VERSION, QK_GIT_COMMIT, QK_BUILD_TYPE, QK_COMPILER);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            const int bad = check_qk_isa();
            return bad ? bad : commands[i].run(argc - 1, argv + 1);
        }
    /* internal: the llama.cpp peer's own process, started by `run` (not listed by --help) */
    if (strcmp(argv[1], "peer-child") == 0) return qk_cmd_peer_child(argc - 1, argv + 1);
    fprintf(stderr, "qkbench: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
