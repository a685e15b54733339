/* The plots' visual vocabulary (report/style.h): colours, dash and point types, the panel and
 * series arrays of NAME.vars, the legend, and style.vars. */
#include "report/style.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Fixed by name, so a variant keeps its colour whichever variants a report holds. The first four
 * are the ladder's since the start; no variant is black (llama.cpp's). */
static const struct {
    const char *variant, *colour;
} named[] = {
    {"parse-per-block", "#7f7f7f"}, {"precached-scales", "#1f77b4"},
    {"zero-copy", "#2ca02c"},       {"alloc-copy", "#d62728"},
    {"repacked", "#bcbd22"},        {"gemm", "#17becf"},
    {"fused", "#e377c2"},           {"fp32", "#8c564b"},
    {RP_PEER, "#000000"},
};
#define N_NAMED ((int)(sizeof named / sizeof *named))
/* for variants the table does not know, in the order the report lists them */
static const char *const spare[] = {"#9467bd", "#ff7f0e", "#1b9e77", "#e7298a",
                                    "#66a61e", "#a6761d", "#393b79", "#637939"};
#define N_SPARE ((int)(sizeof spare / sizeof *spare))

static int named_index(const char *v) {
    for (int i = 0; i < N_NAMED; i++)
        if (!strcmp(named[i].variant, v)) return i;
    return -1;
}

const char *rp_style_colour(const rp_report *R, const char *v) {
    const int i = named_index(v);
    if (i >= 0) return named[i].colour;
    int k = 0;
    for (int j = 0; j < R->n_variants && strcmp(R->variants[j], v); j++)
        k += named_index(R->variants[j]) < 0;
    return spare[k % N_SPARE];
}

int rp_style_dash(const char *isa) {
    switch (rp_isa_rank(isa)) {
    case 0:
        return 4; /* scalar: dash-dot */
    case 1:
        return 2; /* avx2: dashed */
    case 2:
        return 1; /* avx512vnni: solid, the widest tier */
    default:
        return 5;
    }
}

int rp_style_point(const char *isa) {
    switch (rp_isa_rank(isa)) {
    case 0:
        return 5; /* square */
    case 1:
        return 7; /* circle */
    case 2:
        return 9; /* triangle */
    default:
        return 15;
    }
}

rp_look rp_style_look(const rp_report *R, const char *variant, const char *isa) {
    rp_look l;
    snprintf(l.colour, sizeof l.colour, "%s", rp_style_colour(R, variant));
    if (!strcmp(variant, RP_PEER)) {
        l.dt = 1, l.pt = 13; /* a diamond: no ISA uses it */
    } else {
        l.dt = rp_style_dash(isa), l.pt = rp_style_point(isa);
    }
    return l;
}

const char *rp_style_op_colour(const char *group) {
    /* matmuls in blue and green, the rest in warm colours and grey */
    static const char *const groups[][2] = {{"attn-mm", "#2171b5"},   {"ffn-mm", "#238b45"},
                                            {"dense-mm", "#9ecae1"},  {"quantize", "#e6550d"},
                                            {"attention", "#756bb1"}, {"norms", "#fdd0a2"},
                                            {"other", "#bdbdbd"}};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if (!strcmp(groups[i][0], group)) return groups[i][1];
    return "#000000";
}

/* ---- panels and series */

static int grow(void **p, int *cap, int n, size_t size) {
    if (n < *cap) return 0;
    const int c = *cap ? 2 * *cap : 16;
    void *q = realloc(*p, (size_t)c * size);
    if (!q) return -1;
    *p = q, *cap = c;
    return 0;
}

rp_panel *rp_plotset_panel(rp_plotset *ps, const char *title, int row, int col) {
    if (grow((void **)&ps->p, &ps->cap_p, ps->n_p, sizeof *ps->p)) return ps->failed = 1, NULL;
    rp_panel *p = &ps->p[ps->n_p++];
    memset(p, 0, sizeof *p);
    snprintf(p->title, sizeof p->title, "%s", title);
    p->row = row, p->col = col, p->first = ps->n_s;
    if (row > ps->n_rows) ps->n_rows = row;
    if (col > ps->n_cols) ps->n_cols = col;
    return p;
}

rp_series *rp_plotset_series(rp_plotset *ps, const rp_report *R, const char *title,
                             const char *variant, const char *isa, int block) {
    if (!ps->n_p || grow((void **)&ps->s, &ps->cap_s, ps->n_s, sizeof *ps->s))
        return ps->failed = 1, NULL;
    rp_series *s = &ps->s[ps->n_s++];
    snprintf(s->title, sizeof s->title, "%s", title);
    s->variant = variant, s->isa = isa;
    s->look = rp_style_look(R, variant, isa);
    s->block = block, s->block2 = -1;
    ps->p[ps->n_p - 1].n++;
    return s;
}

void rp_plotset_free(rp_plotset *ps) {
    free(ps->s);
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}

static void write_ints(FILE *v, const char *name, int n, const void *base, size_t stride,
                       size_t off) {
    if (!n) return;
    fprintf(v, "array %s[%d] = [", name, n);
    for (int i = 0; i < n; i++)
        fprintf(v, "%s%d", i ? ", " : "", *(const int *)((const char *)base + i * stride + off));
    fprintf(v, "]\n");
}

void rp_plotset_legend_add(rp_plotset *ps, const char *title, const char *colour, int kind, int dt,
                           int pt, int lw) {
    if (ps->n_leg == RP_MAX_LEGEND) return;
    rp_legend *l = &ps->leg[ps->n_leg++];
    snprintf(l->title, sizeof l->title, "%s", title);
    snprintf(l->colour, sizeof l->colour, "%s", colour);
    l->kind = kind, l->dt = dt, l->pt = pt, l->lw = lw;
}

static int has_variant(const rp_plotset *ps, const char *v) {
    for (int i = 0; i < ps->n_s; i++)
        if (!strcmp(ps->s[i].variant, v)) return 1;
    return 0;
}

void rp_plotset_legend(rp_plotset *ps, const rp_report *R, int isas) {
    for (int j = 0; j < R->n_variants; j++)
        if (has_variant(ps, R->variants[j]))
            rp_plotset_legend_add(ps, R->variants[j], rp_style_colour(R, R->variants[j]),
                                  RP_LEGEND_BOX, 1, -1, 1);
    if (has_variant(ps, "fp32"))
        rp_plotset_legend_add(ps, "fp32 path", rp_style_colour(R, "fp32"), RP_LEGEND_BOX, 1, -1, 1);
    if (has_variant(ps, RP_PEER)) {
        const rp_look l = rp_style_look(R, RP_PEER, "");
        int own = 0; /* the series drew llama.cpp in its own process (series.c names it so) */
        for (int i = 0; i < ps->n_s; i++)
            own |= !strcmp(ps->s[i].variant, RP_PEER) && strstr(ps->s[i].title, "own process");
        rp_plotset_legend_add(ps,
                              own ? RP_PEER " in its own process (its CPU backend)"
                                  : RP_PEER " (its own CPU backend)",
                              l.colour, RP_LEGEND_LINE, l.dt, l.pt, 3);
    }
    static const char *const isa_names[] = {"scalar", "avx2", "avx512vnni"};
    for (int r = 0; isas && r < 4; r++) {
        const char *isa = NULL;
        for (int i = 0; i < ps->n_s && !isa; i++)
            if (strcmp(ps->s[i].variant, RP_PEER) && rp_isa_rank(ps->s[i].isa) == r)
                isa = r < 3 ? isa_names[r] : ps->s[i].isa;
        if (isa)
            rp_plotset_legend_add(ps, isa, RP_KEY_GREY, RP_LEGEND_LINE, rp_style_dash(isa),
                                  rp_style_point(isa), 2);
    }
}

static void write_strs(FILE *v, const char *name, int n, const void *base, size_t stride,
                       size_t off, int pointer) {
    if (!n) return;
    fprintf(v, "array %s[%d] = [", name, n);
    for (int i = 0; i < n; i++) {
        const char *at = (const char *)base + i * stride + off;
        if (i) fprintf(v, ", ");
        rp_gp_string(v, pointer ? *(const char *const *)at : at);
    }
    fprintf(v, "]\n");
}

void rp_plotset_write(FILE *v, const rp_plotset *ps) {
    fprintf(v, "n_panels = %d\nn_rows = %d\nn_cols = %d\n", ps->n_p, ps->n_rows, ps->n_cols);
#define P_INTS(f) write_ints(v, "panel_" #f, ps->n_p, ps->p, sizeof *ps->p, offsetof(rp_panel, f))
    write_strs(v, "panel_title", ps->n_p, ps->p, sizeof *ps->p, offsetof(rp_panel, title), 0);
    P_INTS(row);
    P_INTS(col);
    if (ps->n_p) { /* 1-based, as gnuplot's arrays */
        fprintf(v, "array panel_first[%d] = [", ps->n_p);
        for (int i = 0; i < ps->n_p; i++) fprintf(v, "%s%d", i ? ", " : "", ps->p[i].first + 1);
        fprintf(v, "]\n");
    }
    P_INTS(n);
    P_INTS(bars);
#undef P_INTS
    fprintf(v, "n_series = %d\n", ps->n_s);
#define S_STRS(f, m, ptr)                                                                          \
    write_strs(v, "series_" #f, ps->n_s, ps->s, sizeof *ps->s, offsetof(rp_series, m), ptr)
#define S_INTS(f, m)                                                                               \
    write_ints(v, "series_" #f, ps->n_s, ps->s, sizeof *ps->s, offsetof(rp_series, m))
    S_STRS(title, title, 0);
    S_STRS(variant, variant, 1);
    S_STRS(isa, isa, 1);
    S_STRS(colour, look.colour, 0);
    S_INTS(dt, look.dt);
    S_INTS(pt, look.pt);
    S_INTS(block, block);
    S_INTS(block2, block2);
#undef S_STRS
#undef S_INTS
    size_t chars = 0; /* the scripts size the legend's strip from its longest title */
    for (int i = 0; i < ps->n_leg; i++)
        if (strlen(ps->leg[i].title) > chars) chars = strlen(ps->leg[i].title);
    fprintf(v, "n_legend = %d\nlegend_chars = %zu\n", ps->n_leg, chars);
#define L_STRS(f)                                                                                  \
    write_strs(v, "legend_" #f, ps->n_leg, ps->leg, sizeof *ps->leg, offsetof(rp_legend, f), 0)
#define L_INTS(f)                                                                                  \
    write_ints(v, "legend_" #f, ps->n_leg, ps->leg, sizeof *ps->leg, offsetof(rp_legend, f))
    L_STRS(title);
    L_STRS(colour);
    L_INTS(kind);
    L_INTS(dt);
    L_INTS(pt);
    L_INTS(lw);
#undef L_STRS
#undef L_INTS
}

/* ---- style.vars */

int rp_style_write(const rp_report *R) {
    FILE *v = rp_open_out(R, "style.vars");
    if (!v) return -1;
    fprintf(v, "# style.vars: what every plot shares (report/style.c)\n");
    fprintf(v, "term_png = \"pngcairo enhanced font 'Sans,11'\"\n");
    fprintf(v, "term_svg = \"svg dynamic enhanced font 'Sans,11' background rgb 'white'\"\n");
    fprintf(v, "peer_colour = \"%s\"\n", rp_style_colour(R, RP_PEER));
    fprintf(v, "ref_colour = \"%s\"\nceiling_colour = \"%s\"\nkey_grey = \"%s\"\n", RP_REF_COLOUR,
            RP_CEILING_COLOUR, RP_KEY_GREY);
    fprintf(v, "grid_colour = \"#dddddd\"\n");
    fprintf(v, "max_series = %d\nmax_bars = %d\n", RP_PANEL_MAX_SERIES, RP_PANEL_MAX_BARS);
    /* the legend is a plot of its own, in a strip beside the panels, so it never covers data */
    fprintf(v, "legend_setup = \"unset title; unset xlabel; unset ylabel; unset logscale; "
               "unset grid; unset label; unset arrow; unset border; unset tics; "
               "set xrange [0:1]; set yrange [0:1]; set lmargin 0; set rmargin 0; "
               "set tmargin 0; set bmargin 0; set key center center vertical reverse Left "
               "samplen 4 spacing 1.25 noenhanced box opaque\"\n");
    /* The grid of panels: a column as wide as its widest panel needs (bar_px per bar plus
     * bar_extra, at least cell_w; all wider when the whole is narrower than min_w), rows of cell_h,
     * a title band of `top` and the legend's strip at the right; a script sets those, and
     * legend_key (the legend's title), and runs @layout after loading its NAME.vars. */
    fprintf(v, "layout = \"lc = legend_chars > strlen(legend_key) ? legend_chars : "
               "strlen(legend_key); legend_w = 8.0 * (lc > 14 ? lc : 14) + 100; "
               "array colw[n_cols]; array colx[n_cols]; "
               "do for [c=1:n_cols] { colw[c] = cell_w }; "
               "do for [p=1:n_panels] { w = bar_px * panel_bars[p] + bar_extra; "
               "if (w > colw[panel_col[p]]) { colw[panel_col[p]] = w } }; "
               "xx = 0; do for [c=1:n_cols] { xx = xx + colw[c] }; "
               "if (xx + legend_w + 20 < min_w) { do for [c=1:n_cols] { "
               "colw[c] = colw[c] * (min_w - legend_w - 20) / xx } }; "
               "xx = 12; do for [c=1:n_cols] { colx[c] = xx; xx = xx + colw[c] }; "
               "W = 1.0 * int(xx + legend_w + 20); H = 1.0 * int(cell_h * n_rows + top); "
               "ph = cell_h / H; legend_x = (xx + 10) / W; legend_wf = legend_w / W\"\n");
    fprintf(v, "min_w = 1100\n"); /* the titles need it */
    fprintf(v, "px(p) = colx[panel_col[p]] / W\npw(p) = colw[panel_col[p]] / W\n"
               "py(p) = 1 - (top + panel_row[p] * cell_h) / H\n");
    /* colour patches first, then lines, then points; an empty title leaves an entry out */
    fprintf(v, "legend_plot = \"plot for [i=1:n_legend] NaN with boxes fs solid 0.85 border rgb "
               "'#333333' lc rgb legend_colour[i] title (legend_kind[i] == 0 ? legend_title[i] : "
               "''), for [i=1:n_legend] NaN with linespoints lw legend_lw[i] dt legend_dt[i] pt "
               "legend_pt[i] ps 1.4 lc rgb legend_colour[i] title (legend_kind[i] == 1 ? "
               "legend_title[i] : ''), for [i=1:n_legend] NaN with points lw 2 pt legend_pt[i] "
               "ps 1.6 lc rgb legend_colour[i] title (legend_kind[i] == 2 ? legend_title[i] : "
               "'')\"\n");
    return fclose(v) == 0 ? 0 : -1;
}
