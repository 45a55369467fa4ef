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

/* A part of the test that could not run here (no raw socket, no namespace).
 * TEST_DONE() then exits 77, which scripts/run-tests.sh reports as SKIP in
 * its summary, and counts as a failure in CI or as root, where every
 * capability is there and nothing may skip. */
static int test_skipped_ = 0;
#define SKIP(...) do { \
        test_skipped_++; \
        printf("SKIP "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); \
    } while (0)

#define TEST_DONE() (printf("%d checks, %d failed, %d skipped\n", test_checks_, test_failures_, test_skipped_), \
                     test_failures_ ? 1 : test_skipped_ ? 77 : 0)

#endif
