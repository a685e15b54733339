/* `qkbench compare A.json B.json`: side-by-side medians of two result files and their ratios.
 *
 * Benchmarks are matched by name (per-repetition records; skipped configurations are ignored). For
 * each match it prints the median time of A and of B with their 95% bootstrap intervals, and the
 * ratio B/A with its interval: paired (median of per-repetition ratios) when both sides have the
 * same number of repetitions, else the ratio of the medians with each side resampled on its own.
 * Then the geometric mean of the ratios. Output: stdout; errors: stderr. */
#ifndef QK_REPORT_COMPARE_H
#define QK_REPORT_COMPARE_H

/* argv[0] is the command name ("compare"); options: --filter REGEX (POSIX extended, on names),
 * --help. Returns the exit code: 0, or 2 on a usage error, an unreadable file, or no benchmark in
 * common. */
int qk_cmd_compare(int argc, char **argv);

#endif
