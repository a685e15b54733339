/* qkbench peer-child (internal): the llama.cpp peer's own process, started by `qkbench run` for a
 * configuration with peer_mode = process (harness/peers/llama_process.h). It serves on fd 3, the
 * socket its parent gave it; run by hand it says so and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/peers/llama_process.h"

static void usage(FILE *f) {
    fprintf(f, "usage: qkbench peer-child --model GGUF --threads N --max-tokens N [--library PATH] "
               "[--cpus I,J,...]\n"
               "internal: the llama.cpp peer in a process of its own, started by `qkbench run` "
               "(peer_mode = process); it serves its parent on fd 3\n");
}

/* "0,1,3" -> cpus; 0 or -1 (err). */
static int parse_cpus(const char *s, int *cpus, int max, int *n, qk_error *err) {
    *n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long v;
        if (*n == max) return qk_fail(err, "--cpus: more than %d PUs", max);
        if (qk_parse_int(t, "--cpus", 0, 1 << 20, &v, err)) return -1;
        cpus[(*n)++] = (int)v;
    }
    if (*n == 0) return qk_fail(err, "--cpus: expected a list of PU indices like 0,1");
    return 0;
}

int qk_cmd_peer_child(int argc, char **argv) {
    const char *model = NULL, *library = NULL;
    long threads = 0, tokens = 0;
    int cpus[256], n_cpus = 0;
    qk_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "qkbench peer-child: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--library"))
            library = v;
        else if (!strcmp(a, "--threads")) {
            if (qk_parse_int(v, "--threads", 1, 4096, &threads, &err))
                return qk_cli_error("peer-child", 2, &err);
        } else if (!strcmp(a, "--max-tokens")) {
            if (qk_parse_int(v, "--max-tokens", 1, 1 << 20, &tokens, &err))
                return qk_cli_error("peer-child", 2, &err);
        } else if (!strcmp(a, "--cpus")) {
            if (parse_cpus(v, cpus, 256, &n_cpus, &err)) return qk_cli_error("peer-child", 2, &err);
        } else {
            fprintf(stderr, "qkbench peer-child: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || threads < 1 || tokens < 1) {
        fprintf(stderr, "qkbench peer-child: --model, --threads and --max-tokens are required\n");
        usage(stderr);
        return 2;
    }
    const int rc = qk_peer_process_serve(QK_PEER_PROCESS_FD, library, model, (int)threads,
                                         (int)tokens, cpus, n_cpus, &err);
    if (rc) return qk_cli_error("peer-child", rc == 1 ? 2 : 1, &err);
    return 0;
}
