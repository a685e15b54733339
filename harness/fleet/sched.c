/* The scheduler's commands: sbatch --parsable for submission; squeue (what is queued or ended a
 * moment ago, with the reasons) and sacct (what accounting kept after squeue forgot) for status;
 * scancel. Each may be missing or refuse (no accounting storage, no configuration on this host):
 * status then goes by the files the jobs leave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fleet/internal.h"

#define CMD_TIMEOUT_S 60

int qkf_sbatch(const char *const *argv, char *job_id, size_t size, qk_error *err) {
    qkf_cmd c;
    if (qkf_run(argv, CMD_TIMEOUT_S, &c, err)) {
        qkf_cmd_free(&c);
        return -1;
    }
    int rc = 0;
    if (c.exit_code != 0 || qk_fleet_parse_job_id(c.out, c.out_len, job_id, size)) {
        char line[400];
        qkf_cmd_message(&c, line, sizeof line);
        rc = c.exit_code != 0 ? qk_fail(err, "sbatch failed (exit %d): %s", c.exit_code, line)
                              : qk_fail(err, "sbatch printed no job id: %s", line);
    }
    qkf_cmd_free(&c);
    return rc;
}

/* Runs one query command and appends its rows; 1 when it answered, 0 when not (why in why). */
static int ask(const char *const *argv, qk_fleet_sched_row **rows, int *n, char *why,
               size_t why_size, int *oom) {
    qkf_cmd c;
    qk_error e = {{0}};
    int answered = 0;
    if (qkf_run(argv, CMD_TIMEOUT_S, &c, &e)) {
        snprintf(why, why_size, "%s", e.msg);
    } else if (c.exit_code != 0 && strstr(c.err, "Invalid job id specified")) {
        answered = 1; /* squeue has forgotten every one of them (MinJobAge): an answer */
    } else if (c.exit_code != 0) {
        char line[200];
        qkf_cmd_message(&c, line, sizeof line);
        const size_t l = strlen(argv[0]);
        if (!strncmp(line, argv[0], l) && line[l] == ':')
            snprintf(why, why_size, "%s", line);
        else
            snprintf(why, why_size, "%s: %s", argv[0], line);
    } else {
        answered = 1;
        if (qk_fleet_parse_sched(c.out, c.out_len, rows, n)) *oom = 1;
    }
    qkf_cmd_free(&c);
    return answered;
}

int qkf_query(const char *const *ids, int n_ids, qk_fleet_sched_row **rows, int *n_rows,
              char *source, size_t source_size, qk_error *err) {
    *rows = NULL;
    *n_rows = 0;
    if (n_ids == 0) {
        snprintf(source, source_size, "none: nothing submitted");
        return 0;
    }
    size_t len = 1;
    for (int i = 0; i < n_ids; i++) len += strlen(ids[i]) + 1;
    char *list = calloc(len, 1);
    if (!list) return qk_fail(err, "out of memory");
    for (int i = 0; i < n_ids; i++) {
        if (i) strcat(list, ",");
        strcat(list, ids[i]);
    }
    int oom = 0;
    char why_q[240] = "", why_a[240] = "";
    /* -r: one line per array task, pending ones too; --states=all: ended jobs squeue still has */
    const char *sq[] = {"squeue", "-h", "-a", "-r",          "--states=all",
                        "-j",     list, "-o", "%i|%T|%N|%r", NULL};
    const int q_ok = ask(sq, rows, n_rows, why_q, sizeof why_q, &oom);
    /* sacct for the jobs squeue does not know (ended longer ago than MinJobAge) */
    qkf_strv missing = {0};
    for (int i = 0; i < n_ids && !oom; i++) {
        int found = 0;
        const size_t l = strlen(ids[i]);
        for (int r = 0; r < *n_rows && !found; r++)
            found = !strncmp((*rows)[r].id, ids[i], l) &&
                    ((*rows)[r].id[l] == 0 || (*rows)[r].id[l] == '_');
        if (!found && qkf_strv_push(&missing, ids[i])) oom = 1;
    }
    int a_ok = 0;
    if (missing.n && !oom) {
        char *mlist = calloc(len, 1);
        if (!mlist) {
            oom = 1;
        } else {
            for (int i = 0; i < missing.n; i++) {
                if (i) strcat(mlist, ",");
                strcat(mlist, missing.v[i]);
            }
            const char *sa[] = {"sacct", "-n",  "-P", "-X",
                                "-j",    mlist, "-o", "JobID,State,NodeList,Reason,ExitCode",
                                NULL};
            a_ok = ask(sa, rows, n_rows, why_a, sizeof why_a, &oom);
            free(mlist);
        }
    }
    qkf_strv_free(&missing);
    free(list);
    if (oom) return qk_fail(err, "out of memory");
    if (q_ok && a_ok)
        snprintf(source, source_size, "squeue and sacct");
    else if (q_ok && !*why_a)
        snprintf(source, source_size, "squeue");
    else if (q_ok)
        snprintf(source, source_size, "squeue (%s)", why_a);
    else if (a_ok)
        snprintf(source, source_size, "sacct (%s)", why_q);
    else
        snprintf(source, source_size, "none (%s)", why_q);
    return 0;
}

int qkf_scancel(const char *job_id, qk_error *err) {
    const char *argv[] = {"scancel", job_id, NULL};
    qkf_cmd c;
    int rc = qkf_run(argv, CMD_TIMEOUT_S, &c, err);
    if (!rc && c.exit_code != 0) {
        char line[300];
        qkf_cmd_message(&c, line, sizeof line);
        rc = qk_fail(err, "scancel %s failed: %s", job_id, line);
    }
    qkf_cmd_free(&c);
    return rc;
}
