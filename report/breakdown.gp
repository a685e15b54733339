# breakdown.gp: where a forward pass spends its time: one stacked bar per (CPU,) kernel variant and
# configuration, one segment per operation of the per-operation profile (matmuls in blues and
# greens, the rest in warm colours and greys). Top: milliseconds; bottom: share of the profiled
# total, so fast and slow configurations can be compared.
# Data: breakdown.dat (label, ms per operation, profiled total), breakdown.vars (n_ops, op_title[]).
if (!exists("datadir")) datadir = "."
if (!exists("outdir")) outdir = "."
load datadir."/breakdown.vars"

set style data histogram
set style histogram rowstacked
set style fill solid 0.9 border rgb "#444444"
set boxwidth 0.7
set grid ytics lc rgb "#cccccc"
set xtics rotate by -30 scale 0 nomirror noenhanced
set ytics nomirror
set border 3
set lmargin at screen 0.08
set rmargin at screen 0.83

# one colour per operation name, so a colour means the same thing in every report
colour(name) = \
    name eq "embed"        ? "#bdbdbd" : name eq "norm"         ? "#fdd0a2" : \
    name eq "qk_norm"      ? "#fdae6b" : name eq "quantize"     ? "#e6550d" : \
    name eq "matmul_q"     ? "#08306b" : name eq "matmul_k"     ? "#08519c" : \
    name eq "matmul_v"     ? "#2171b5" : name eq "matmul_o"     ? "#4292c6" : \
    name eq "matmul_gate"  ? "#00441b" : name eq "matmul_up"    ? "#238b45" : \
    name eq "matmul_down"  ? "#74c476" : name eq "matmul_dense" ? "#9ecae1" : \
    name eq "rope"         ? "#dadaeb" : name eq "attention"    ? "#756bb1" : \
    name eq "gelu"         ? "#fb6a4a" : name eq "residual"     ? "#969696" : \
    name eq "pool"         ? "#636363" : "#000000"
total_col = n_ops + 2

do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 1200,1000 enhanced font "Sans,11"
    } else {
        set terminal svg size 1200,1000 dynamic enhanced font "Sans,11" background rgb "white"
    }
    set output outdir."/breakdown.".fmt
    set multiplot layout 2,1 title "Per-operation time of one forward pass {/*0.85 (mean of the profiled passes; bar: variant ISA/threads/tokens)}" font ",13"
    set key outside right top vertical title "operation" box noenhanced
    set title "milliseconds"
    set ylabel "time per forward pass (ms)"
    set yrange [0:*]
    plot for [i=1:n_ops] datadir."/breakdown.dat" using (column(i+1)):xtic(1) \
        title op_title[i] lc rgb colour(op_title[i])
    set key off
    set title "share of the profiled total"
    set ylabel "share of the forward pass (%)"
    set yrange [0:100]
    plot for [i=1:n_ops] datadir."/breakdown.dat" \
        using (100 * column(i+1) / column(total_col)):xtic(1) \
        title op_title[i] lc rgb colour(op_title[i])
    unset multiplot
    unset output
}
