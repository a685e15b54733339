#include "tests/support/test_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness/peers/llama.h"

void qk_test_remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char sub[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            qk_test_remove_tree(sub);
        }
    closedir(d);
    rmdir(path);
}

int qk_test_skip_unless_peer_installed(void) {
    if (!qk_peer_llama_built()) {
        cr_skip_test("peer llama.cpp not built (headers missing: run scripts/install-peer.sh, then "
                     "rebuild)");
        return 1;
    }
    if (!qk_peer_llama_available(NULL)) {
        char path[4096];
        qk_peer_llama_library_path(NULL, path, sizeof path);
        cr_skip_test("peer llama.cpp not installed (%s missing: run scripts/install-peer.sh)",
                     path);
        return 1;
    }
    return 0;
}
