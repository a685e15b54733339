/* The facts of this machine that matter to a benchmark, as one JSON object (qkbench env prints it;
 * the results context reuses it). */
#include "harness/env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "kernels/kernel.h"
#include "harness/counters.h"
#include "harness/topology.h"

/* SIMD flags that matter to the kernels, as /proc/cpuinfo spells them. */
static const char *const simd_flags[] = {"avx2",     "fma",      "f16c",        "avx512f",
                                         "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni"};
enum { N_SIMD = sizeof simd_flags / sizeof simd_flags[0] };

/* First value of "key : value" in /proc/cpuinfo, malloc'd; NULL if absent. */
static char *cpuinfo_value(const char *key) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return NULL;
    char *line = NULL, *out = NULL;
    size_t cap = 0, klen = strlen(key);
    while (!out && getline(&line, &cap, f) > 0) {
        if (strncmp(line, key, klen) != 0 || !strchr(" \t:", line[klen])) continue;
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        out = strdup(v);
    }
    free(line);
    fclose(f);
    return out;
}

static int has_flag(const char *flags, const char *flag) {
    size_t n = strlen(flag);
    for (const char *p = flags; p && (p = strstr(p, flag)); p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

/* First line of a small file, trimmed; 0 if read. */
static int read_line(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static const char *tier_name(unsigned bits) {
    return (bits & QK_ISA_AVX512VNNI) ? "avx512vnni" : (bits & QK_ISA_AVX2) ? "avx2" : "scalar";
}

int qk_env_to_json(json_t **out, qk_error *err) {
    *out = NULL;
    json_t *env = json_object();
    if (!env) return qk_fail(err, "env: out of memory");

    char *model = cpuinfo_value("model name");
    json_object_set_new(env, "cpu_model", model ? json_string(model) : json_null());
    free(model);
    struct utsname u;
    if (uname(&u) == 0) {
        char os[400];
        snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
        json_object_set_new(env, "os", json_string(os));
    }

    qk_topology *topo;
    if (qk_topology_open(&topo, err) != 0) {
        json_decref(env);
        return qk_fail_prefix(err, "env");
    }
    json_object_set_new(env, "topology", qk_topology_to_json(topo));
    qk_topology_close(topo);

    char *flags = cpuinfo_value("flags");
    json_t *simd = json_object();
    for (int i = 0; i < N_SIMD; i++)
        json_object_set_new(simd, simd_flags[i], json_boolean(has_flag(flags, simd_flags[i])));
    free(flags);
    json_object_set_new(env, "simd", simd);

    unsigned bits = qk_cpu_isa_bits(), detected = qk_cpu_isa_bits_detected();
    const char *note = qk_cpu_isa_note();
    json_object_set_new(env, "kernel_isa",
                        json_pack("{s:s, s:s, s:s}", "tier", tier_name(bits), "detected",
                                  tier_name(detected), "note", note ? note : ""));

    qk_counters c;
    if (qk_counters_init(&c, NULL, 0, 1, err) != 0) {
        json_decref(env);
        return qk_fail_prefix(err, "env: counters");
    }
    json_object_set_new(env, "counters", qk_counters_to_json(&c, NULL));
    qk_counters_free(&c);

    char buf[256];
    json_object_set_new(
        env, "governor",
        read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", buf, sizeof buf) == 0
            ? json_string(buf)
            : json_null());
    json_object_set_new(env, "aslr",
                        read_line("/proc/sys/kernel/randomize_va_space", buf, sizeof buf) == 0
                            ? json_integer(atoi(buf))
                            : json_null());
    json_object_set_new(env, "perf_event_paranoid",
                        read_line("/proc/sys/kernel/perf_event_paranoid", buf, sizeof buf) == 0
                            ? json_integer(atoi(buf))
                            : json_null());
    *out = env;
    return 0;
}
