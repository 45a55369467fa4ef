/* log — see log.h. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <systemd/sd-journal.h>

static char s_ident[64] = "voxmesh";
static int s_level = LOG_LEVEL_INFO;
static bool s_journal = false;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *ident, int level, bool journal)
{
    if (ident)
        snprintf(s_ident, sizeof s_ident, "%s", ident);
    s_level = level;
    s_journal = journal;
}

int log_level_parse(const char *name)
{
    if (!name) return -1;
    if (!strcmp(name, "error")) return LOG_LEVEL_ERROR;
    if (!strcmp(name, "warn") || !strcmp(name, "warning")) return LOG_LEVEL_WARN;
    if (!strcmp(name, "info")) return LOG_LEVEL_INFO;
    if (!strcmp(name, "debug")) return LOG_LEVEL_DEBUG;
    return -1;
}

bool log_enabled(int level)
{
    return level <= s_level;
}

static const char *s_level_name(int level)
{
    switch (level) {
    case LOG_LEVEL_ERROR: return "error";
    case LOG_LEVEL_WARN: return "warn";
    case LOG_LEVEL_INFO: return "info";
    default: return "debug";
    }
}

static void s_vlog(int level, const char *session, const char *fmt, va_list ap)
{
    char line[2048];
    int n = session ? snprintf(line, sizeof line, "session %s: ", session) : 0;
    if (n < 0 || (size_t)n >= sizeof line) n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (s_journal) {
        if (session)
            sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s", s_ident,
                            "VOXMESH_SESSION=%s", session, NULL);
        else
            sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s", s_ident, NULL);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&s_lock);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, s_ident, s_level_name(level), line);
    pthread_mutex_unlock(&s_lock);
}

void log_msg(int level, const char *fmt, ...)
{
    if (level > s_level)
        return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, NULL, fmt, ap);
    va_end(ap);
    errno = saved;
}

void log_session(int level, const char *session, const char *fmt, ...)
{
    if (level > s_level)
        return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, session && *session ? session : NULL, fmt, ap);
    va_end(ap);
    errno = saved;
}

int log_error_errno(int err, const char *fmt, ...)
{
    if (err < 0) err = -err;
    if (LOG_LEVEL_ERROR <= s_level) {
        errno = err;   /* so that %m in fmt prints it */
        va_list ap;
        va_start(ap, fmt);
        s_vlog(LOG_LEVEL_ERROR, NULL, fmt, ap);
        va_end(ap);
    }
    return -err;
}

bool log_ratelimit_ok(log_ratelimit_t *rl, uint64_t *suppressed_out)
{
    int64_t now = time_mono_us();
    if (now - rl->window_start_us >= (int64_t)rl->interval_ms * 1000) {
        rl->window_start_us = now;
        rl->in_window = 0;
    }
    if (rl->in_window < rl->burst) {
        rl->in_window++;
        if (suppressed_out) *suppressed_out = rl->suppressed;
        rl->suppressed = 0;
        return true;
    }
    rl->suppressed++;
    return false;
}

int64_t time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
