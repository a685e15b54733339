/* qkbench: the command line. (Being built up: see the open issues.) */
#include <stdio.h>

int main(void) {
    fprintf(stderr, "qkbench: no commands yet\n");
    return 2;
}
