# seqlen.gp: forward-pass time against the number of tokens per pass, log-log, a panel per
# activation-scale scheme (and ISA when a panel would be crowded: seqlen.vars' panel_title says
# what its series share), one line per kernel (colour = variant, dash and point = ISA) with its
# 95% interval as error bars, llama.cpp in black wherever it was measured. The dotted grey line
# has slope 1 (time proportional to the tokens) through the panel's first point: a flatter curve
# means a per-pass cost (reading the weights) is being amortised over more tokens. Axes are the
# same in every panel; the one legend is beside the panels (style.vars).
# Data: seqlen.dat (one block per drawn series: tokens, median, CI low, CI high, ms per token),
# seqlen.vars (the panels and series of report/style.h, x_lo, x_hi, y_lo, y_hi, panel_ref_x[],
# panel_ref_y[]).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/style.vars"
load datadir."/seqlen.vars"

cell_w = 520.0; cell_h = 430.0; bar_px = 0.0; bar_extra = 0.0; top = 70.0
legend_key = "colour: variant; dash, point: ISA"
@layout
proportional(x) = panel_ref_y[p] * x / panel_ref_x[p]

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal @term_png size int(W),int(H) } else { set terminal @term_svg size int(W),int(H) }
    set output outdir."/seqlen.".fmt
    set multiplot title "Forward-pass time against tokens per pass\n{/*0.85 a point: median time of one pass, bars: its 95% interval; log-log, the same axes in every panel; dotted: time proportional to tokens}" font ",13"
    do for [p=1:n_panels] {
        f = panel_first[p]
        set origin px(p), py(p)
        set size pw(p), ph
        set lmargin 10; set rmargin 3; set tmargin 2.5; set bmargin 3.5
        set title panel_title[p] noenhanced font ",12"
        set xlabel "tokens per forward pass (log scale)"
        set ylabel "ms per forward pass (log scale)"
        set logscale x 2
        set logscale y
        set format x "%g"
        set format y "%g"
        set xrange [x_lo / 1.5 : x_hi * 1.5]
        set yrange [y_lo:y_hi]
        set grid xtics ytics lc rgb grid_colour
        set border 3
        set xtics nomirror
        set ytics nomirror
        set key off
        plot proportional(x) with lines dt 3 lw 1.5 lc rgb ref_colour notitle, \
            for [i=0:panel_n[p]-1] datadir."/seqlen.dat" index series_block[f+i] using 1:2:3:4 \
                with yerrorbars lw 1.2 dt 1 pt -1 lc rgb series_colour[f+i] notitle, \
            for [i=0:panel_n[p]-1] datadir."/seqlen.dat" index series_block[f+i] using 1:2 \
                with linespoints lw (series_variant[f+i] eq "llama.cpp" ? 3 : 2) \
                dt series_dt[f+i] pt series_pt[f+i] ps 1.3 lc rgb series_colour[f+i] notitle
    }
    set origin legend_x, 0.15
    set size legend_wf, 0.7
    @legend_setup
    set key title legend_key
    @legend_plot
    unset multiplot
    unset output
}
