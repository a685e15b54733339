# peer.gp: llama.cpp against our fastest kernel, per tokens per pass: the paired ratio llama.cpp
# time / ours (the median of the per-round ratios, whiskers its 95% bootstrap interval), a series
# per CPU and thread count (shades of llama.cpp's black), the 1x line dashed: above it ours is
# faster, below it llama.cpp is; a series per peer mode too (in-process filled points, llama.cpp in
# its own process open ones). Beside each point: the ratio and our kernel it was paired with, above
# the whisker for a panel's 1st, 3rd... series, right of the point for the 2nd, 4th... (two modes'
# labels do not overlap). The one legend is beside the panel (style.vars).
# Data: peer.dat (one block per series: tokens, ratio, CI low, CI high, our kernel), peer.vars
# (the panels and series of report/style.h, x_lo, x_hi, y_hi).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/style.vars"
load datadir."/peer.vars"

cell_w = 640.0; cell_h = 460.0; bar_px = 0.0; bar_extra = 0.0; top = 70.0
legend_key = "llama.cpp time / ours"
@layout

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal @term_png size int(W),int(H) } else { set terminal @term_svg size int(W),int(H) }
    set output outdir."/peer.".fmt
    set multiplot title "llama.cpp time / the time of our fastest kernel, against tokens per pass\n{/*0.85 a point: the median of the paired per-round ratios, whiskers: its 95% interval; above 1x ours is faster}" font ",13"
    do for [p=1:n_panels] {
        f = panel_first[p]
        set origin px(p), py(p)
        set size pw(p), ph
        set lmargin 10; set rmargin 4; set tmargin 2.5; set bmargin 3.5
        set title panel_title[p] noenhanced font ",12"
        set xlabel "tokens per forward pass (log scale)"
        set ylabel "llama.cpp time / ours (x)"
        set logscale x 2
        set format x "%g"
        set xrange [x_lo / 2.0 : x_hi * 2.0]
        set yrange [0:y_hi]
        set grid xtics ytics lc rgb grid_colour
        set border 3
        set xtics nomirror
        set ytics nomirror
        set key off
        unset label
        set label 1 "ours faster" at graph 0.02, first 1 offset 0,0.9 textcolor rgb key_grey font ",10"
        set label 2 "llama.cpp faster" at graph 0.02, first 1 offset 0,-0.9 textcolor rgb key_grey font ",10"
        plot 1 with lines dt 2 lw 2 lc rgb ref_colour notitle, \
            for [i=0:panel_n[p]-1] datadir."/peer.dat" index series_block[f+i] using 1:2:3:4 \
                with yerrorbars lw 1.5 dt 1 pt -1 lc rgb series_colour[f+i] notitle, \
            for [i=0:panel_n[p]-1] datadir."/peer.dat" index series_block[f+i] using 1:2 \
                with linespoints lw 2.5 dt series_dt[f+i] pt series_pt[f+i] ps 1.5 \
                lc rgb series_colour[f+i] notitle, \
            for [i=0:panel_n[p]-1] datadir."/peer.dat" index series_block[f+i] \
                using 1:(i % 2 ? $2 : $4):(sprintf("%.2fx\nvs %s", $2, strcol(5))) with labels \
                center offset (i % 2 ? 7 : 0),(i % 2 ? 0 : 1.6) \
                font ",9" textcolor rgb series_colour[f+i] noenhanced notitle
    }
    set origin legend_x, 0.2
    set size legend_wf, 0.6
    @legend_setup
    set key title legend_key
    @legend_plot
    unset multiplot
    unset output
}
