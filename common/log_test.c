/* log_test — lines about a session: "session ID: text" on stderr, and in the
 * journal the same MESSAGE with a VOXMESH_SESSION=ID field (and none on
 * other lines). The journal side talks to a socket of ours at journald's
 * path, /run/systemd/journal/socket, inside a private mount namespace (a
 * tmpfs over /run/systemd), so it reads exactly what sd_journal_send sends
 * and needs no journald. */
#include "log.h"
#include "test.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* One datagram of the journal's native protocol ("KEY=value\n" per field). */
static int s_recv(int fd, char *buf, size_t size)
{
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return (int)n;
}

static bool s_has_field(const char *dgram, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = dgram; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, field, n) && (p[n] == '\n' || p[n] == 0)) return true;
    return false;
}

static void s_stderr(void)
{
    char path[] = "/tmp/log_test.XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    dup2(fd, 2);
    log_init("log_test", LOG_LEVEL_INFO, false);
    log_session_warn("c0ffee", "turn %d: the provider failed", 3);
    log_session_info(NULL, "no session");
    log_session_warn("x", "below the level? no: warn passes");
    log_init("log_test", LOG_LEVEL_WARN, false);
    log_session_info("c0ffee", "filtered out");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[2048] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    CHECK(strstr(text, "log_test: warn: session c0ffee: turn 3: the provider failed\n") != NULL,
          "stderr: the session line reads \"session c0ffee: turn 3: ...\"");
    CHECK(strstr(text, "log_test: info: no session\n") != NULL, "stderr: a NULL session logs the plain text");
    CHECK(!strstr(text, "filtered out"), "stderr: the level filters session lines too");
}

/* In the child: a private /run/systemd with our socket at journald's place. */
static int s_journal_child(void)
{
    if (unshare(CLONE_NEWNS) < 0) return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return 77;
    mkdir("/run/systemd", 0755);
    if (mount("tmpfs", "/run/systemd", "tmpfs", 0, "size=1m,mode=755") < 0) return 77;
    mkdir("/run/systemd/journal", 0755);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return 3;
    log_init("log_test", LOG_LEVEL_INFO, true);
    log_session_warn("c0ffee", "turn %d: the provider failed", 3);
    log_warn("not about a session");
    char a[4096], b[4096];
    int fails = 0;
    if (s_recv(fd, a, sizeof a) <= 0 || s_recv(fd, b, sizeof b) <= 0) return 4;
    fails += !s_has_field(a, "MESSAGE=session c0ffee: turn 3: the provider failed");
    fails += !s_has_field(a, "VOXMESH_SESSION=c0ffee");
    fails += !s_has_field(a, "PRIORITY=4");
    fails += !s_has_field(a, "SYSLOG_IDENTIFIER=log_test");
    fails += !s_has_field(b, "MESSAGE=not about a session");
    fails += strstr(b, "VOXMESH_SESSION=") != NULL;
    if (fails) fprintf(stderr, "journal datagrams:\n%s\n---\n%s\n", a, b);
    return fails ? 5 : 0;
}

static void s_journal(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(s_journal_child());
    int status = 0;
    waitpid(pid, &status, 0);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
    if (rc == 77) {
        SKIP("journal: no private mount namespace here (unshare: needs root or user namespaces)");
        return;
    }
    CHECK(rc == 0, "journal: the session line carries MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and "
          "VOXMESH_SESSION=c0ffee; the other line no VOXMESH_SESSION (child rc %d)", rc);
}

int main(void)
{
    s_stderr();
    s_journal();
    return TEST_DONE();
}
