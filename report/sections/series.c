/* REPORT.md sections 7, "Thread scaling", and 8, "Sequence length". Both show series of forward
 * configurations that differ in one parameter and agree in every other, so one implementation
 * serves both, parameterised by an axis: the parameter swept, the one held, the columns its table
 * adds and the last column of its plot data. Plots: threads.gp, seqlen.gp. A third sweep (say,
 * activation granularity) is a third axis and a third section descriptor here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"
#include "report/style.h"

#define MAX_POINTS 64

typedef struct {
    const rp_cpu *g;
    const rp_cfg *c[MAX_POINTS]; /* sorted by the swept parameter */
    int n;
} series;

typedef struct {
    const char *plot;          /* the section's plot: NAME.dat, NAME.vars, NAME.png */
    const char *heading;       /* the section's Markdown heading */
    const char *missing, *run; /* without any series: what is missing, what to run */
    const char *image;         /* the plot's alternative text */
    const char *x_name;        /* the swept parameter's column, in the table and the data */
    const char *held_name;     /* the held parameter, in series titles */
    int (*x)(const rp_cfg *c); /* the swept parameter */
    int (*held)(const rp_cfg *c);
    int n_cols;                                  /* the table's columns after the median */
    void (*col_heads)(FILE *f, const series *s); /* " heading | ... |" */
    void (*cols)(FILE *f, const series *s, const rp_cfg *c); /* " value | ... |" */
    const char *y_name;                                      /* the plot data's last column */
    double (*y)(const series *s, const rp_cfg *c);
} axis;

/* ---- the series */

static int same_series(const axis *ax, const rp_cfg *a, const rp_cfg *b) {
    return !strcmp(a->run, b->run) && !strcmp(a->path, b->path) &&
           !strcmp(a->variant, b->variant) && !strcmp(a->isa, b->isa) && !strcmp(a->act, b->act) &&
           !strcmp(a->binding, b->binding) && !strcmp(a->op, b->op) &&
           !strcmp(a->model, b->model) && ax->held(a) == ax->held(b);
}

/* Forward series with at least two distinct values of the swept parameter. *out is malloc'd. */
static int collect_series(const rp_report *R, const axis *ax, series **out) {
    int n = 0, cap = 8;
    series *s = malloc((size_t)cap * sizeof *s);
    if (!s) return (*out = NULL), 0;
    for (int c = 0; c < R->n_cpus; c++) {
        const rp_cpu *g = &R->cpus[c];
        for (int i = 0; i < g->n_cfgs; i++) {
            const rp_cfg *x = &g->cfgs[i];
            if (!rp_usable(x) || strcmp(x->run, "forward")) continue;
            int done = 0;
            for (int j = 0; j < n && !done; j++)
                done = s[j].g == g && same_series(ax, s[j].c[0], x);
            if (done) continue;
            series cur = {g, {0}, 0};
            for (int j = i; j < g->n_cfgs && cur.n < MAX_POINTS; j++) {
                const rp_cfg *y = &g->cfgs[j];
                if (!rp_usable(y) || !same_series(ax, x, y)) continue;
                int dup = 0;
                for (int m = 0; m < cur.n; m++) dup |= ax->x(cur.c[m]) == ax->x(y);
                if (!dup) cur.c[cur.n++] = y;
            }
            if (cur.n < 2) continue;
            for (int a = 1; a < cur.n; a++)
                for (int b = a; b > 0 && ax->x(cur.c[b - 1]) > ax->x(cur.c[b]); b--) {
                    const rp_cfg *t = cur.c[b];
                    cur.c[b] = cur.c[b - 1];
                    cur.c[b - 1] = t;
                }
            if (n == cap) {
                series *ns = realloc(s, (size_t)(cap *= 2) * sizeof *s);
                if (!ns) break;
                s = ns;
            }
            s[n++] = cur;
        }
    }
    *out = s;
    return n;
}

/* "A zero-copy/avx2, seq 16" (the CPU's label when several, ", act block", the model when several)
 */
static rp_str series_title(const rp_report *R, const axis *ax, const series *s) {
    rp_str r;
    const rp_cfg *c = s->c[0];
    char model[96] = "";
    if (R->show_model) snprintf(model, sizeof model, " (%s)", c->model);
    if (rp_is_int8(c))
        snprintf(r.s, sizeof r.s, "%s%s/%s, %s %d%s%s", rp_plot_prefix(R, s->g).s, c->variant,
                 c->isa, ax->held_name, ax->held(c), strcmp(c->act, "token") ? ", act block" : "",
                 model);
    else
        snprintf(r.s, sizeof r.s, "%sfp32 path, %s %d%s", rp_plot_prefix(R, s->g).s, ax->held_name,
                 ax->held(c), model);
    return r;
}

/* ---- Markdown: a table per series */

static void series_markdown(FILE *f, const rp_report *R, const axis *ax,
                            const qk_report_plot *plot) {
    fprintf(f, "%s\n\n", ax->heading);
    series *s;
    const int n = collect_series(R, ax, &s);
    if (n == 0) {
        rp_not_measured(f, ax->missing, ax->run);
        free(s);
        return;
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "#### %s\n\n| %s | median ms [95%% CI] |", series_title(R, ax, &s[i]).s,
                ax->x_name);
        ax->col_heads(f, &s[i]);
        fprintf(f, "\n|---|---|");
        for (int k = 0; k < ax->n_cols; k++) fprintf(f, "---|");
        fprintf(f, "\n");
        for (int j = 0; j < s[i].n; j++) {
            const rp_cfg *c = s[i].c[j];
            fprintf(f, "| %d | %s |", ax->x(c), rp_fmt_ms_ci(c->med, c->lo, c->hi).s);
            ax->cols(f, &s[i], c);
            fprintf(f, "\n");
        }
        fprintf(f, "\n");
    }
    free(s);
    if (plot && plot->ok)
        fprintf(f, "![%s](%s.png)\n\n", ax->image, ax->plot);
    else if (plot)
        fprintf(f, "*Plot %s.png missing: %s.*\n\n", ax->plot, plot->why);
}

static int cfg_threads(const rp_cfg *c);
static int cfg_seq_len(const rp_cfg *c);

/* ---- plot data: NAME.dat (a block per drawn series), NAME.vars (report/style.h's panels) */

/* The series of one CPU, model and held value, and llama.cpp's points there. */
typedef struct {
    const rp_cpu *g;
    const char *model;
    int held;
    const rp_peer_point *peer[MAX_POINTS]; /* sorted by the swept parameter */
    int n_peer;
} group;

typedef struct {
    const rp_report *R;
    const axis *ax;
    const series *s;
    FILE *d;
    rp_plotset ps;
    int blocks;
    double ref_x[256], ref_y[256]; /* a panel's first point, the reference line's anchor */
    double y_lo, y_hi, sp_hi;
    int x_lo, x_hi;
} writer;

static int peer_x(const axis *ax, const rp_peer_point *p) {
    return ax->x == cfg_threads ? p->threads : p->seq;
}
static int peer_held(const axis *ax, const rp_peer_point *p) {
    return ax->x == cfg_threads ? p->seq : p->threads;
}

static void extend(writer *w, int x, double med, double lo, double hi) {
    if (x < w->x_lo) w->x_lo = x;
    if (x > w->x_hi) w->x_hi = x;
    w->y_lo = fmin(w->y_lo, isfinite(lo) ? lo : med);
    w->y_hi = fmax(w->y_hi, isfinite(hi) ? hi : med);
}

static const char *variant_of(const rp_cfg *c) {
    return rp_is_int8(c) ? c->variant : "fp32";
}

static int same_look(const writer *w, int a, int b) {
    const rp_cfg *x = w->s[a].c[0], *y = w->s[b].c[0];
    const rp_look la = rp_style_look(w->R, variant_of(x), x->isa);
    const rp_look lb = rp_style_look(w->R, variant_of(y), y->isa);
    return !strcmp(la.colour, lb.colour) && la.dt == lb.dt;
}

/* A panel holds at most RP_PANEL_MAX_SERIES series, llama.cpp's among them, and two series of one
 * panel must differ in colour or dash (the same variant on the same ISA tier does not). */
static int crowded(const writer *w, const group *gr, const int *idx, int n) {
    if (n + (gr->n_peer > 0) > RP_PANEL_MAX_SERIES) return 1;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            if (same_look(w, idx[a], idx[b])) return 1;
        }
    return 0;
}

static void emit_panel(writer *w, const group *gr, const int *idx, int n) {
    const rp_report *R = w->R;
    const axis *ax = w->ax;
    int one_isa = 1, one_act = 1;
    for (int i = 1; i < n; i++) {
        one_isa &= !strcmp(w->s[idx[i]].c[0]->isa, w->s[idx[0]].c[0]->isa);
        one_act &= !strcmp(w->s[idx[i]].c[0]->act, w->s[idx[0]].c[0]->act);
    }
    const rp_cfg *c0 = w->s[idx[0]].c[0];
    /* the panel's title says what all its series share */
    char title[192];
    snprintf(title, sizeof title, "%s%s%s", rp_panel_prefix(R, gr->g).s,
             R->show_model ? gr->model : "", R->show_model ? ": " : "");
    if (one_isa) snprintf(title + strlen(title), sizeof title - strlen(title), "%s, ", c0->isa);
    if (one_act)
        snprintf(title + strlen(title), sizeof title - strlen(title), "per-%s activation scales, ",
                 c0->act);
    if (strcmp(c0->binding, "compact")) /* one binding a panel (split()) */
        snprintf(title + strlen(title), sizeof title - strlen(title), "bind %s, ", c0->binding);
    snprintf(title + strlen(title), sizeof title - strlen(title), "%d %s", gr->held,
             ax->x == cfg_threads ? (gr->held == 1 ? "token" : "tokens")
                                  : (gr->held == 1 ? "thread" : "threads"));
    rp_panel *p = rp_plotset_panel(&w->ps, title, 0, 0);
    if (!p) return;
    const int pi = w->ps.n_p - 1;
    if (pi < 256) w->ref_x[pi] = ax->x(c0), w->ref_y[pi] = c0->med;
    for (int i = 0; i < n; i++) {
        const series *s = &w->s[idx[i]];
        const rp_cfg *c = s->c[0];
        char t[128];
        snprintf(t, sizeof t, "%s/%s%s%s", variant_of(c), c->isa, one_act ? "" : ", act ",
                 one_act ? "" : c->act);
        rp_plotset_series(&w->ps, R, t, variant_of(c), c->isa, w->blocks);
        if (w->blocks++) fprintf(w->d, "\n\n");
        for (int j = 0; j < s->n; j++) {
            const rp_cfg *x = s->c[j];
            fprintf(w->d, "%d", ax->x(x));
            rp_gp_num(w->d, x->med);
            rp_gp_num(w->d, x->lo);
            rp_gp_num(w->d, x->hi);
            const double y = ax->y(s, x);
            rp_gp_num(w->d, y);
            fprintf(w->d, "\n");
            extend(w, ax->x(x), x->med, x->lo, x->hi);
            if (ax->x == cfg_threads && isfinite(y)) w->sp_hi = fmax(w->sp_hi, y);
        }
    }
    if (gr->n_peer) { /* llama.cpp wherever it was measured: its own series in every panel */
        const int own = !strcmp(gr->peer[0]->mode, RP_PEER_PROCESS);
        rp_plotset_series(&w->ps, R, own ? RP_PEER " (own process)" : RP_PEER, RP_PEER, "",
                          w->blocks);
        if (w->blocks++) fprintf(w->d, "\n\n");
        for (int j = 0; j < gr->n_peer; j++) {
            const rp_peer_point *x = gr->peer[j];
            const int xv = peer_x(ax, x);
            fprintf(w->d, "%d", xv);
            rp_gp_num(w->d, x->med);
            rp_gp_num(w->d, x->lo);
            rp_gp_num(w->d, x->hi);
            /* a speedup needs two thread counts */
            const double sp = gr->n_peer > 1 ? gr->peer[0]->med / x->med : NAN;
            rp_gp_num(w->d, ax->x == cfg_threads ? sp : x->med / x->seq);
            fprintf(w->d, "\n");
            extend(w, xv, x->med, x->lo, x->hi);
            if (ax->x == cfg_threads && isfinite(sp)) w->sp_hi = fmax(w->sp_hi, sp);
        }
    }
}

/* The panel parameter of a split level: 0 activation scales, 1 binding, 2 ISA. */
static const char *level_value(const rp_cfg *c, int level) {
    return level == 0 ? c->act : level == 1 ? c->binding : c->isa;
}
static int level_before(const char *a, const char *b, int level) { /* a's panel first */
    if (level == 0) return !strcmp(a, "token") && strcmp(b, "token");
    if (level == 1) return !strcmp(a, "compact") && strcmp(b, "compact");
    return rp_isa_rank(a) < rp_isa_rank(b);
}

/* Series into panels, the first fitting each in turn (no look twice, at most per a panel). */
static void chunks(writer *w, const group *gr, const int *idx, int n) {
    if (n <= 0) return;
    const int per = RP_PANEL_MAX_SERIES - (gr->n_peer > 0);
    int *panel = malloc((size_t)n * sizeof *panel), *part = malloc((size_t)n * sizeof *part);
    int np = 0;
    for (int i = 0; panel && part && i < n; i++) {
        int p = 0;
        for (; p < np; p++) {
            int count = 0, clash = 0;
            for (int j = 0; j < i; j++)
                if (panel[j] == p) count++, clash |= same_look(w, idx[j], idx[i]);
            if (count < per && !clash) break;
        }
        panel[i] = p;
        if (p == np) np++;
    }
    for (int p = 0; panel && part && p < np; p++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (panel[i] == p) part[m++] = idx[i];
        emit_panel(w, gr, part, m);
    }
    free(panel);
    free(part);
}

/* A group's series split into panels: by activation scales and by binding whenever they differ
 * (the seed story's per-token kernels apart from the per-block ones that match llama.cpp's
 * numerics), then by ISA while a panel is crowded (see crowded()), then in chunks. */
static void split(writer *w, const group *gr, const int *idx, int n, int level) {
    if (n <= 0) return;
    if (level == 3 || (level == 2 && !crowded(w, gr, idx, n))) {
        if (crowded(w, gr, idx, n))
            chunks(w, gr, idx, n);
        else
            emit_panel(w, gr, idx, n);
        return;
    }
    /* the distinct values of this level's parameter, in order */
    const char *vals[MAX_POINTS];
    int nv = 0;
    for (int i = 0; i < n; i++) {
        const char *v = level_value(w->s[idx[i]].c[0], level);
        int k = 0;
        while (k < nv && strcmp(vals[k], v)) k++;
        if (k == nv && nv < MAX_POINTS) vals[nv++] = v;
    }
    for (int a = 1; a < nv; a++)
        for (int b = a; b > 0 && level_before(vals[b], vals[b - 1], level); b--) {
            const char *t = vals[b];
            vals[b] = vals[b - 1], vals[b - 1] = t;
        }
    int *part = malloc((size_t)n * sizeof *part);
    if (!part) return;
    for (int k = 0; k < nv; k++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(level_value(w->s[idx[i]].c[0], level), vals[k])) part[m++] = idx[i];
        split(w, gr, part, m, level + 1);
    }
    free(part);
}

/* The order series take in a panel: the report's variants, then the ISA tier. */
static int series_cmp(const rp_report *R, const series *s, int a, int b) {
    const rp_cfg *x = s[a].c[0], *y = s[b].c[0];
    int d = rp_variant_rank(R, variant_of(x)) - rp_variant_rank(R, variant_of(y));
    if (!d) d = rp_isa_rank(x->isa) - rp_isa_rank(y->isa);
    if (!d) d = strcmp(x->act, y->act);
    return d ? d : a - b;
}

static int series_data(const rp_report *R, const axis *ax) {
    series *s;
    const int n = collect_series(R, ax, &s);
    if (n == 0) {
        free(s);
        return 0;
    }
    char name[64];
    snprintf(name, sizeof name, "%s.dat", ax->plot);
    writer w = {.R = R,
                .ax = ax,
                .s = s,
                .y_lo = INFINITY,
                .y_hi = 0,
                .sp_hi = 1,
                .x_lo = 1 << 30,
                .x_hi = 0};
    w.d = rp_open_out(R, name);
    int *idx = malloc((size_t)n * sizeof *idx), *done = calloc((size_t)n, sizeof *done);
    if (!w.d || !idx || !done) {
        if (w.d) fclose(w.d);
        free(idx), free(done), free(s);
        return -1;
    }
    fprintf(w.d,
            "# one block per drawn series (NAME.vars: series_block): %s, median ms, CI low, CI "
            "high, %s\n",
            ax->x_name, ax->y_name);
    for (int i = 0; i < n; i++) {
        if (done[i]) continue;
        group gr = {s[i].g, s[i].c[0]->model, ax->held(s[i].c[0]), {0}, 0};
        int m = 0;
        for (int j = i; j < n; j++)
            if (!done[j] && s[j].g == gr.g && !strcmp(s[j].c[0]->model, gr.model) &&
                ax->held(s[j].c[0]) == gr.held)
                idx[m++] = j, done[j] = 1;
        for (int a = 1; a < m; a++) /* insertion sort: a few series */
            for (int b = a; b > 0 && series_cmp(R, s, idx[b - 1], idx[b]) > 0; b--) {
                const int t = idx[b];
                idx[b] = idx[b - 1], idx[b - 1] = t;
            }
        rp_peer_point *pp;
        const int np = rp_peer_points(R, gr.g, &pp);
        /* one llama.cpp line: the mode the headlines quote (both modes: the peer section) */
        const char *mode = rp_peer_headline_mode(pp, np);
        for (int j = 0; j < np && gr.n_peer < MAX_POINTS; j++) {
            if (strcmp(pp[j].model, gr.model) || peer_held(ax, &pp[j]) != gr.held ||
                strcmp(pp[j].mode, mode))
                continue;
            int dup = 0;
            for (int k = 0; k < gr.n_peer; k++) dup |= peer_x(ax, gr.peer[k]) == peer_x(ax, &pp[j]);
            if (!dup) gr.peer[gr.n_peer++] = &pp[j];
        }
        for (int a = 1; a < gr.n_peer; a++)
            for (int b = a; b > 0 && peer_x(ax, gr.peer[b - 1]) > peer_x(ax, gr.peer[b]); b--) {
                const rp_peer_point *t = gr.peer[b];
                gr.peer[b] = gr.peer[b - 1], gr.peer[b - 1] = t;
            }
        split(&w, &gr, idx, m, 0);
        free(pp);
    }
    fclose(w.d);
    /* the grid: two columns for four panels, else up to three a row */
    const int np = w.ps.n_p, cols = np <= 3 ? np : np == 4 ? 2 : 3;
    for (int i = 0; i < np; i++) w.ps.p[i].row = i / cols + 1, w.ps.p[i].col = i % cols + 1;
    w.ps.n_rows = (np + cols - 1) / cols, w.ps.n_cols = cols;
    rp_plotset_legend(&w.ps, R, 1);
    if (ax->x == cfg_seq_len)
        rp_plotset_legend_add(&w.ps, "time proportional to tokens", RP_REF_COLOUR, RP_LEGEND_LINE,
                              3, -1, 2);
    else
        rp_plotset_legend_add(&w.ps, "ideal: linear in threads", RP_REF_COLOUR, RP_LEGEND_LINE, 3,
                              -1, 2);
    snprintf(name, sizeof name, "%s.vars", ax->plot);
    FILE *v = rp_open_out(R, name);
    int failed = !v || w.ps.failed;
    if (v) {
        rp_plotset_write(v, &w.ps);
        fprintf(v, "max_x = %d\nx_lo = %d\nx_hi = %d\n", w.x_hi, w.x_lo, w.x_hi);
        fprintf(v, "y_lo = %.6g\ny_hi = %.6g\nspeedup_hi = %.6g\n",
                pow(10, floor(log10(w.y_lo) * 4) / 4), pow(10, ceil(log10(w.y_hi) * 4) / 4),
                fmax(w.sp_hi, w.x_hi) * 1.1);
        if (np) {
            fprintf(v, "array panel_ref_x[%d] = [", np);
            for (int i = 0; i < np; i++)
                fprintf(v, "%s%.6g", i ? ", " : "", w.ref_x[i < 256 ? i : 255]);
            fprintf(v, "]\narray panel_ref_y[%d] = [", np);
            for (int i = 0; i < np; i++)
                fprintf(v, "%s%.6g", i ? ", " : "", w.ref_y[i < 256 ? i : 255]);
            fprintf(v, "]\n");
        }
        failed |= fclose(v) != 0;
    }
    rp_plotset_free(&w.ps);
    free(idx), free(done), free(s);
    return failed ? -1 : n;
}

/* ---- the two axes */

static int cfg_threads(const rp_cfg *c) {
    return c->threads;
}
static int cfg_seq_len(const rp_cfg *c) {
    return c->seq_len;
}

/* thread scaling: speedup against the fewest threads, and parallel efficiency */
static void threads_heads(FILE *f, const series *s) {
    fprintf(f, " speedup vs %d thread%s | parallel efficiency |", s->c[0]->threads,
            s->c[0]->threads == 1 ? "" : "s");
}
static double threads_speedup(const series *s, const rp_cfg *c) {
    return s->c[0]->med / c->med;
}
static void threads_cols(FILE *f, const series *s, const rp_cfg *c) {
    const double sp = threads_speedup(s, c);
    fprintf(f, " %sx | %s |", rp_fmt_x(sp).s, rp_fmt_pct(sp * s->c[0]->threads / c->threads).s);
}

/* sequence length: time per token, and the rates the record holds */
static void seqlen_heads(FILE *f, const series *s) {
    (void)s;
    fprintf(f, " ms per token | GOPS (matmuls) | weight GB/s |");
}
static double seqlen_per_token(const series *s, const rp_cfg *c) {
    (void)s;
    return c->med / c->seq_len;
}
static void seqlen_cols(FILE *f, const series *s, const rp_cfg *c) {
    fprintf(f, " %s | %.2f | %.2f |", rp_fmt_ms(seqlen_per_token(s, c)).s,
            qk_rj_num(c->agg, "gops"), qk_rj_num(c->agg, "weight_gbps"));
}

static const axis threads_axis = {
    .plot = "threads",
    .heading = "## 7. Thread scaling",
    .missing = "no forward configuration at two or more thread counts",
    .run = "experiments/thread-scaling.ini",
    .image = "Thread scaling",
    .x_name = "threads",
    .held_name = "seq",
    .x = cfg_threads,
    .held = cfg_seq_len,
    .n_cols = 2,
    .col_heads = threads_heads,
    .cols = threads_cols,
    .y_name = "speedup vs the fewest threads",
    .y = threads_speedup,
};

static const axis seqlen_axis = {
    .plot = "seqlen",
    .heading = "## 8. Sequence length",
    .missing = "no forward configuration at two or more sequence lengths",
    .run = "a forward experiment with e.g. `seq_len = 1, 16, 128`",
    .image = "Time against sequence length",
    .x_name = "tokens",
    .held_name = "threads",
    .x = cfg_seq_len,
    .held = cfg_threads,
    .n_cols = 3,
    .col_heads = seqlen_heads,
    .cols = seqlen_cols,
    .y_name = "ms per token",
    .y = seqlen_per_token,
};

static void threads_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    series_markdown(f, R, &threads_axis, plot);
}
static int threads_data(const rp_report *R) {
    return series_data(R, &threads_axis);
}
static void seqlen_markdown(FILE *f, const rp_report *R, const qk_report_plot *plot) {
    series_markdown(f, R, &seqlen_axis, plot);
}
static int seqlen_data(const rp_report *R) {
    return series_data(R, &seqlen_axis);
}

const rp_section rp_section_threads = {"threads", threads_data, threads_markdown};
const rp_section rp_section_seqlen = {"seqlen", seqlen_data, seqlen_markdown};
