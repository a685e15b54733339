# roofline.gp: a panel per kernel ISA (roofline.vars: panel_title), each with that ISA's measured
# ceilings, attainable = min(int8 peak, intensity x read bandwidth) (solid: DRAM bandwidth at the
# most threads; dotted: one thread; dashed: L2-sized buffers), and every measured configuration of
# that ISA placed on them: colour = kernel variant, open point = the whole forward pass, filled =
# one matmul shape alone. Both axes are log scale and the same in every panel; the one legend is
# beside the panels (style.vars).
# Data: roofline_ceilings.dat (one block per ceiling: intensity, attainable GOPS),
# roofline_points.dat (two blocks per series: forward points, matmul points), roofline.vars (the
# panels and series of report/style.h, n_ceilings, ceiling_panel[], ceiling_dt[], ceiling_lw[],
# ai_lo, ai_hi, gops_lo, gops_hi).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/style.vars"
load datadir."/roofline.vars"

cell_w = 470.0; cell_h = 470.0; bar_px = 0.0; bar_extra = 0.0; top = 70.0
legend_key = "kernel variant"
@layout

do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal @term_png size int(W),int(H) } else { set terminal @term_svg size int(W),int(H) }
    set output outdir."/roofline.".fmt
    set multiplot title "Roofline: each measured kernel against the ceilings qkbench roofline measured, a panel per ISA\n{/*0.85 a point: one configuration (tokens, threads); intensity = 2 x MACs / Q8\\_0 weight bytes per pass; GOPS = 2 x MACs / median time}" font ",13"
    do for [p=1:n_panels] {
        f = panel_first[p]
        set origin px(p), py(p)
        set size pw(p), ph
        set lmargin 9; set rmargin 2; set tmargin 3.5; set bmargin 3.5
        set title panel_title[p] noenhanced font ",11"
        set xlabel "int8 ops per weight byte (log scale)"
        set ylabel "GOPS (log scale)"
        set logscale xy
        set xrange [ai_lo:ai_hi]
        set yrange [gops_lo:gops_hi]
        set format x "%g"
        set format y "%g"
        set grid xtics ytics lc rgb grid_colour
        set border 3
        set xtics nomirror
        set ytics nomirror
        set key off
        plot for [c=1:n_ceilings] datadir."/roofline_ceilings.dat" index (c-1) using 1:(ceiling_panel[c] == p ? $2 : NaN) \
                with lines lw ceiling_lw[c] dt ceiling_dt[c] lc rgb ceiling_colour notitle, \
            for [i=0:panel_n[p]-1] datadir."/roofline_points.dat" index series_block[f+i] using 1:2 \
                with points pt (series_pt[f+i] - 1) ps 1.7 lw 2 lc rgb series_colour[f+i] notitle, \
            for [i=0:panel_n[p]-1] datadir."/roofline_points.dat" index series_block2[f+i] using 1:2 \
                with points pt series_pt[f+i] ps 1.5 lc rgb series_colour[f+i] notitle
    }
    set origin legend_x, 0.1
    set size legend_wf, 0.8
    @legend_setup
    set key title legend_key
    @legend_plot
    unset multiplot
    unset output
}
