/* libFuzzer target: the readers of what a fleet gets from SLURM and from its jobs
 * (harness/fleet/parse.h), and the experiment-text rewriting of --model.
 *
 * The same bytes go to every reader: as squeue/sacct output (qk_fleet_parse_sched, then
 * qk_fleet_sched_find for ids and tasks taken from what was parsed, so pending ranges like
 * "7_[2-5%2]" get looked into), as sbatch --parsable output, as a job record, as a job log (the
 * reason found with buffers of several sizes), as a selector, a target name and an array task
 * list (the text up to its first NUL), and as an experiment whose model line is replaced. Every
 * output string must be terminated within its buffer, every row found must be one of the rows,
 * and a refusal must leave a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fleet/internal.h"
#include "harness/fleet/parse.h"

static volatile uint64_t sink;

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_fleet: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

#define TERMINATED(field) check(memchr(field, 0, sizeof field) != NULL, #field " terminated")

static void sched(const char *data, size_t size) {
    qk_fleet_sched_row *rows = NULL;
    int n = 0;
    if (qk_fleet_parse_sched(data, size, &rows, &n)) {
        free(rows);
        return;
    }
    for (int i = 0; i < n; i++) {
        const qk_fleet_sched_row *r = &rows[i];
        TERMINATED(r->id);
        TERMINATED(r->state);
        TERMINATED(r->node);
        TERMINATED(r->reason);
        TERMINATED(r->exit_code);
        check(r->id[0] && r->state[0], "id and state non-empty");
        sink += (uint64_t)qk_fleet_state_is_active(r->state) + strlen(r->reason);
        /* look rows up by their own job id (before '_') and a few tasks */
        char job[64];
        snprintf(job, sizeof job, "%s", r->id);
        job[strcspn(job, "_")] = 0;
        for (int task = -1; task < 8; task++) {
            const qk_fleet_sched_row *f = qk_fleet_sched_find(rows, n, job, task);
            check(!f || (f >= rows && f < rows + n), "found row is one of the rows");
        }
        sink += (uint64_t)(qk_fleet_sched_find(rows, n, job, 2147483647) != NULL);
    }
    free(rows);
}

static void record_and_log(const char *data, size_t size) {
    qk_fleet_record rec;
    if (qk_fleet_parse_record(data, size, &rec) == 0) check(rec.job[0] != 0, "record has a job");
    TERMINATED(rec.job);
    TERMINATED(rec.node);
    TERMINATED(rec.start);
    TERMINATED(rec.end);
    check(!rec.has_exit || (rec.exit_code >= 0 && rec.exit_code <= 255), "exit code in range");
    static const size_t sizes[] = {1, 2, 17, 600};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char why[600];
        memset(why, 'x', sizeof why);
        qk_fleet_log_reason(data, size, why, sizes[i]);
        check(memchr(why, 0, sizes[i]) != NULL, "reason terminated within its buffer");
        sink += strlen(why);
    }
    char id[24];
    if (qk_fleet_parse_job_id(data, size, id, sizeof id) == 0) {
        check(id[0] >= '0' && id[0] <= '9', "job id starts with a digit");
        TERMINATED(id);
    }
}

static void text_readers(const char *text) {
    qk_fleet_selector sel;
    qk_error err = {{0}};
    if (qk_fleet_parse_selector(text, &sel, &err) == 0) {
        check(sel.n >= 1 && sel.n <= QK_FLEET_SEL_MAX, "selector key count");
        for (int i = 0; i < sel.n; i++) {
            TERMINATED(sel.value[i]);
            check(sel.value[i][0] != 0, "selector value non-empty");
            check(strpbrk(sel.value[i], " \t\n'\"\\$`") == NULL, "no unsafe character");
        }
    } else {
        check(err.msg[0] != 0, "selector refusal has a message");
    }
    err.msg[0] = 0;
    if (qk_fleet_check_name(text, &err) != 0) check(err.msg[0] != 0, "name refusal message");
    for (int t = -1; t < 4; t++) sink += (uint64_t)qk_fleet_tasks_contain(text, t);
    char *copy = qkf_experiment_with_model(text, "/m/x.gguf");
    if (copy) {
        check(strstr(copy, "model = /m/x.gguf") != NULL, "model line written");
        free(copy);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sched((const char *)data, size);
    record_and_log((const char *)data, size);
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    text_readers(text);
    free(text);
    return 0;
}
