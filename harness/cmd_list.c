/* qkbench list: every kernel in the registry, and whether this CPU can run it. */
#include <stdio.h>
#include <string.h>

#include "../kernels/kernel.h"
#include "commands.h"

int qk_cmd_list(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: qkbench list\n\nPrints every kernel (variant x ISA) compiled into qkbench, "
               "with a summary and\nwhether this CPU can run it (and why not).\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "qkbench list: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    printf("%-18s %-11s %-34s %s\n", "variant", "isa", "status", "summary");
    for (int i = 0; i < qk_kernel_count(); i++) {
        const qk_kernel *k = qk_kernel_at(i);
        const char *why = NULL;
        char status[64];
        if (qk_kernel_available(k, &why))
            snprintf(status, sizeof status, "available");
        else
            snprintf(status, sizeof status, "unavailable: %s", why ? why : "?");
        printf("%-18s %-11s %-34s %s\n", k->variant, k->isa, status, k->summary);
    }
    return 0;
}
