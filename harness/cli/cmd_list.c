/* qkbench list: every kernel in the registry, and whether this CPU can run it. */
#include <stdio.h>
#include <string.h>

#include "kernels/kernel.h"
#include "harness/cli/commands.h"

int qk_cmd_list(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf(
            "usage: qkbench list\n\nPrints every kernel (variant x ISA) compiled into qkbench, "
            "with its tile (rows packed\ntogether, 1 = any row split, x tokens served per pass "
            "over a weight block), a\nsummary, and whether this CPU can run it (and why not).\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "qkbench list: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    printf("%-18s %-11s %-6s %-34s %s\n", "variant", "isa", "tile", "status", "summary");
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_at(i);
        const char *why = NULL;
        char status[64];
        if (qk_kernel_available(k, &why))
            snprintf(status, sizeof status, "available");
        else
            snprintf(status, sizeof status, "unavailable: %s", why ? why : "?");
        char tile[16];
        snprintf(tile, sizeof tile, "%dx%d", k->row_block > 1 ? k->row_block : 1, k->token_tile);
        printf("%-18s %-11s %-6s %-34s %s\n", k->variant, k->isa, tile, status, k->summary);
    }
    return 0;
}
