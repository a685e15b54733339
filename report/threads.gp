# threads.gp: thread scaling of the forward pass. Left: median time (95% interval as error bars)
# against threads; right: speedup over the fewest threads, with ideal linear scaling.
# Data: threads.dat (one block per series: threads, median, CI low, CI high, speedup),
# threads.vars (n_series, series_title[], max_x).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/threads.vars"

set grid lc rgb "#cccccc"
set key top right box opaque noenhanced
set xrange [0.8:max_x + 0.2]
set xtics 1
set border 3
set xtics nomirror
set ytics nomirror

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1300,560 enhanced font "Sans,11"
    } else {
        set terminal svg size 1300,560 dynamic enhanced font "Sans,11" background rgb "white"
    }
    set output outdir."/threads.".fmt
    set multiplot layout 1,2 title "Thread scaling of the forward pass (threads pinned)"
    set title "time (median, 95% interval)"
    set xlabel "threads"
    set ylabel "time per forward pass (ms)"
    set yrange [0:*]
    plot for [i=1:n_series] datadir."/threads.dat" index (i-1) using 1:2:3:4 \
        with yerrorlines lw 2 pt 7 ps 1.2 title series_title[i]
    set title "speedup over the fewest threads"
    set ylabel "speedup (x)"
    set yrange [0:max_x + 0.5]
    plot x with lines dt 2 lc rgb "#888888" title "ideal (linear)", \
        for [i=1:n_series] datadir."/threads.dat" index (i-1) using 1:5 \
        with linespoints lw 2 pt 7 ps 1.2 title series_title[i]
    unset multiplot
    unset output
}
