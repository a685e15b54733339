/* harness/fleet/parse.c: selectors and names as users type them, sbatch's, squeue's and sacct's
 * output as SLURM 22.05 prints it (lines copied from the test cluster of test_fleet.c), the record
 * a job script writes and the reason found in a job's log. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fleet/parse.h"

Test(fleet_parse, selectors) {
    qk_fleet_selector s;
    qk_error err = {{0}};
    cr_assert_eq(qk_fleet_parse_selector("partition=zen4", &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.key[0], "partition");
    cr_assert_str_eq(s.value[0], "zen4");
    cr_assert_eq(
        qk_fleet_parse_selector("nodelist=n[1-3],n7,partition=p,constraint=a&b|c", &s, &err), 0,
        "%s", err.msg);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.value[0], "n[1-3],n7"); /* the comma in a node list stays in it */
    cr_assert_str_eq(s.key[1], "partition");
    cr_assert_str_eq(s.value[2], "a&b|c");
    cr_assert_eq(qk_fleet_parse_selector("time=01:00:00,qos=normal", &s, &err), 0, "%s", err.msg);
    cr_assert_str_eq(s.value[0], "01:00:00");
}

Test(fleet_parse, bad_selectors_say_why) {
    static const struct {
        const char *in, *says;
    } bad[] = {
        {"", "empty selector"},
        {"zen4", "unknown key 'zen4'"},
        {"mem=4G", "unknown key 'mem'"},
        {"partition=", "partition has no value"},
        {"partition=a,partition=b", "partition given twice"},
        {"partition=a b", "character ' '"},
        {"partition=a'b", "character '''"},
        {"partition=a\nb", "(0x0a)"},
        {"nodelist=n1,", "ends with a comma"},
        {"partition=$HOME", "character '$'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qk_fleet_selector s;
        qk_error err = {{0}};
        cr_assert_eq(qk_fleet_parse_selector(bad[i].in, &s, &err), -1, "%s", bad[i].in);
        cr_assert(strstr(err.msg, bad[i].says), "'%s': %s", bad[i].in, err.msg);
    }
}

Test(fleet_parse, names) {
    qk_error err = {{0}};
    cr_assert_eq(qk_fleet_check_name("zen4-a_1", &err), 0, "%s", err.msg);
    cr_assert_eq(qk_fleet_check_name("report", &err), -1);
    cr_assert(strstr(err.msg, "taken"), "%s", err.msg);
    cr_assert_eq(qk_fleet_check_name("a/b", &err), -1);
    cr_assert_eq(qk_fleet_check_name("-x", &err), -1);
    cr_assert_eq(qk_fleet_check_name("", &err), -1);
    cr_assert_eq(qk_fleet_check_name("a.b", &err), -1);
}

Test(fleet_parse, sbatch_job_ids) {
    char id[32];
    cr_assert_eq(qk_fleet_parse_job_id("12\n", 3, id, sizeof id), 0);
    cr_assert_str_eq(id, "12");
    cr_assert_eq(qk_fleet_parse_job_id("345;cluster\n", 12, id, sizeof id), 0);
    cr_assert_str_eq(id, "345");
    cr_assert_eq(qk_fleet_parse_job_id("", 0, id, sizeof id), -1);
    cr_assert_eq(qk_fleet_parse_job_id("12abc", 5, id, sizeof id), -1);
    cr_assert_eq(qk_fleet_parse_job_id("sbatch: error", 13, id, sizeof id), -1);
}

Test(fleet_parse, squeue_and_sacct_rows) {
    const char *text = "1_1|COMPLETED|vm|None|p1\n"
                       "1_0|RUNNING|vm||p1\n"
                       "2|PENDING||Nodes required for job are DOWN, DRAINED or reserved\n"
                       "7_[2-5%2]|PENDING|None assigned|Resources|0:0\n"
                       "8|CANCELLED by 0|vm|None|0:15\n"
                       "broken line\n"
                       "|RUNNING|vm|x\n";
    qk_fleet_sched_row *rows = NULL;
    int n = 0;
    cr_assert_eq(qk_fleet_parse_sched(text, strlen(text), &rows, &n), 0);
    cr_assert_eq(n, 5);
    const qk_fleet_sched_row *r = qk_fleet_sched_find(rows, n, "1", 1);
    cr_assert(r && !strcmp(r->state, "COMPLETED") && !strcmp(r->node, "vm") && !*r->reason);
    r = qk_fleet_sched_find(rows, n, "2", -1);
    cr_assert(r && !strcmp(r->state, "PENDING") && !*r->node && strstr(r->reason, "DRAINED"));
    r = qk_fleet_sched_find(rows, n, "7", 3); /* in the pending range */
    cr_assert(r && !strcmp(r->state, "PENDING") && !*r->node && !strcmp(r->exit_code, "0:0"));
    cr_assert_null(qk_fleet_sched_find(rows, n, "7", 6));
    cr_assert_null(qk_fleet_sched_find(rows, n, "1", -1)); /* the array, not a task */
    r = qk_fleet_sched_find(rows, n, "8", -1);
    cr_assert(r && !strcmp(r->state, "CANCELLED") && !strcmp(r->exit_code, "0:15"));
    cr_assert(qk_fleet_state_is_pending("PENDING") && !qk_fleet_state_is_pending("RUNNING"));
    cr_assert(qk_fleet_state_is_active("COMPLETING") && !qk_fleet_state_is_active("COMPLETED"));
    free(rows);
}

Test(fleet_parse, array_task_lists) {
    cr_assert(qk_fleet_tasks_contain("0-3", 3) && !qk_fleet_tasks_contain("0-3", 4));
    cr_assert(qk_fleet_tasks_contain("1,3", 3) && !qk_fleet_tasks_contain("1,3", 2));
    cr_assert(qk_fleet_tasks_contain("0-7:2", 6) && !qk_fleet_tasks_contain("0-7:2", 5));
    cr_assert(qk_fleet_tasks_contain("0-3%1", 2));
    cr_assert(!qk_fleet_tasks_contain("", 0) && !qk_fleet_tasks_contain("x", 0));
}

Test(fleet_parse, job_records) {
    const char *full = "job 12_3\nnode n17\nstart 2026-12-03T06:50:25Z\nexit 2\nend "
                       "2026-12-03T06:50:26Z\n";
    qk_fleet_record r;
    cr_assert_eq(qk_fleet_parse_record(full, strlen(full), &r), 0);
    cr_assert_str_eq(r.job, "12_3");
    cr_assert_str_eq(r.node, "n17");
    cr_assert(r.has_exit && r.exit_code == 2);
    const char *running = "job 4\nnode vm\nstart 2026-12-03T06:50:25Z\n";
    cr_assert_eq(qk_fleet_parse_record(running, strlen(running), &r), 0);
    cr_assert(!r.has_exit);
    const char *junk = "exit 0\nnode x\n";
    cr_assert_eq(qk_fleet_parse_record(junk, strlen(junk), &r), -1);
    const char *bad_exit = "job 1\nexit lots\n";
    cr_assert_eq(qk_fleet_parse_record(bad_exit, strlen(bad_exit), &r), 0);
    cr_assert(!r.has_exit);
}

Test(fleet_parse, log_reasons) {
    char why[256];
    const char *run = "qkbench run: generating models/tiny.gguf\n"
                      "[ 50%] forward/zero-copy rep 1/2\r[100%] forward/zero-copy rep 2/2\n"
                      "qkbench run: t.ini:3: model: cannot read '/x.gguf': No such file\n"
                      "\n";
    qk_fleet_log_reason(run, strlen(run), why, sizeof why);
    cr_assert_str_eq(why, "qkbench run: t.ini:3: model: cannot read '/x.gguf': No such file");
    const char *killed = "qkbench run: note\nslurmstepd: error: *** JOB 9 ON vm CANCELLED AT "
                         "2026-12-03T07:00:00 DUE TO TIME LIMIT ***\n";
    qk_fleet_log_reason(killed, strlen(killed), why, sizeof why);
    cr_assert(strstr(why, "DUE TO TIME LIMIT"), "%s", why);
    const char *asan = "==123==ERROR: AddressSanitizer: heap-use-after-free\n    #0 0x1 in f\n";
    qk_fleet_log_reason(asan, strlen(asan), why, sizeof why);
    cr_assert(strstr(why, "heap-use-after-free"), "%s", why);
    const char *other = "something\nSegmentation fault\n";
    qk_fleet_log_reason(other, strlen(other), why, sizeof why);
    cr_assert_str_eq(why, "Segmentation fault");
    qk_fleet_log_reason("", 0, why, sizeof why);
    cr_assert_str_eq(why, "");
    char small[8];
    qk_fleet_log_reason(run, strlen(run), small, sizeof small);
    cr_assert_eq(strlen(small), 7);
}
