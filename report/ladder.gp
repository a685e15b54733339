# ladder.gp: the ladder as grouped bars, one group per (CPU,) ISA, tokens per pass and threads,
# one bar per kernel variant. Top: median time per forward pass with its 95% interval as whiskers.
# Bottom: speedup against the same group's parse-per-block (paired 95% interval when the results
# have it), so groups of very different speeds can be compared.
# Data: ladder.dat (label, then per variant: median, CI low, CI high, speedup, its CI low, high),
# ladder.vars (n_variants, variant_title[], variant_colour[], ladder_log). Run by qkbench report as
#   gnuplot -e "datadir='DIR'; outdir='DIR'" ladder.gp
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/ladder.vars"

set style data histogram
set style histogram errorbars gap 1.5 lw 1.2
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.9
set grid ytics lc rgb "#cccccc"
set xtics scale 0 nomirror
set ytics nomirror
set border 3
set lmargin at screen 0.08
set rmargin at screen 0.83
set key outside right top vertical title "kernel variant" box noenhanced
if (ladder_rows > 4) set xtics rotate by -25

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1200,900 enhanced font "Sans,11"
    } else {
        set terminal svg size 1200,900 dynamic enhanced font "Sans,11" background rgb "white"
    }
    set output outdir."/ladder.".fmt
    set key on
    set multiplot layout 2,1 title "The ladder: forward pass per kernel variant, ISA, tokens and threads" font ",13"

    set title "time per forward pass {/*0.85 (bars: median; whiskers: 95% bootstrap interval of the median)}"
    set ylabel "time (ms)"
    set xlabel ""
    unset logscale y
    if (ladder_log) {
        set logscale y
        set ylabel "time (ms, log scale)"
        set yrange [*:*]
    } else {
        set yrange [0:*]
    }
    plot for [i=1:n_variants] datadir."/ladder.dat" \
        using (column(6*i-4)):(column(6*i-3)):(column(6*i-2)):xtic(1) \
        title variant_title[i] lc rgb variant_colour[i]

    set key off
    set title "speedup against parse-per-block {/*0.85 (> 1: faster; whiskers: paired 95% interval)}"
    set ylabel "speedup (x)"
    set xlabel "ISA, tokens per pass, threads"
    unset logscale y
    set yrange [0:*]
    plot for [i=1:n_variants] datadir."/ladder.dat" \
        using (column(6*i-1)):(column(6*i)):(column(6*i+1)):xtic(1) \
        title variant_title[i] lc rgb variant_colour[i], \
        1 with lines dt 2 lc rgb "#555555" notitle
    unset multiplot
    unset output
}
