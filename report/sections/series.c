/* REPORT.md sections 7, "Thread scaling", and 8, "Sequence length". Both show series of forward
 * configurations that differ in one parameter and agree in every other, so one implementation
 * serves both, parameterised by an axis: the parameter swept, the one held, the columns its table
 * adds and the last column of its plot data. Plots: threads.gp, seqlen.gp. A third sweep (say,
 * activation granularity) is a third axis and a third section descriptor here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/json.h"
#include "report/model.h"

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

/* ---- plot data: NAME.dat (a block per series), NAME.vars (titles, the largest x) */

static int series_data(const rp_report *R, const axis *ax) {
    series *s;
    const int n = collect_series(R, ax, &s);
    if (n == 0) {
        free(s);
        return 0;
    }
    char name[64];
    snprintf(name, sizeof name, "%s.dat", ax->plot);
    FILE *d = rp_open_out(R, name);
    if (!d) {
        free(s);
        return -1;
    }
    fprintf(d,
            "# one block per series (index i-1 = series_title[i]): %s, median ms, CI low, CI "
            "high, %s\n",
            ax->x_name, ax->y_name);
    const char **titles = calloc((size_t)n, sizeof *titles);
    rp_str *tbuf = calloc((size_t)n, sizeof *tbuf);
    int max_x = 1;
    for (int i = 0; i < n; i++) {
        if (i) fprintf(d, "\n\n");
        for (int j = 0; j < s[i].n; j++) {
            const rp_cfg *c = s[i].c[j];
            fprintf(d, "%d", ax->x(c));
            rp_gp_num(d, c->med);
            rp_gp_num(d, c->lo);
            rp_gp_num(d, c->hi);
            rp_gp_num(d, ax->y(&s[i], c));
            fprintf(d, "\n");
            if (ax->x(c) > max_x) max_x = ax->x(c);
        }
        if (tbuf && titles) {
            tbuf[i] = series_title(R, ax, &s[i]);
            titles[i] = tbuf[i].s;
        }
    }
    fclose(d);
    snprintf(name, sizeof name, "%s.vars", ax->plot);
    FILE *v = rp_open_out(R, name);
    if (v && titles && tbuf) {
        rp_gp_titles(v, "n_series", "series_title", titles, n);
        fprintf(v, "max_x = %d\n", max_x);
    }
    if (v) fclose(v);
    free(titles);
    free(tbuf);
    free(s);
    return n;
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
