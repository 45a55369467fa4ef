/* session_map_test — made on first use, capped, ended, reaped when idle,
 * everything freed at destroy (ASan checks the last part). */
#include "session_map.h"
#include "log.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_made, s_freed;
static char s_last_why[16];

static void *s_make(const char *id, void *arg)
{
    (void)arg;
    s_made++;
    return strdup(id);
}

static void s_free(void *state, const char *id, const char *why, void *arg)
{
    (void)arg;
    if (strcmp(state, id) != 0) abort();
    snprintf(s_last_why, sizeof s_last_why, "%s", why);
    s_freed++;
    free(state);
}

int main(void)
{
    log_init("session_map_test", LOG_LEVEL_ERROR, false);
    session_map_t *m = session_map_new(3, 50000, s_make, s_free, NULL);
    CHECK(session_map_get(m, "a") == NULL, "get does not create");
    char *a = session_map_open(m, "a");
    CHECK(a && !strcmp(a, "a") && s_made == 1, "open creates");
    CHECK(session_map_open(m, "a") == a && s_made == 1, "open again finds the same state");
    CHECK(session_map_open(m, "") == NULL && session_map_open(m, NULL) == NULL, "no session without an id");
    session_map_open(m, "b");
    session_map_open(m, "c");
    CHECK(session_map_open(m, "d") == NULL && session_map_size(m) == 3, "the cap refuses a fourth session");
    session_map_end(m, "b", "ended");
    CHECK(s_freed == 1 && !strcmp(s_last_why, "ended") && session_map_size(m) == 2, "end frees");
    session_map_end(m, "nope", "ended");
    CHECK(s_freed == 1, "ending an unknown session is harmless");
    usleep(30000);
    session_map_get(m, "a");              /* activity keeps "a" */
    usleep(30000);
    CHECK(session_map_reap(m) == 1 && !strcmp(s_last_why, "idle") && session_map_get(m, "a"),
          "the idle session is reaped, the active one kept");
    for (int i = 0; i < 5000; i++) {      /* churn */
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        session_map_open(m, id);
        session_map_end(m, id, "ended");
    }
    CHECK(session_map_size(m) == 1, "5000 sessions came and went");
    session_map_destroy(&m);
    CHECK(m == NULL && s_made == s_freed && !strcmp(s_last_why, "shutdown"), "destroy frees the rest (%d made, %d freed)",
          s_made, s_freed);
    return TEST_DONE();
}
