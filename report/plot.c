/* Writing plot data: the NAME.dat and NAME.vars files the gnuplot scripts read (numbers as
 * gnuplot parses them, strings and arrays in its syntax). What the plots look like is style.c's. */
#include <math.h>
#include <stdio.h>

#include "report/model.h"

FILE *rp_open_out(const rp_report *R, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", R->outdir, name);
    return fopen(path, "w");
}

void rp_gp_string(FILE *f, const char *s) { /* a gnuplot double-quoted string */
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '\n') { /* a title of two lines */
            fputs("\\n", f);
            continue;
        }
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void rp_gp_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, " %.6g", v);
    else
        fprintf(f, " NaN");
}

void rp_gp_titles(FILE *f, const char *n_name, const char *arr, const char *const *t, int n) {
    fprintf(f, "%s = %d\n", n_name, n);
    if (n == 0) return;
    fprintf(f, "array %s[%d] = [", arr, n);
    for (int i = 0; i < n; i++) {
        if (i) fprintf(f, ", ");
        rp_gp_string(f, t[i]);
    }
    fprintf(f, "]\n");
}

void rp_gp_strings(FILE *f, const char *arr, const char *const *t, int n) {
    if (n == 0) return;
    fprintf(f, "array %s[%d] = [", arr, n);
    for (int i = 0; i < n; i++) {
        if (i) fprintf(f, ", ");
        rp_gp_string(f, t[i]);
    }
    fprintf(f, "]\n");
}
void rp_gp_ints(FILE *f, const char *arr, const int *v, int n) {
    if (n == 0) return;
    fprintf(f, "array %s[%d] = [", arr, n);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fprintf(f, "]\n");
}
