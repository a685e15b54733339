/* The plots' visual vocabulary, defined once (style.c), and the panels and series every plot-data
 * writer states in its NAME.vars:
 *   - a colour per kernel variant, the same in every plot: the seed story's four keep the colours
 *     the ladder has always given them (parse-per-block grey, precached-scales blue, zero-copy
 *     green, alloc-copy red), the packed kernels have theirs, any other variant takes a spare one;
 *   - a dash type and a point type per ISA (avx512vnni solid, triangle; avx2 dashed, circle;
 *     scalar dash-dot, square); open points are the filled ones minus one;
 *   - black, solid, a diamond for llama.cpp, which no variant uses;
 *   - the panel limits: a panel holds at most RP_PANEL_MAX_SERIES series or RP_PANEL_MAX_BARS bars
 *     (more is a crowd no reader takes in at a glance), and two series of one panel never share
 *     both colour and dash type.
 * NAME.vars then says, for the scripts and for the tests that read it back:
 *   n_panels, n_rows, n_cols, panel_title[], panel_row[], panel_col[] (1-based grid cell),
 *   panel_first[], panel_n[] (its series: panel_first .. panel_first + panel_n - 1), panel_bars[];
 *   n_series, series_title[], series_variant[], series_isa[], series_colour[], series_dt[],
 *   series_pt[], series_block[] (its data block in NAME.dat, gnuplot's index; -1 none),
 *   series_block2[] (a second block: the roofline's matmul-only points);
 *   n_legend, legend_title[], legend_colour[], legend_kind[] (0 colour patch, 1 line and
 *   points, 2 points), legend_dt[], legend_pt[], legend_lw[]: the one legend of the plot, drawn in
 *   a strip of its own beside the panels, never over the data.
 * style.vars (written once per report) holds the terminals, the grid layout and the macros that
 * draw the legend. (A script's loop that runs a macro must not hold an apostrophe in a string:
 * gnuplot's macro expansion takes it for a quote.) */
#ifndef QK_REPORT_STYLE_H
#define QK_REPORT_STYLE_H

#include <stdio.h>

#include "report/model.h"

#define RP_PANEL_MAX_SERIES 8
#define RP_PANEL_MAX_BARS   12

/* The greys of what is not a kernel: reference lines (ideal scaling, time proportional to
 * tokens, the 1x line), the roofline's ceilings, and the ISA entries of a legend. */
#define RP_REF_COLOUR     "#777777"
#define RP_CEILING_COLOUR "#444444"
#define RP_KEY_GREY       "#555555"

/* The peer's name as a series' variant. */
#define RP_PEER "llama.cpp"

typedef struct {
    char colour[8]; /* "#rrggbb" */
    int dt, pt;     /* gnuplot dash type, filled point type */
} rp_look;

/* A variant's colour ("fp32" the FP32 path's, RP_PEER black). */
const char *rp_style_colour(const rp_report *R, const char *variant);
int rp_style_dash(const char *isa);
int rp_style_point(const char *isa);
/* The look of a series of variant (or RP_PEER, or "fp32") on isa. */
rp_look rp_style_look(const rp_report *R, const char *variant, const char *isa);
/* The colour of a group of forward-pass operations in the breakdown ("attn-mm", "ffn-mm",
 * "dense-mm", "quantize", "attention", "norms", "other"). */
const char *rp_style_op_colour(const char *group);

/* ---- a plot's panels and series, as NAME.vars states them */

typedef struct {
    char title[128];
    const char *variant, *isa; /* borrowed; "" for none */
    rp_look look;
    int block, block2; /* data blocks (gnuplot index) or -1 */
} rp_series;

typedef struct {
    char title[192];
    int row, col; /* 1-based grid cell */
    int first, n; /* its series, 0-based into the plot's */
    int bars;     /* bars drawn (bar plots), 0 otherwise */
} rp_panel;

/* One entry of the plot's legend: a colour patch (a variant), a line with its points (an ISA,
 * llama.cpp, a ceiling, a reference line) or points alone. */
enum { RP_LEGEND_BOX, RP_LEGEND_LINE, RP_LEGEND_POINT };
typedef struct {
    char title[96];
    char colour[8];
    int kind, dt, pt, lw;
} rp_legend;

#define RP_MAX_LEGEND 48

typedef struct {
    rp_series *s;
    int n_s, cap_s;
    rp_panel *p;
    int n_p, cap_p;
    int n_rows, n_cols;
    rp_legend leg[RP_MAX_LEGEND];
    int n_leg;
    int failed; /* out of memory on some add */
} rp_plotset;

/* A new panel (its series are the ones added after it); NULL when out of memory. */
rp_panel *rp_plotset_panel(rp_plotset *ps, const char *title, int row, int col);
/* A new series of the last panel; NULL when out of memory (or no panel). */
rp_series *rp_plotset_series(rp_plotset *ps, const rp_report *R, const char *title,
                             const char *variant, const char *isa, int block);
/* The legend of the series added: each variant present as its colour (report order, the FP32
 * path, then llama.cpp as its black line and diamond), then, when `isas`, each ISA present as its
 * dash and point in grey. */
void rp_plotset_legend(rp_plotset *ps, const rp_report *R, int isas);
void rp_plotset_legend_add(rp_plotset *ps, const char *title, const char *colour, int kind, int dt,
                           int pt, int lw);
/* Writes the panel, series and legend arrays (see above). */
void rp_plotset_write(FILE *v, const rp_plotset *ps);
void rp_plotset_free(rp_plotset *ps);

/* OUTDIR/style.vars: the terminals and the legend macros every script loads. 0, or -1. */
int rp_style_write(const rp_report *R);

#endif
