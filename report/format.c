/* How the report writes figures: times, speedups and shares with their intervals, sizes, a
 * configuration's key, and the few phrases every section repeats. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/model.h"

rp_str rp_fmt_ms(double v) {
    rp_str r;
    if (isnan(v))
        snprintf(r.s, sizeof r.s, "n/a");
    else if (fabs(v) >= 100)
        snprintf(r.s, sizeof r.s, "%.1f", v);
    else if (fabs(v) >= 10)
        snprintf(r.s, sizeof r.s, "%.2f", v);
    else if (fabs(v) >= 1)
        snprintf(r.s, sizeof r.s, "%.3f", v);
    else
        snprintf(r.s, sizeof r.s, "%.4f", v);
    return r;
}
rp_str rp_fmt_ms_ci(double m, double lo, double hi) {
    rp_str r;
    if (isnan(lo) || isnan(hi))
        snprintf(r.s, sizeof r.s, "%s", rp_fmt_ms(m).s);
    else
        snprintf(r.s, sizeof r.s, "%s [%s, %s]", rp_fmt_ms(m).s, rp_fmt_ms(lo).s, rp_fmt_ms(hi).s);
    return r;
}
rp_str rp_fmt_x(double v) {
    rp_str r;
    if (isnan(v))
        snprintf(r.s, sizeof r.s, "n/a");
    else if (isinf(v))
        snprintf(r.s, sizeof r.s, "%sinf", v < 0 ? "-" : "");
    else
        snprintf(r.s, sizeof r.s, "%.3f", v);
    return r;
}
rp_str rp_fmt_xi(qk_interval x) {
    rp_str r;
    if (isnan(x.lo) || isnan(x.hi) || (x.lo == x.value && x.hi == x.value))
        snprintf(r.s, sizeof r.s, "%sx", rp_fmt_x(x.value).s);
    else
        snprintf(r.s, sizeof r.s, "%sx [%s, %s]", rp_fmt_x(x.value).s, rp_fmt_x(x.lo).s,
                 rp_fmt_x(x.hi).s);
    return r;
}
rp_str rp_fmt_pct(double f) {
    rp_str r;
    if (isnan(f))
        snprintf(r.s, sizeof r.s, "n/a");
    else if (isinf(f))
        snprintf(r.s, sizeof r.s, "%sinf", f < 0 ? "-" : "");
    else
        snprintf(r.s, sizeof r.s, "%.1f%%", 100 * f);
    return r;
}
rp_str rp_fmt_pct_i(qk_interval x) {
    rp_str r;
    if (isnan(x.lo) || isnan(x.hi) || (x.lo == x.value && x.hi == x.value))
        snprintf(r.s, sizeof r.s, "%s", rp_fmt_pct(x.value).s);
    else
        snprintf(r.s, sizeof r.s, "%s [%s, %s]", rp_fmt_pct(x.value).s, rp_fmt_pct(x.lo).s,
                 rp_fmt_pct(x.hi).s);
    return r;
}
rp_str rp_fmt_mb(double bytes) {
    rp_str r;
    if (isnan(bytes))
        snprintf(r.s, sizeof r.s, "n/a");
    else
        snprintf(r.s, sizeof r.s, "%.2f", bytes / 1e6);
    return r;
}
rp_str rp_fmt_key(const rp_report *R, const rp_key *k) {
    rp_str r;
    snprintf(r.s, sizeof r.s, "%s%s%s, %d token%s, %d thread%s, act %s%s%s",
             R->show_model ? k->model : "", R->show_model ? ": " : "", k->isa, k->seq,
             k->seq == 1 ? "" : "s", k->threads, k->threads == 1 ? "" : "s", k->act,
             strcmp(k->binding, "compact") ? ", bind " : "",
             strcmp(k->binding, "compact") ? k->binding : "");
    return r;
}
/* "A " prefix for plot labels when several CPUs */
rp_str rp_plot_prefix(const rp_report *R, const rp_cpu *g) {
    rp_str r;
    if (R->n_cpus > 1)
        snprintf(r.s, sizeof r.s, "%s ", g->label);
    else
        r.s[0] = 0;
    return r;
}
/* "CPU A: " prefix for plot panels when several CPUs */
rp_str rp_panel_prefix(const rp_report *R, const rp_cpu *g) {
    rp_str r;
    if (R->n_cpus > 1)
        snprintf(r.s, sizeof r.s, "CPU %s: ", g->label);
    else
        r.s[0] = 0;
    return r;
}
const char *rp_short_variant(const char *v) {
    if (!strcmp(v, "parse-per-block")) return "parse";
    if (!strcmp(v, "precached-scales")) return "precached";
    if (!strcmp(v, "alloc-copy")) return "alloc";
    if (!strcmp(v, "zero-copy")) return "zero-copy";
    return v;
}

/* A CPU's heading (level ###) when the report has several CPUs; nothing otherwise. */
rp_str rp_target_name(const rp_cpu *g) {
    rp_str r;
    if (g->task >= 0)
        snprintf(r.s, sizeof r.s, "%s/%d", g->target, g->task);
    else
        snprintf(r.s, sizeof r.s, "%s", g->target);
    return r;
}

void rp_cpu_heading(FILE *f, const rp_report *R, const rp_cpu *g) {
    if (R->n_cpus <= 1) return;
    fprintf(f, "### CPU %s: %s (%s", g->label, g->cpu_model, g->host);
    if (*g->target) fprintf(f, ", fleet target %s", rp_target_name(g).s);
    fprintf(f, ")\n\n");
}

void rp_not_measured(FILE *f, const char *what, const char *run) {
    fprintf(f, "*Not measured in these results: %s. Run %s.*\n\n", what, run);
}
