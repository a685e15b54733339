/* libFuzzer target: the text inputs of `embed`, `tokenize` and the references (harness/text.c).
 *
 * The bytes go to qk_split_lines as a text file's contents (length-counted: NUL bytes and CRs
 * included). When they split, every line is checked (terminated, no NUL, no CR: a refusal is the
 * only other outcome) and parsed with qk_parse_int_list, as a token file's lines are; accepted
 * lists are checked against what the line holds (no empty item was dropped: as many items as
 * digit runs). Every refusal must leave a non-empty, terminated message. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/text.h"

static volatile uint64_t sink;

static void check(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_text: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

static void check_message(const qk_error *err) {
    size_t n = strnlen(err->msg, sizeof err->msg);
    check(n > 0 && n < sizeof err->msg, "error message empty or not terminated");
}

/* Runs of characters that could be one integer ("-12", "+3"): an accepted list has that many
 * (strtol takes any white space before a number, \v and \f too, so they separate as well). */
static int is_sep(char c) {
    return c == ',' || isspace((unsigned char)c);
}

static int number_runs(const char *s) {
    int n = 0;
    for (const char *p = s; *p;) {
        if (is_sep(*p)) {
            p++;
            continue;
        }
        n++;
        while (*p && !is_sep(*p)) p++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char **lines = NULL;
    int n = -1;
    qk_error err;
    if (qk_split_lines((const char *)data, size, "fuzz.txt", &lines, &n, &err)) {
        check_message(&err);
        check(lines == NULL, "no lines on failure");
        return 0;
    }
    check(n >= 0 && (size_t)n <= size, "line count");
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const size_t l = strlen(lines[i]);
        total += l;
        check(!memchr(lines[i], '\r', l), "a CR survived in a line");
        int32_t *ids = NULL;
        int k = -1;
        if (qk_parse_int_list(lines[i], &ids, &k, &err)) {
            check_message(&err);
        } else {
            check(k == number_runs(lines[i]), "an item was dropped or invented");
            for (int j = 0; j < k; j++) sink += (uint64_t)(uint32_t)ids[j];
            free(ids);
        }
    }
    check(total <= size, "lines longer than the text");
    qk_free_lines(lines, n);
    return 0;
}
