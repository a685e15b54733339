# ladder.gp: the ladder as grouped bars, a panel per ISA (ladder.vars: panel_title), a group per
# tokens per pass (and threads), a bar per kernel variant in its colour (style.vars: the one
# legend, beside the panels). Upper row: median time of one forward pass with its 95% interval as
# whiskers, on a scale every panel shares. Lower row: speedup against the same group's
# parse-per-block (paired 95% interval when the results have it), the 1x line dashed.
# Data: ladder.dat (a block per panel; a row per group: label, then per series of the panel:
# median, CI low, CI high, speedup, its CI low, high), ladder.vars (the panels and series of
# report/style.h, ladder_log, time_lo, time_hi, speedup_hi). Run by qkbench report as
#   gnuplot -e "datadir='DIR'; outdir='DIR'" ladder.gp
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/style.vars"
load datadir."/ladder.vars"

cell_w = 300.0; cell_h = 620.0; bar_px = 34.0; bar_extra = 110.0; top = 70.0
legend_key = "kernel variant"
@layout

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal @term_png size int(W),int(H) } else { set terminal @term_svg size int(W),int(H) }
    set output outdir."/ladder.".fmt
    set multiplot title "The ladder: one forward pass per kernel variant, a panel per ISA\n{/*0.85 bar: median time of one pass; whisker: 95% bootstrap interval; lower row: speedup against parse-per-block of the same group}" font ",13"
    do for [p=1:n_panels] {
        f = panel_first[p]
        set style data histogram
        set style histogram errorbars gap 1.5 lw 1.2
        set style fill solid 0.85 border rgb "#333333"
        set boxwidth 0.9
        set border 3
        set grid ytics lc rgb grid_colour
        set xtics scale 0 nomirror noenhanced
        set ytics nomirror
        set key off
        set lmargin 10; set rmargin 2; set tmargin 2.5; set bmargin 2.5
        unset xlabel
        set origin px(p), py(p) + 0.5 * ph
        set size pw(p), 0.5 * ph
        set title panel_title[p] noenhanced font ",12"
        if (ladder_log) {
            set logscale y
            set ylabel "ms per forward pass (log scale)"
        } else {
            unset logscale y
            set ylabel "ms per forward pass"
        }
        set yrange [time_lo:time_hi]
        set xrange [-0.5:panel_bars[p] / panel_n[p] - 0.5]
        plot for [i=0:panel_n[p]-1] datadir."/ladder.dat" index (p-1) \
            using (column(6*i+2)):(column(6*i+3)):(column(6*i+4)):xtic(1) \
            lc rgb series_colour[f+i] title series_title[f+i]

        set origin px(p), py(p)
        set title "speedup vs parse-per-block (> 1: faster)" font ",10"
        unset logscale y
        set ylabel "speedup (x)"
        set yrange [0:speedup_hi]
        plot for [i=0:panel_n[p]-1] datadir."/ladder.dat" index (p-1) \
            using (column(6*i+5)):(column(6*i+6)):(column(6*i+7)):xtic(1) \
            lc rgb series_colour[f+i] title series_title[f+i], \
            1 with lines dt 2 lw 1.5 lc rgb ref_colour notitle
    }
    set origin legend_x, 0.5
    set size legend_wf, 0.4
    @legend_setup
    set key title legend_key
    @legend_plot
    unset multiplot
    unset output
}
