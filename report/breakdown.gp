# breakdown.gp: where a forward pass spends its time. A panel per ISA (columns) and tokens per
# pass (rows), each on its own millisecond scale (a scalar pass takes seconds, an AVX one tens of
# milliseconds); in a panel, one stacked bar per kernel variant, a segment per group of operations
# of the per-operation profile (matmuls in blue and green), and above each bar the matmuls' share
# of the pass. The one legend is beside the panels (style.vars).
# Data: breakdown.dat (a block per panel; a row per bar: label, ms per group, profiled total,
# matmul share in %), breakdown.vars (the panels and series of report/style.h: a panel's series
# are its groups; n_groups).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/style.vars"
load datadir."/breakdown.vars"

cell_w = 260.0; cell_h = 360.0; bar_px = 76.0; bar_extra = 100.0; top = 70.0
legend_key = "operations"
@layout

total_col = n_groups + 2

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal @term_png size int(W),int(H) } else { set terminal @term_svg size int(W),int(H) }
    set output outdir."/breakdown.".fmt
    set multiplot title "Where one forward pass spends its time: a panel per ISA and tokens per pass, each on its own scale\n{/*0.85 bar: the mean profiled pass of one kernel variant, stacked by operation; number above it: the share of the matmuls in the pass}" font ",13"
    do for [p=1:n_panels] {
        f = panel_first[p]
        set origin px(p), py(p)
        set size pw(p), ph
        set lmargin 9; set rmargin 2; set tmargin 2.5; set bmargin 4
        set style data histogram
        set style histogram rowstacked
        set style fill solid 0.9 border rgb "#666666"
        set boxwidth 0.7
        set border 3
        set grid ytics lc rgb grid_colour
        set xtics scale 0 nomirror noenhanced font ",10"
        set ytics nomirror
        set key off
        set title panel_title[p] noenhanced font ",12"
        set ylabel "ms per forward pass"
        set yrange [0:*]
        set offsets 0, 0, graph 0.12, 0
        set xrange [-0.6:panel_bars[p] - 0.4]
        plot for [i=1:n_groups] datadir."/breakdown.dat" index (p-1) using (column(i+1)):xtic(1) \
                lc rgb series_colour[f+i-1] notitle, \
            datadir."/breakdown.dat" index (p-1) \
                using 0:(column(total_col)):(sprintf("%.0f%%", column(total_col+1))) \
                with labels offset 0,0.7 font ",9" textcolor rgb "#333333" notitle
    }
    set origin legend_x, 0.2
    set size legend_wf, 0.6
    @legend_setup
    set key title legend_key
    @legend_plot
    unset multiplot
    unset output
}
