/* The llama.cpp peer's measurements for the plots. The loader leaves the peer out of the
 * configurations (it is not one of our kernels: no table lists it beside them), so the plots that
 * draw it read its records from the CPU's documents here, as the peer section does. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

int rp_peer_points(const rp_report *R, const rp_cpu *g, rp_peer_point **out) {
    int n = 0, cap = 0;
    rp_peer_point *p = NULL;
    for (int d = 0; d < g->n_docs; d++) {
        json_t *doc = R->docs[g->docs[d]];
        json_t *mod = json_object_get(json_object_get(doc, "context"), "model");
        const char *model =
            *qk_rj_str(mod, "spec") ? qk_rj_str(mod, "spec") : qk_rj_str(mod, "path");
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(doc, "benchmarks"), i, b) {
            if (strcmp(qk_rj_str(b, "path"), "llama.cpp") ||
                json_is_true(json_object_get(b, "error_occurred")) ||
                strcmp(qk_rj_str(b, "run_type"), "aggregate") ||
                strcmp(qk_rj_str(b, "aggregate_name"), "median"))
                continue;
            const double med = qk_rj_ms(b);
            if (!isfinite(med)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                rp_peer_point *q = realloc(p, (size_t)cap * sizeof *q);
                if (!q) break;
                p = q;
            }
            rp_peer_point *x = &p[n++];
            const char *name = qk_rj_str(b, "run_name");
            x->model = model;
            x->mode = rp_peer_mode(b);
            x->binding = qk_rj_str(b, "binding");
            x->threads = qk_rj_int(b, "threads");
            x->seq = qk_rj_int(b, "seq_len");
            x->med = med;
            x->lo = qk_rj_agg_ms(doc, name, "ci_lo");
            x->hi = qk_rj_agg_ms(doc, name, "ci_hi");
            json_t *cmp = qk_rj_comparison(doc, name);
            x->ratio = qk_rj_num(cmp, "ratio");
            x->r_lo = qk_rj_num(cmp, "ci_lo");
            x->r_hi = qk_rj_num(cmp, "ci_hi");
            x->has_cmp = cmp && isfinite(x->ratio) && x->ratio > 0;
            x->base = cmp ? qk_rj_str(cmp, "baseline") : "";
        }
    }
    *out = p;
    return p ? n : 0;
}

const char *rp_peer_mode(json_t *rec) {
    const char *m = qk_rj_str(rec, "peer_mode");
    if (!strcmp(m, RP_PEER_PROCESS)) return RP_PEER_PROCESS;
    if (!*m && !strcmp(qk_rj_str(rec, "isa"), "peer-process")) return RP_PEER_PROCESS;
    return RP_PEER_IN_PROCESS;
}

const char *rp_peer_mode_words(const char *mode) {
    return !strcmp(mode, RP_PEER_PROCESS) ? "own process" : "in-process";
}

const char *rp_peer_headline_mode(const rp_peer_point *p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i].has_cmp && !strcmp(p[i].mode, RP_PEER_PROCESS)) return RP_PEER_PROCESS;
    return RP_PEER_IN_PROCESS;
}

const rp_peer_point *rp_peer_headline(const rp_peer_point *p, int n, const rp_key *k) {
    const char *mode = rp_peer_headline_mode(p, n);
    const rp_peer_point *best = NULL;
    for (int i = 0; i < n; i++) {
        const rp_peer_point *x = &p[i];
        if (!x->has_cmp || strcmp(x->mode, mode)) continue;
        if (k && x->threads == k->threads && x->seq == k->seq && !strcmp(x->model, k->model))
            return x;
        if (!best || x->threads > best->threads ||
            (x->threads == best->threads && abs(x->seq - 16) < abs(best->seq - 16)))
            best = x;
    }
    return best;
}
