/* qkbench env: the facts of harness/env.c printed as aligned text or as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/commands.h"
#include "harness/env.h"

static void print_size(char *buf, size_t size, json_int_t bytes) {
    if (bytes >= (1 << 20) && bytes % (1 << 20) == 0)
        snprintf(buf, size, "%lld MiB", (long long)bytes >> 20);
    else if (bytes >= 1024 && bytes % 1024 == 0)
        snprintf(buf, size, "%lld KiB", (long long)bytes >> 10);
    else
        snprintf(buf, size, "%lld B", (long long)bytes);
}

static const char *plural(json_int_t n) {
    return n == 1 ? "" : "s";
}

static void print_text(const json_t *env) {
    const json_t *t = json_object_get(env, "topology");
    printf("%-12s %s\n", "cpu",
           json_string_value(json_object_get(env, "cpu_model")) ?: "(unknown)");
    printf("%-12s %s\n", "os", json_string_value(json_object_get(env, "os")) ?: "(unknown)");
    json_int_t pk = json_integer_value(json_object_get(t, "packages")),
               nu = json_integer_value(json_object_get(t, "numa_nodes")),
               co = json_integer_value(json_object_get(t, "cores")),
               pu = json_integer_value(json_object_get(t, "pus"));
    printf("%-12s %lld package%s, %lld NUMA node%s, %lld core%s, %lld PU%s; usable PUs %s\n",
           "topology", (long long)pk, plural(pk), (long long)nu, plural(nu), (long long)co,
           plural(co), (long long)pu, plural(pu),
           json_string_value(json_object_get(t, "usable_cpuset")));
    size_t i;
    json_t *cache;
    json_array_foreach(json_object_get(t, "caches"), i, cache) {
        char name[8], size[32];
        json_int_t level = json_integer_value(json_object_get(cache, "level"));
        json_int_t sharing = json_integer_value(json_object_get(cache, "cores_sharing"));
        json_int_t inst = json_integer_value(json_object_get(cache, "instances"));
        json_int_t ways = json_integer_value(json_object_get(cache, "associativity"));
        snprintf(name, sizeof name, level == 1 ? "L1d" : "L%lld", (long long)level);
        print_size(size, sizeof size, json_integer_value(json_object_get(cache, "size_bytes")));
        printf("%-12s %s, %lld B lines, ", name, size,
               (long long)json_integer_value(json_object_get(cache, "line_bytes")));
        if (ways > 0) printf("%lld-way, ", (long long)ways);
        printf("shared by %lld core%s, %lld instance%s\n", (long long)sharing, plural(sharing),
               (long long)inst, plural(inst));
    }
    printf("%-12s", "simd");
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(env, "simd"), key, v) {
        if (json_is_true(v)) printf(" %s", key);
    }
    printf("; absent:");
    json_object_foreach(json_object_get(env, "simd"), key, v) {
        if (!json_is_true(v)) printf(" %s", key);
    }
    printf("\n");
    const json_t *isa = json_object_get(env, "kernel_isa");
    const char *note = json_string_value(json_object_get(isa, "note"));
    printf("%-12s %s (detected: %s)%s%s\n", "kernel isa",
           json_string_value(json_object_get(isa, "tier")),
           json_string_value(json_object_get(isa, "detected")), note && *note ? "; " : "",
           note ? note : "");
    const json_t *c = json_object_get(env, "counters");
    if (json_is_true(json_object_get(c, "available"))) {
        printf("%-12s available:", "counters");
        json_array_foreach(json_object_get(c, "events"), i, v) {
            printf(" %s", json_string_value(v));
        }
        json_object_foreach(json_object_get(c, "dropped"), key, v) {
            printf("; %s dropped (%s)", key, json_string_value(v));
        }
        printf("\n");
    } else {
        printf("%-12s unavailable: %s\n", "counters",
               json_string_value(json_object_get(c, "reason")));
    }
    const char *gov = json_string_value(json_object_get(env, "governor"));
    printf("%-12s %s\n", "governor", gov ? gov : "not exposed (no cpufreq: VM or fixed frequency)");
    const json_t *aslr = json_object_get(env, "aslr");
    static const char *const aslr_text[] = {"off", "partial (stack, mmap, vdso)",
                                            "full (stack, mmap, vdso, heap)"};
    json_int_t a = json_integer_value(aslr);
    printf("%-12s %s\n", "aslr",
           !json_is_integer(aslr) ? "unknown"
           : (a >= 0 && a <= 2)   ? aslr_text[a]
                                  : "?");
}

int qk_cmd_env(int argc, char **argv) {
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: qkbench env [--json]\n\nPrints the CPU model, topology (packages, NUMA "
                   "nodes, cores, PUs), caches with\nsizes and sharing, SIMD features, the "
                   "kernels' ISA "
                   "tier, hardware-counter\navailability (and why not), the frequency governor and "
                   "ASLR. --json: the same as JSON.\n");
            return 0;
        } else {
            fprintf(stderr, "qkbench env: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    qk_error err = {{0}};
    json_t *env;
    if (qk_env_to_json(&env, &err) != 0) {
        fprintf(stderr, "qkbench env: %s\n", err.msg);
        return 1;
    }
    if (as_json) {
        char *s = json_dumps(env, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) printf("%s\n", s);
        free(s);
    } else {
        print_text(env);
    }
    json_decref(env);
    return 0;
}
