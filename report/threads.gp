# threads.gp: thread scaling of the forward pass, a panel per tokens per pass (and activation
# scales, ISA when crowded: threads.vars' panel_title), one line per kernel (colour = variant, dash
# and point = ISA), llama.cpp in black wherever it was measured at several thread counts. Upper
# row: median time (95% interval as error bars) against threads, each panel on its own scale;
# lower row: speedup over the fewest threads, the dotted line ideal linear scaling. The one legend
# is beside the panels (style.vars).
# Data: threads.dat (one block per drawn series: threads, median, CI low, CI high, speedup),
# threads.vars (the panels and series of report/style.h, x_lo, x_hi, speedup_hi).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/style.vars"
load datadir."/threads.vars"

cell_w = 440.0; cell_h = 640.0; bar_px = 0.0; bar_extra = 0.0; top = 70.0
legend_key = "colour: variant; dash, point: ISA"
@layout

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal @term_png size int(W),int(H) } else { set terminal @term_svg size int(W),int(H) }
    set output outdir."/threads.".fmt
    set multiplot title "Thread scaling of the forward pass (threads pinned)\n{/*0.85 a point: median time of one pass, bars: its 95% interval; lower row: speedup over the fewest threads}" font ",13"
    do for [p=1:n_panels] {
        f = panel_first[p]
        set lmargin 10; set rmargin 3; set tmargin 2.5; set bmargin 3.5
        set grid lc rgb grid_colour
        set border 3
        set xtics 1 nomirror
        set ytics nomirror
        set key off
        set xrange [x_lo - 0.25 : x_hi + 0.25]
        set origin px(p), py(p) + 0.5 * ph
        set size pw(p), 0.5 * ph
        set title panel_title[p] noenhanced font ",12"
        set xlabel "threads"
        set ylabel "ms per forward pass"
        set yrange [0:*]
        plot for [i=0:panel_n[p]-1] datadir."/threads.dat" index series_block[f+i] using 1:2:3:4 \
            with yerrorbars lw 1.2 dt 1 pt -1 lc rgb series_colour[f+i] notitle, \
            for [i=0:panel_n[p]-1] datadir."/threads.dat" index series_block[f+i] using 1:2 \
            with linespoints lw (series_variant[f+i] eq "llama.cpp" ? 3 : 2) \
            dt series_dt[f+i] pt series_pt[f+i] ps 1.3 lc rgb series_colour[f+i] notitle
        set origin px(p), py(p)
        set title "speedup over the fewest threads" font ",10"
        set ylabel "speedup (x)"
        set yrange [0:speedup_hi]
        plot x with lines dt 3 lw 1.5 lc rgb ref_colour notitle, \
            for [i=0:panel_n[p]-1] datadir."/threads.dat" index series_block[f+i] using 1:5 \
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
