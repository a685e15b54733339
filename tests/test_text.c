/* Text inputs (harness/text.c, through common/input_file.c): token lists where an empty item is an
 * error, never dropped; text and token files read length-counted, so a NUL or a lone CR is refused
 * at its line and column (CRLF endings are line endings); a FIFO, a device or a directory is
 * refused at once, never read or waited on; a file above the size limit is refused before it is
 * read; and a file of 180,000 lines is read in well under a second, sanitizers included (the line
 * array grows geometrically). */
#define _GNU_SOURCE /* strndup */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/text.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/qk-text-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(int_list, .timeout = 10);
TestSuite(text_file, .init = setup, .fini = teardown, .timeout = 10);

static void expect_list(const char *s, int n_want, const int32_t *want) {
    int32_t *v = NULL;
    int n = -1;
    qk_error err = {{0}};
    cr_assert_eq(qk_parse_int_list(s, &v, &n, &err), 0, "'%s': %s", s, err.msg);
    cr_expect_eq(n, n_want, "'%s': %d items", s, n);
    for (int i = 0; i < n && i < n_want; i++) cr_expect_eq(v[i], want[i], "'%s' item %d", s, i);
    free(v);
}

static void expect_list_error(const char *s, const char *substr) {
    int32_t *v = (int32_t *)1;
    int n = -1;
    qk_error err = {{0}};
    cr_expect_neq(qk_parse_int_list(s, &v, &n, &err), 0, "'%s' was accepted (%d items)", s, n);
    cr_expect(strstr(err.msg, substr) != NULL, "'%s': want '%s' in '%s'", s, substr, err.msg);
}

Test(int_list, separators) {
    const int32_t w[3] = {2, 105, 1};
    expect_list("2,105,1", 3, w);
    expect_list("2 105 1", 3, w);
    expect_list(" 2, 105 ,1 \r\n", 3, w);
    expect_list("2\t105\t1", 3, w);
    expect_list("", 0, w);
    expect_list("   ", 0, w);
}

Test(int_list, empty_item_is_an_error) {
    expect_list_error("2,,1", "empty item at character 3");
    expect_list_error("2, ,1", "empty item");
    expect_list_error(",2,1", "empty item at character 1");
    expect_list_error("2,1,", "empty item");
    expect_list_error(",", "empty item");
    expect_list_error("2,x", "at character 3");
}

static const char *write_file(const char *name, const void *data, size_t len) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static void expect_lines_error(const char *path, const char *substr) {
    char **lines = (char **)1;
    int n = -1;
    qk_error err = {{0}};
    cr_expect_neq(qk_read_lines(path, &lines, &n, &err), 0, "%s was read (%d lines)", path, n);
    cr_expect(strstr(err.msg, substr) != NULL, "want '%s' in '%s'", substr, err.msg);
    cr_expect_null(lines);
}

Test(text_file, crlf_endings_are_line_endings) {
    const char text[] = "first\r\nsecond\nthird\r\n";
    char **lines;
    int n;
    qk_error err;
    cr_assert_eq(qk_read_lines(write_file("crlf.txt", text, sizeof text - 1), &lines, &n, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(lines[0], "first");
    cr_expect_str_eq(lines[1], "second");
    cr_expect_str_eq(lines[2], "third");
    qk_free_lines(lines, n);
}

Test(text_file, nul_byte_is_refused_at_its_place) {
    const char text[] = "one\ntw\0o\nthree\n";
    const char *p = write_file("nul.txt", text, sizeof text - 1);
    char want[300];
    snprintf(want, sizeof want, "%s:2:3: NUL byte", p);
    expect_lines_error(p, want);
}

Test(text_file, lone_carriage_return_is_refused) {
    const char text[] = "one\nhello\rworld\n";
    const char *p = write_file("cr.txt", text, sizeof text - 1);
    char want[300];
    snprintf(want, sizeof want, "%s:2:6: carriage return", p);
    expect_lines_error(p, want);
}

Test(text_file, device_fifo_and_directory_are_refused_at_once) {
    expect_lines_error("/dev/zero", "is a character device");
    expect_lines_error(dir, "is a directory");
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    expect_lines_error(fifo, "is a FIFO");
    char *data;
    size_t len;
    qk_error err;
    cr_expect_neq(qk_read_text_input("/dev/zero", &data, &len, &err), 0);
}

Test(text_file, above_the_size_limit_is_refused_before_reading) {
    char path[128];
    snprintf(path, sizeof path, "%s/huge.txt", dir);
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)QK_TEXT_MAX_BYTES + 1), 0); /* sparse: costs no disk */
    close(fd);
    expect_lines_error(path, "larger than the text file may be (64 MiB)");
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

Test(text_file, many_lines_are_read_fast) {
    enum { LINES = 180000 };
    char *text = malloc((size_t)LINES * 8);
    cr_assert(text);
    size_t len = 0;
    for (int i = 0; i < LINES; i++) len += (size_t)sprintf(text + len, "%d\n", i % 100000);
    const char *p = write_file("many.txt", text, len);
    free(text);
    char **lines;
    int n;
    qk_error err;
    const double t0 = now();
    cr_assert_eq(qk_read_lines(p, &lines, &n, &err), 0, "%s", err.msg);
    const double dt = now() - t0;
    cr_expect_eq(n, LINES);
    cr_expect_str_eq(lines[LINES - 1], "79999");
    qk_free_lines(lines, n);
    /* one reallocation per line made this quadratic: 89 s under ASan */
    cr_expect_lt(dt, 3.0, "%d lines took %.2f s", LINES, dt);
}

Test(text_file, split_lines_from_memory) {
    char **lines;
    int n;
    qk_error err;
    cr_assert_eq(qk_split_lines("a\n\nb", 4, "mem", &lines, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 3);
    cr_expect_str_eq(lines[1], "");
    cr_expect_str_eq(lines[2], "b");
    qk_free_lines(lines, n);
    cr_assert_eq(qk_split_lines("", 0, "mem", &lines, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 0);
    qk_free_lines(lines, n);
    cr_expect_neq(qk_split_lines("a\0b", 3, "mem", &lines, &n, &err), 0);
    cr_expect(strstr(err.msg, "mem:1:2: NUL byte"), "%s", err.msg);
}
