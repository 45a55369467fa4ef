/* test — the few macros the unit tests share. Each CHECK prints what it
 * verified; the binary exits non-zero when any failed. */
#ifndef VOXMESH_TEST_H
#define VOXMESH_TEST_H
#include <stdio.h>

static int test_failures_ = 0, test_checks_ = 0;

#define CHECK(cond, ...) do { \
        test_checks_++; \
        if (cond) { printf("ok   "); printf(__VA_ARGS__); printf("\n"); } \
        else { test_failures_++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
        fflush(stdout); \
    } while (0)

#define TEST_DONE() (printf("%d checks, %d failed\n", test_checks_, test_failures_), test_failures_ ? 1 : 0)

#endif
