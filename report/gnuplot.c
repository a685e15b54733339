/* Drawing the plots: every gnuplot script of the scripts folder runs as
 * `gnuplot -e "datadir='DIR'; outdir='DIR'" NAME.gp`, its output into NAME.log; a plot counts as
 * drawn when gnuplot exits 0 and left a non-empty NAME.png and NAME.svg. A section's plot runs only
 * when the section wrote data for it; a script no section knows runs as it is. */
#define _GNU_SOURCE /* strdup */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/model.h"

extern char **environ;

static int file_nonempty(const char *dir, const char *name, const char *ext) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static void gp_quote(char *dst, size_t size, const char *s) { /* gnuplot '...' string */
    size_t j = 0;
    for (; *s && j + 3 < size; s++) {
        if (*s == '\'') dst[j++] = '\'';
        dst[j++] = *s;
    }
    dst[j] = 0;
}

static void run_plot(const rp_report *R, qk_report_plot *p, const char *script) {
    char dq[2048], expr[4400], log[4096];
    gp_quote(dq, sizeof dq, R->outdir);
    snprintf(expr, sizeof expr, "datadir='%s'; outdir='%s'", dq, dq);
    snprintf(log, sizeof log, "%s/%s.log", R->outdir, p->name);
    /* an old image must not pass for a new one */
    const char *exts[] = {"png", "svg"};
    for (int e = 0; e < 2; e++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.%s", R->outdir, p->name, exts[e]);
        unlink(path);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {"gnuplot", "-e", expr, (char *)script, NULL};
    pid_t pid;
    const int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    p->attempted = 1;
    p->exit_status = -1;
    if (rc != 0) {
        snprintf(p->why, sizeof p->why, "gnuplot could not be started (%s)%s", strerror(rc),
                 rc == ENOENT ? ": is it installed and in PATH?" : "");
        return;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(p->why, sizeof p->why, "waiting for gnuplot failed: %s", strerror(errno));
            return;
        }
    if (WIFEXITED(st)) p->exit_status = WEXITSTATUS(st);
    if (!WIFEXITED(st)) {
        snprintf(p->why, sizeof p->why, "gnuplot was killed by signal %d", WTERMSIG(st));
    } else if (p->exit_status == 127) {
        snprintf(p->why, sizeof p->why, "gnuplot not found (exit status 127): is it installed?");
    } else if (p->exit_status != 0) {
        snprintf(p->why, sizeof p->why, "gnuplot exited with status %d (see %s.log)",
                 p->exit_status, p->name);
    } else if (!file_nonempty(R->outdir, p->name, "png") ||
               !file_nonempty(R->outdir, p->name, "svg")) {
        snprintf(p->why, sizeof p->why,
                 "gnuplot exited 0 but %s.png or %s.svg is missing or "
                 "empty (see %s.log)",
                 p->name, p->name, p->name);
    } else {
        p->ok = 1;
    }
}

static int plot_index(const rp_report *R, const char *name) {
    for (int i = 0; i < R->n_plots; i++)
        if (!strcmp(R->plots[i].name, name)) return i;
    return -1;
}

const qk_report_plot *rp_plot_named(const rp_report *R, const char *name) {
    const int i = plot_index(R, name);
    return i < 0 ? NULL : &R->plots[i];
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void rp_draw_plots(rp_report *R, const int *has_data) {
    const char *scripts = R->scripts;
    for (int i = 0; i < rp_n_sections; i++) {
        if (!rp_sections[i]->plot || R->n_plots == QK_REPORT_MAX_PLOTS) continue;
        qk_report_plot *p = &R->plots[R->n_plots++];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", rp_sections[i]->plot);
        p->has_data = has_data[i] > 0;
        p->exit_status = -1;
        if (has_data[i] < 0)
            snprintf(p->why, sizeof p->why, "its data file could not be written");
        else if (!has_data[i])
            snprintf(p->why, sizeof p->why, "not drawn: these results have no data for it");
    }
    /* every script of the folder: the sections' plots with their data, others as they are */
    DIR *dir = opendir(scripts);
    char *names[64];
    int n = 0;
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) && n < 64) {
            const size_t l = strlen(e->d_name);
            if (l > 3 && !strcmp(e->d_name + l - 3, ".gp") && e->d_name[0] != '.' &&
                (names[n] = strdup(e->d_name)) != NULL)
                n++;
        }
        closedir(dir);
    }
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    for (int i = 0; i < n; i++) {
        char stem[32];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[i]) - 3), names[i]);
        const int pi = plot_index(R, stem);
        qk_report_plot *p = pi < 0 ? NULL : &R->plots[pi];
        if (!p && R->n_plots < QK_REPORT_MAX_PLOTS) {
            p = &R->plots[R->n_plots++];
            memset(p, 0, sizeof *p);
            snprintf(p->name, sizeof p->name, "%s", stem);
            p->has_data = 1;
        }
        if (p && p->has_data) {
            char script[4096];
            snprintf(script, sizeof script, "%s/%s", scripts, names[i]);
            if (R->o->progress) R->o->progress(script, R->o->progress_arg);
            run_plot(R, p, script);
        }
        free(names[i]);
    }
    for (int i = 0; i < R->n_plots; i++) {
        qk_report_plot *p = &R->plots[i];
        if (p->has_data && !p->attempted) {
            char name[sizeof p->name]; /* a copy: p->why and p->name share an object */
            memcpy(name, p->name, sizeof name);
            snprintf(p->why, sizeof p->why, "no script %s.gp in %s", name, scripts);
        }
    }
}
