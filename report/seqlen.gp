# seqlen.gp: forward-pass time against the number of tokens per pass, log-log, one line per kernel
# with its 95% interval as error bars. The dotted grey line has slope 1 (time proportional to the
# tokens) through the first series' shortest point: a flatter curve means a per-pass cost (reading
# the weights) is being amortised over more tokens.
# Data: seqlen.dat (one block per series: tokens, median, CI low, CI high, ms per token),
# seqlen.vars (n_series, series_title[], max_x).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/seqlen.vars"

stats datadir."/seqlen.dat" index 0 using 1:2 nooutput
x0 = STATS_min_x
y0 = STATS_min_y
proportional(x) = y0 * x / x0
stats datadir."/seqlen.dat" using 2 nooutput
set yrange [STATS_min / 2 : STATS_max * 2]

set title "Forward-pass time against sequence length\n{/*0.85 median and 95% interval; log-log}"
set xlabel "tokens per forward pass (log scale)"
set ylabel "time per forward pass (ms, log scale)"
set logscale xy
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top left box opaque noenhanced
set border 3
set xtics nomirror
set ytics nomirror
set xrange [0.8:max_x * 1.25]

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1000,650 enhanced font "Sans,11"
    } else {
        set terminal svg size 1000,650 dynamic enhanced font "Sans,11" background rgb "white"
    }
    set output outdir."/seqlen.".fmt
    plot proportional(x) with lines dt 3 lw 1.5 lc rgb "#888888" title "time proportional to tokens", \
        for [i=1:n_series] datadir."/seqlen.dat" index (i-1) using 1:2:3:4 \
        with yerrorlines lw 2 pt 7 ps 1.2 title series_title[i]
    unset output
}
