/* Lookups every section uses: configurations by key, speedups between two of them, profiles,
 * memory figures, roofline ceilings, and the headline configuration the summaries quote. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

int rp_isa_rank(const char *isa) {
    if (!strcmp(isa, "scalar")) return 0;
    if (!strcmp(isa, "avx2")) return 1;
    if (!strcmp(isa, "avx512vnni")) return 2;
    return *isa ? 3 : -1;
}

int rp_variant_rank(const rp_report *R, const char *v) {
    for (int i = 0; i < R->n_variants; i++)
        if (!strcmp(R->variants[i], v)) return i;
    return 1000;
}

/* ---- configurations by key */

int rp_key_cmp(const rp_key *a, const rp_key *b) {
    int d = rp_isa_rank(a->isa) - rp_isa_rank(b->isa);
    if (d) return d;
    if ((d = strcmp(a->isa, b->isa))) return d;
    if ((d = a->seq - b->seq)) return d;
    if ((d = a->threads - b->threads)) return d;
    if ((d = strcmp(a->act, b->act))) return d;
    if ((d = strcmp(a->binding, b->binding))) return d;
    return strcmp(a->model, b->model);
}

rp_key rp_key_of(const rp_cfg *c) {
    rp_key k = {c->isa, c->act, c->binding, c->model, c->seq_len, c->threads};
    return k;
}

int rp_collect_keys(const rp_cpu *g, const char *run, rp_key **out) {
    rp_key *k = malloc((size_t)(g->n_cfgs + 1) * sizeof *k);
    int n = 0;
    if (!k) return (*out = NULL), 0;
    for (int i = 0; i < g->n_cfgs; i++) {
        const rp_cfg *c = &g->cfgs[i];
        if (!rp_usable(c) || !rp_is_int8(c) || strcmp(c->run, run)) continue;
        rp_key x = rp_key_of(c);
        int j = 0;
        while (j < n && rp_key_cmp(&k[j], &x)) j++;
        if (j == n) k[n++] = x;
    }
    for (int i = 1; i < n; i++) /* insertion sort: few keys */
        for (int j = i; j > 0 && rp_key_cmp(&k[j - 1], &k[j]) > 0; j--) {
            rp_key t = k[j];
            k[j] = k[j - 1];
            k[j - 1] = t;
        }
    *out = k;
    return n;
}

const rp_cfg *rp_find_cfg(const rp_cpu *g, const char *run, const char *variant, const rp_key *k,
                          const char *op) {
    for (int i = 0; i < g->n_cfgs; i++) {
        const rp_cfg *c = &g->cfgs[i];
        if (!rp_usable(c) || !rp_is_int8(c) || strcmp(c->run, run) || strcmp(c->variant, variant))
            continue;
        if (strcmp(c->isa, k->isa) || c->seq_len != k->seq || c->threads != k->threads ||
            strcmp(c->act, k->act) || strcmp(c->binding, k->binding) || strcmp(c->model, k->model))
            continue;
        if (op && strcmp(c->op, op)) continue;
        return c;
    }
    return NULL;
}

const rp_cfg *rp_find_fp32(const rp_cpu *g, const rp_key *k) {
    for (int i = 0; i < g->n_cfgs; i++) {
        const rp_cfg *c = &g->cfgs[i];
        if (rp_usable(c) && !rp_is_int8(c) && !strcmp(c->run, "forward") && c->seq_len == k->seq &&
            c->threads == k->threads && !strcmp(c->binding, k->binding) &&
            !strcmp(c->model, k->model))
            return c;
    }
    return NULL;
}

/* ---- speedups: paired when the results compared the two, else from the medians */

qk_interval rp_speedup_of(const rp_cfg *v, const rp_cfg *b, int *paired) {
    if (v == b) {
        if (paired) *paired = 1;
        return qk_interval_point(1.0);
    }
    if (v->has_cmp && !strcmp(v->cmp_base, b->run_name) && v->doc == b->doc) {
        if (paired) *paired = 1;
        return qk_speedup_from_ratio(qk_interval_make(v->ratio, v->r_lo, v->r_hi));
    }
    if (paired) *paired = 0;
    return qk_interval_make(b->med / v->med, b->lo / v->hi, b->hi / v->lo);
}

qk_interval rp_ratio_of(const rp_cfg *v, const rp_cfg *b) {
    if (v == b) return qk_interval_point(1.0);
    if (v->has_cmp && !strcmp(v->cmp_base, b->run_name) && v->doc == b->doc)
        return qk_interval_make(v->ratio, v->r_lo, v->r_hi);
    return qk_interval_make(v->med / b->med, v->lo / b->hi, v->hi / b->lo);
}

/* ---- per-operation profiles */

json_t *rp_profile_of(const rp_cfg *c) {
    json_t *p = c && c->agg ? json_object_get(c->agg, "profile_ms") : NULL;
    return json_is_object(p) && json_object_size(p) ? p : NULL;
}
double rp_prof_sum(json_t *p, int matmul_only) {
    double s = 0;
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (json_is_number(v) && (!matmul_only || !strncmp(k, "matmul_", 7)))
            s += json_number_value(v);
    }
    return s;
}

/* ---- the headline configuration (see model.h) */

int rp_headline(const rp_cpu *g, rp_key *out) {
    rp_key *k;
    const int n = rp_collect_keys(g, "forward", &k);
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!rp_find_cfg(g, "forward", "parse-per-block", &k[i], NULL) ||
            !rp_find_cfg(g, "forward", "zero-copy", &k[i], NULL))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const rp_key *a = &k[i], *b = &k[best];
        int d = rp_isa_rank(a->isa) - rp_isa_rank(b->isa);
        if (!d) d = a->threads - b->threads;
        if (!d) d = abs(b->seq - 16) - abs(a->seq - 16);
        if (!d) d = !strcmp(a->act, "token") - !strcmp(b->act, "token");
        if (d > 0) best = i;
    }
    if (best >= 0) *out = k[best];
    free(k);
    return best >= 0 ? 0 : -1;
}

/* ---- memory figures of a median record */

double rp_mem_field(const rp_cfg *c, const char *key) {
    json_t *m = c && c->agg ? json_object_get(c->agg, "memory") : NULL;
    if (!strcmp(key, "rss_bytes") && json_is_number(json_object_get(m, "peak_rss_bytes")))
        key = "peak_rss_bytes"; /* the runner's name; rss_bytes accepted too */
    return qk_rj_num(m, key);
}

double rp_footprint(const rp_cfg *c, int *used_file) {
    double res = rp_mem_field(c, "resident_file_bytes");
    *used_file = 0;
    if (isnan(res)) res = rp_mem_field(c, "file_bytes"), *used_file = 1;
    double sum = res;
    /* the tokenizer's heap counts; its arrays read in place are part of the resident file */
    const char *parts[] = {"prepared_bytes", "scratch_bytes", "fp32_bytes", "tokenizer_bytes"};
    for (int i = 0; i < 4; i++) {
        const double v = rp_mem_field(c, parts[i]);
        if (!isnan(v)) sum += v;
    }
    return sum;
}

/* ---- roofline ceilings */

double rp_roof_bw(json_t *roof, int threads, const char *ws) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(roof, "bandwidth"), i, b) {
        if (qk_rj_int(b, "threads") == threads && !strcmp(qk_rj_str(b, "working_set"), ws))
            return qk_rj_num(b, "gbps");
    }
    return NAN;
}
int rp_roof_max_threads(json_t *roof) {
    int m = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(roof, "bandwidth"), i, b) {
        if (qk_rj_int(b, "threads") > m) m = qk_rj_int(b, "threads");
    }
    return m;
}
