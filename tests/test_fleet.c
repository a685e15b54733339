/* qkbench fleet on a real one-node SLURM cluster (Debian 12's slurmctld, slurmd, slurm-client and
 * munge), started in a temporary folder of its own: its own munged (key, socket, pid, log, seed),
 * a slurm.conf with its own ports and its state, spool, log and pid paths there (SLURM_CONF for
 * the commands, -f for the daemons); nothing under /etc/slurm or of a munge already running is
 * touched. Two partitions and a feature give the one node several names.
 *
 * The fleet: two targets that are the one node (partition=p1; partition=p2,constraint=F) and one
 * that must fail (nodelist=NODE with --model pointing at a file that does not exist), on the tiny
 * synthetic model, one kernel, one repetition. Then `status` says two done and one failed with
 * its reason, the merged report has both columns and names the failed target as not measured,
 * and once the model exists `resubmit` reruns that target only. Every verdict comes from the
 * files the jobs wrote (a job SLURM calls COMPLETED may have written nothing), never from exit
 * codes or job states alone.
 *
 * The daemons are stopped by their pid files at the end, also when the test fails: the suite's
 * .fini, an atexit handler, and a guard process that outlives a killed test (it waits on a pipe
 * whose writing end only this process holds). Without the packages (or root) the test skips and
 * says why; scripts/test.sh installs them when apt can. */
#define _GNU_SOURCE /* mkdtemp, pipe2 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QKBENCH    QK_QKBENCH_EXE
#define FEATURE    "qkfleet"
#define DEADLINE_S 25.0 /* for the fleet to finish, each of the two times (6 s here) */

static char dir[128]; /* the cluster's folder; "" before it exists */
static int passed;    /* the test ran to its end */
static const char *const daemons[] = {"slurmd", "slurmctld", "munged"}; /* stop order */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void path_in(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
}

/* The pid in DIR/NAME.pid when that process is alive and is NAME (pid files outlive daemons). */
static pid_t daemon_pid(const char *name) {
    char path[256], buf[64];
    snprintf(path, sizeof path, "%s/%s.pid", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long pid = 0;
    const int ok = fscanf(f, "%ld", &pid) == 1;
    fclose(f);
    if (!ok || pid <= 1) return 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f) return 0;
    char comm[64] = "", state = 0;
    const int n = fscanf(f, "%*d (%63[^)]) %c", comm, &state);
    fclose(f);
    snprintf(buf, sizeof buf, "%s", name);
    return n == 2 && state != 'Z' && !strcmp(comm, buf) ? (pid_t)pid : 0;
}

/* SIGTERM, then SIGKILL after 4 s; slurmd and slurmctld together, then munged (they need it to
 * say goodbye). Safe to call twice, and from the guard process. */
static void stop_daemons(void) {
    if (!*dir) return;
    for (int pass = 0; pass < 2; pass++) {
        pid_t pids[2] = {0, 0};
        const int first = pass == 0 ? 0 : 2, n = pass == 0 ? 2 : 1;
        for (int i = 0; i < n; i++)
            if ((pids[i] = daemon_pid(daemons[first + i]))) kill(pids[i], SIGTERM);
        const double end = now_s() + 4;
        for (int i = 0; i < n; i++) {
            while (pids[i] && daemon_pid(daemons[first + i]) && now_s() < end) usleep(20000);
            if (pids[i] && daemon_pid(daemons[first + i])) kill(pids[i], SIGKILL);
        }
    }
}

/* Runs argv with stdout and stderr into out_path (or /dev/null), nothing else of ours open in it;
 * returns its exit status (-1 when it did not exit). */
static int run(const char *out_path, const char *const *argv) {
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0) _exit(127);
        dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        closefrom(3); /* daemons must not keep Criterion's pipes open */
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (s) s[fread(s, 1, (size_t)(n > 0 ? n : 0), f)] = 0;
    fclose(f);
    return s;
}

static void print_file(const char *name) {
    char path[256];
    path_in(path, sizeof path, name);
    char *s = slurp(path);
    if (!s) return;
    const size_t l = strlen(s);
    fprintf(stderr, "---- %s (last 4 KiB) ----\n%s\n", path, l > 4096 ? s + l - 4096 : s);
    free(s);
}

static void teardown(void) {
    stop_daemons();
    if (!*dir) return;
    if (!passed) {
        /* what the daemons and the jobs said, for the failure's reader */
        static const char *const logs[] = {"log/slurmctld.log", "log/slurmd.log", "munged.log",
                                           "status.txt",        "submit.txt",     "resubmit.txt"};
        for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) print_file(logs[i]);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "tail -n 20 %s/fleet/logs/*.out >&2", dir);
        if (system(cmd)) {
        }
        fprintf(stderr, "test_fleet: cluster folder kept: %s\n", dir);
    } else {
        const char *rm[] = {"rm", "-rf", dir, NULL};
        run(NULL, rm);
    }
}

/* a minute: the fleet takes about 10 s here; a hang fails, and the guard stops the daemons */
TestSuite(fleet, .fini = teardown, .timeout = 60);

/* A guard that stops the daemons when this process ends however it ends (even SIGKILL): it blocks
 * reading a pipe whose only writing end is ours and close-on-exec. */
static void start_guard(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    const pid_t pid = fork();
    if (pid == 0) {
        const int keep = p[0];
        dup2(keep, 3);
        const int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        closefrom(4);
        char c;
        while (read(3, &c, 1) != 0 && errno == EINTR) {
        }
        stop_daemons();
        _exit(0);
    }
    close(p[0]); /* p[1] stays open, unused, until this process is gone */
}

static const char *find_tool(const char *name) {
    static char buf[4][64];
    static int k;
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char *b = buf[k % 4];
        snprintf(b, sizeof buf[0], "%s/%s", dirs[i], name);
        if (access(b, X_OK) == 0) return buf[k++ % 4];
    }
    return NULL;
}

static int free_port(int *port, int *fd) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    if (*fd < 0 || bind(*fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(*fd, (struct sockaddr *)&a, &l) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return 0;
}

static void write_file(const char *name, const char *fmt, ...) {
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    cr_assert_eq(fclose(f), 0);
}

static char node[64];

/* Starts munged, slurmctld and slurmd in dir; 0 when the node is idle. */
static void start_cluster(void) {
    const char *tools[] = {"munged", "mungekey", "slurmctld", "slurmd",
                           "sbatch", "squeue",   "sinfo"};
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++)
        if (!find_tool(tools[i]))
            cr_skip_test("SLURM packages not installed (%s missing): apt-get install slurmctld "
                         "slurmd slurm-client munge (scripts/test.sh does when apt can)",
                         tools[i]);
    if (geteuid() != 0) cr_skip_test("the test cluster's slurmd must run as root");
    snprintf(dir, sizeof dir, "/tmp/qkbench-fleet-XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    chmod(dir, 0755); /* munged insists on a traversable folder */
    atexit(stop_daemons);
    start_guard();
    char key[256], sock[256], pid[256], log[256], seed[256], conf[256], sub[256];
    path_in(key, sizeof key, "munge.key");
    path_in(sock, sizeof sock, "munge.sock");
    path_in(pid, sizeof pid, "munged.pid");
    path_in(log, sizeof log, "munged.log");
    path_in(seed, sizeof seed, "munged.seed");
    path_in(conf, sizeof conf, "slurm.conf");
    const char *mk[] = {find_tool("mungekey"), "-c", "-k", key, NULL};
    cr_assert_eq(run(NULL, mk), 0, "mungekey failed");
    chmod(key, 0600);
    char a1[300], a2[300], a3[300], a4[300], a5[300];
    snprintf(a1, sizeof a1, "--key-file=%s", key);
    snprintf(a2, sizeof a2, "--socket=%s", sock);
    snprintf(a3, sizeof a3, "--pid-file=%s", pid);
    snprintf(a4, sizeof a4, "--log-file=%s", log);
    snprintf(a5, sizeof a5, "--seed-file=%s", seed);
    const char *md[] = {find_tool("munged"), a1, a2, a3, a4, a5, NULL};
    cr_assert_eq(run(NULL, md), 0, "munged failed to start");

    gethostname(node, sizeof node - 1);
    node[strcspn(node, ".")] = 0; /* hostname -s: slurmd knows itself by it */
    long mem_kb = 0;
    FILE *mi = fopen("/proc/meminfo", "r");
    if (mi) {
        if (fscanf(mi, "MemTotal: %ld kB", &mem_kb) != 1) mem_kb = 0;
        fclose(mi);
    }
    const long mem_mb = mem_kb > 400 * 1024 ? mem_kb / 1024 / 2 : 200;
    int p1, p2, f1, f2;
    cr_assert_eq(free_port(&p1, &f1), 0);
    cr_assert_eq(free_port(&p2, &f2), 0);
    close(f1);
    close(f2);
    for (const char *d = "state\0spool\0log\0"; *d; d += strlen(d) + 1) {
        path_in(sub, sizeof sub, d);
        cr_assert_eq(mkdir(sub, 0755), 0, "%s: %s", sub, strerror(errno));
    }
    write_file("slurm.conf",
               "ClusterName=qkfleet\n"
               "SlurmctldHost=%s(127.0.0.1)\n"
               "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=%s\n"
               "SlurmctldPort=%d\nSlurmdPort=%d\n"
               "SlurmUser=root\nSlurmdUser=root\n"
               "StateSaveLocation=%s/state\nSlurmdSpoolDir=%s/spool\n"
               "SlurmctldPidFile=%s/slurmctld.pid\nSlurmdPidFile=%s/slurmd.pid\n"
               "SlurmctldLogFile=%s/log/slurmctld.log\nSlurmdLogFile=%s/log/slurmd.log\n"
               "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/affinity\n"
               "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
               "SchedulerParameters=batch_sched_delay=0\nMailProg=/bin/true\n"
               "ReturnToService=2\n"
               "NodeName=%s NodeAddr=127.0.0.1 CPUs=%ld RealMemory=%ld Feature=" FEATURE
               " State=UNKNOWN\n"
               "PartitionName=p1 Nodes=%s Default=YES MaxTime=INFINITE State=UP\n"
               "PartitionName=p2 Nodes=%s MaxTime=INFINITE State=UP\n",
               node, sock, p1, p2, dir, dir, dir, dir, dir, dir, node,
               sysconf(_SC_NPROCESSORS_ONLN), mem_mb, node, node);
    setenv("SLURM_CONF", conf, 1);
    /* the jobs inherit this environment (sbatch --export=ALL): the placeholder vocabulary makes
     * the tiny model in milliseconds; with Gemma 3's (when installed) it takes seconds under ASan
     */
    setenv("QK_TOKENIZER_JSON", "/nonexistent/tokenizer.json", 1);
    const char *ctld[] = {find_tool("slurmctld"), "-f", conf, NULL};
    cr_assert_eq(run(NULL, ctld), 0, "slurmctld failed to start");
    const char *sd[] = {find_tool("slurmd"), "-f", conf, NULL};
    cr_assert_eq(run(NULL, sd), 0, "slurmd failed to start");
    char out[256];
    path_in(out, sizeof out, "sinfo.txt");
    const char *si[] = {"sinfo", "-h", "-n", node, "-o", "%t", NULL};
    const double end = now_s() + 20;
    for (;;) {
        run(out, si);
        char *s = slurp(out);
        const int idle = s && !strncmp(s, "idle", 4);
        free(s);
        if (idle) break;
        cr_assert(now_s() < end, "the node did not become idle within 20 s");
        usleep(100000);
    }
}

/* `qkbench fleet status DIR` until it stops saying "still running" (exit 3); its exit status. */
static int wait_fleet(const char *fleet, const char *out, double deadline) {
    const char *st[] = {QKBENCH, "fleet", "status", fleet, NULL};
    for (;;) {
        const int rc = run(out, st);
        if (rc != 3) return rc;
        cr_assert(now_s() < deadline, "the fleet did not finish in time");
        usleep(200000);
    }
}

/* The status line of target name ("name  node  job  state  detail"): a copy, or NULL. */
static char *status_line(const char *text, const char *name) {
    const size_t l = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, l) && p[l] == ' ') return strndup(p, strcspn(p, "\n"));
    return NULL;
}

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    cr_assert(j, "%s: %s", path, je.text);
    return j;
}

/* A target's results as its job wrote them: complete, from that job, on this node. */
static void check_results(const char *fleet, const char *name, const char *job) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/fleet-test.json", fleet, name);
    json_t *doc = load_json(path);
    cr_assert(json_is_true(json_object_get(doc, "complete")), "%s: not complete", path);
    cr_assert_eq(json_array_size(json_object_get(doc, "benchmarks")) > 0, 1, "%s: empty", path);
    json_t *s = json_object_get(json_object_get(doc, "context"), "slurm");
    cr_assert(json_is_object(s), "%s: no context.slurm", path);
    cr_assert_str_eq(json_string_value(json_object_get(s, "fleet_target")), name);
    cr_assert_str_eq(json_string_value(json_object_get(s, "job_id")), job);
    cr_assert_str_eq(json_string_value(json_object_get(s, "node")), node);
    cr_assert_str_eq(json_string_value(json_object_get(s, "mask_check")), "ok");
    cr_assert(json_string_value(json_object_get(s, "cpu_mask")));
    json_decref(doc);
    snprintf(path, sizeof path, "%s/%s/job.txt", fleet, name);
    char *rec = slurp(path);
    cr_assert(rec, "%s missing", path);
    char want[64];
    snprintf(want, sizeof want, "job %s\n", job);
    cr_assert(strstr(rec, want) && strstr(rec, "\nexit 0\n"), "%s:\n%s", path, rec);
    free(rec);
}

/* The job id the status line gives (third column). */
static void job_of(const char *line, char *buf, size_t size) {
    char name[64], nd[64];
    cr_assert_eq(sscanf(line, "%63s %63s %63s", name, nd, buf), 3, "%s", line);
    (void)size;
}

Test(fleet, two_targets_and_a_failing_one_on_a_real_cluster) {
    start_cluster();
    char fleet[256], exp[256], missing[256], out[256], text_path[256];
    path_in(fleet, sizeof fleet, "fleet");
    path_in(exp, sizeof exp, "fleet-test.ini");
    path_in(missing, sizeof missing, "missing/tiny.gguf");
    write_file("fleet-test.ini", "[experiment]\nname = fleet-test\nmodel = synthetic:tiny\n"
                                 "[sweep]\nkernels = zero-copy\nisas = scalar\nthreads = 1\n"
                                 "seq_len = 5\n[measure]\nrepetitions = 1\nwarmups = 0\n"
                                 "quick_repetitions = 1\ncounters = none\naccuracy = false\n");
    char t_alpha[] = "alpha=partition=p1", t_beta[] = "beta=partition=p2,constraint=" FEATURE;
    char t_bad[128], m_bad[300];
    snprintf(t_bad, sizeof t_bad, "bad=nodelist=%s", node);
    snprintf(m_bad, sizeof m_bad, "bad=%s", missing);

    /* submit: three jobs and the report job */
    path_in(out, sizeof out, "submit.txt");
    const char *sub[] = {QKBENCH,   "fleet",    "submit", exp,        "--target",
                         t_alpha,   "--target", t_beta,   "--target", t_bad,
                         "--model", m_bad,      "-o",     fleet,      NULL};
    const double t0 = now_s();
    cr_assert_eq(run(out, sub), 0, "fleet submit failed: see %s", out);
    path_in(text_path, sizeof text_path, "status.txt");
    const int rc = wait_fleet(fleet, text_path, t0 + DEADLINE_S);
    const double t_report = now_s() - t0;
    char *status = slurp(text_path);
    cr_assert(status);
    fprintf(stderr, "test_fleet: submit -> merged report: %.1f s\n%s", t_report, status);
    cr_assert_eq(rc, 1, "status exit %d (expected 1: one target failed):\n%s", rc, status);
    char *la = status_line(status, "alpha"), *lb = status_line(status, "beta");
    char *lx = status_line(status, "bad"), *lr = status_line(status, "report");
    cr_assert(la && lb && lx && lr, "a line missing:\n%s", status);
    cr_assert(strstr(la, " done ") && strstr(lb, " done "), "%s\n%s", la, lb);
    cr_assert(strstr(lx, " failed ") && strstr(lx, "exit 2") && strstr(lx, missing) &&
                  strstr(lx, "not readable on node"),
              "%s", lx);
    cr_assert(strstr(lr, " done ") && strstr(lr, "/report/REPORT.md"), "%s", lr);
    cr_assert(strstr(status, "2 done, 1 failed"), "%s", status);
    char job_a[64], job_b[64], job_x[64];
    job_of(la, job_a, sizeof job_a);
    job_of(lb, job_b, sizeof job_b);
    job_of(lx, job_x, sizeof job_x);

    /* what the jobs wrote */
    check_results(fleet, "alpha", job_a);
    check_results(fleet, "beta", job_b);
    char path[512];
    snprintf(path, sizeof path, "%s/bad/fleet-test.json", fleet);
    cr_assert_neq(access(path, F_OK), 0, "the failed target wrote results");
    snprintf(path, sizeof path, "%s/logs/bad-%s.out", fleet, job_x);
    char *log = slurp(path);
    cr_assert(log && strstr(log, "is not readable on node"), "%s: %s", path, log ? log : "none");
    free(log);
    snprintf(path, sizeof path, "%s/jobs/alpha.sh", fleet);
    char *script = slurp(path);
    cr_assert(script && strstr(script, "#SBATCH --exclusive\n") &&
                  strstr(script, "#SBATCH --partition=p1\n"),
              "%s", path);
    free(script);

    /* the merged report: both columns, the failed target named */
    snprintf(path, sizeof path, "%s/report/REPORT.md", fleet);
    char *md = slurp(path);
    cr_assert(md, "%s missing", path);
    cr_assert(strstr(md, "fleet target alpha") && strstr(md, "fleet target beta"), "%s", path);
    cr_assert(strstr(md, "| fleet target | - | alpha | beta |"), "no column per target: %s", path);
    cr_assert(strstr(md, "**not measured**: bad (") && strstr(md, "not readable on node"), "%s",
              path);
    cr_assert(strstr(md, "## Fleet") && strstr(md, "| SLURM job | "), "%s", path);
    cr_assert_null(strstr(md, "fleet target bad"), "%s", path);
    free(md);

    /* the model appears; resubmit reruns the failed target only */
    char mdir[256];
    path_in(mdir, sizeof mdir, "missing");
    cr_assert_eq(mkdir(mdir, 0755), 0);
    const char *gen[] = {QKBENCH, "gen-model", "--preset", "tiny", "-o", missing, NULL};
    cr_assert_eq(run(NULL, gen), 0);
    snprintf(path, sizeof path, "%s/alpha/fleet-test.json", fleet);
    struct stat before;
    cr_assert_eq(stat(path, &before), 0);
    path_in(out, sizeof out, "resubmit.txt");
    const char *re[] = {QKBENCH, "fleet", "resubmit", fleet, NULL};
    const double t1 = now_s();
    cr_assert_eq(run(out, re), 0, "fleet resubmit failed");
    char *said = slurp(out);
    cr_assert(said && strstr(said, "resubmitted bad ") && !strstr(said, "resubmitted alpha") &&
                  !strstr(said, "resubmitted beta") && strstr(said, "report: job "),
              "%s", said ? said : "");
    free(said);
    const int rc2 = wait_fleet(fleet, text_path, t1 + DEADLINE_S);
    free(status);
    status = slurp(text_path);
    fprintf(stderr, "test_fleet: after resubmit (%.1f s):\n%s", now_s() - t1, status);
    cr_assert_eq(rc2, 0, "status exit %d after resubmit:\n%s", rc2, status);
    free(la);
    free(lb);
    free(lx);
    la = status_line(status, "alpha");
    lb = status_line(status, "beta");
    lx = status_line(status, "bad");
    cr_assert(la && lb && lx && strstr(lx, " done "), "%s", status);
    char job_a2[64], job_b2[64], job_x2[64];
    job_of(la, job_a2, sizeof job_a2);
    job_of(lb, job_b2, sizeof job_b2);
    job_of(lx, job_x2, sizeof job_x2);
    cr_assert_str_eq(job_a2, job_a, "alpha was rerun");
    cr_assert_str_eq(job_b2, job_b, "beta was rerun");
    cr_assert_str_neq(job_x2, job_x, "bad was not rerun");
    check_results(fleet, "bad", job_x2);
    struct stat after;
    cr_assert_eq(stat(path, &after), 0);
    cr_assert(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                  after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
              "alpha's results were rewritten");
    snprintf(path, sizeof path, "%s/fleet.json", fleet);
    json_t *state = load_json(path);
    json_t *targets = json_object_get(state, "targets");
    cr_assert_eq(json_array_size(targets), 3);
    const size_t want_subs[] = {1, 1, 2};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(json_array_size(json_object_get(json_array_get(targets, i), "submissions")),
                     want_subs[i], "target %zu", i);
    json_decref(state);
    snprintf(path, sizeof path, "%s/report/REPORT.md", fleet);
    md = slurp(path);
    cr_assert(md && strstr(md, "fleet target bad") && !strstr(md, "**not measured**"), "%s", path);
    free(md);
    free(la);
    free(lb);
    free(lx);
    free(lr);
    free(status);
    passed = 1;
}
