/* Helpers shared by several Criterion tests (linked into every test executable). */
#ifndef QK_TESTS_SUPPORT_TEST_UTIL_H
#define QK_TESTS_SUPPORT_TEST_UTIL_H

/* Removes path: a file, or a folder with everything under it. Missing is fine. */
void qk_test_remove_tree(const char *path);

/* 1 (and the test is marked skipped, saying how to install it) when the llama.cpp peer is not
 * built or its library is missing; else 0. */
int qk_test_skip_unless_peer_installed(void);

#endif
