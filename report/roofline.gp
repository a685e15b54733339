# roofline.gp: the measured ceilings, attainable = min(int8 peak, intensity x read bandwidth), one
# colour per ISA (solid: DRAM bandwidth at the most threads; dotted: 1 thread; dashed: L2-sized
# buffers), and every measured configuration placed on them: colour = kernel variant, shape = ISA,
# open = whole forward pass, filled = matmul only.
# Data: roofline_ceilings.dat (one block per ceiling: intensity, attainable GOPS),
# roofline_points.dat (one block per series: intensity, achieved GOPS), roofline.vars (n_ceilings,
# ceiling_title[], ceiling_colour[], ceiling_dt[], ceiling_lw[], n_points, point_title[],
# point_colour[], point_type[], ai_lo, ai_hi, gops_lo, gops_hi).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/roofline.vars"

set title "Roofline: int8 ceilings measured by qkbench roofline, and the measured kernels\n{/*0.85 intensity = 2 x MACs / Q8\\_0 weight bytes per pass; GOPS = 2 x MACs / median time}"
set xlabel "arithmetic intensity (int8 ops per weight byte, log scale)"
set ylabel "performance (GOPS, log scale)"
set logscale xy
set xrange [ai_lo:ai_hi]
set yrange [gops_lo:gops_hi]
set grid xtics ytics lc rgb "#dddddd"
set key outside right top vertical box noenhanced
set border 3
set xtics nomirror
set ytics nomirror
set format x "%g"
set format y "%g"

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1400,750 enhanced font "Sans,11"
    } else {
        set terminal svg size 1400,750 dynamic enhanced font "Sans,11" background rgb "white"
    }
    set output outdir."/roofline.".fmt
    plot for [i=1:n_ceilings] datadir."/roofline_ceilings.dat" index (i-1) using 1:2 \
            with lines lw ceiling_lw[i] dt ceiling_dt[i] lc rgb ceiling_colour[i] \
            title ceiling_title[i], \
        for [i=1:n_points] datadir."/roofline_points.dat" index (i-1) using 1:2 \
            with points pt point_type[i] ps 1.7 lw 2 lc rgb point_colour[i] title point_title[i]
    unset output
}
