/* log — one logging call for every service: stderr or the systemd journal
 * (native protocol, with PRIORITY, SYSLOG_IDENTIFIER and, for lines about a
 * session, VOXMESH_SESSION fields).
 *
 * Errors are logged once, where they are handled; functions that fail return a
 * negative errno (or -1) and leave logging to the caller that decides. */
#ifndef VOXMESH_LOG_H
#define VOXMESH_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum { LOG_LEVEL_ERROR = 3, LOG_LEVEL_WARN = 4, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

/* Sets the identity printed in every line, the level and the target. With
 * journal false, lines go to stderr as "ident: LEVEL: text". */
void log_init(const char *ident, int level, bool journal);

/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_level_parse(const char *name);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs and returns -|err|, systemd style: return log_error_errno(-r, "bind: %m"). */
int log_error_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line about one session: "session ID: text" on stderr; in the journal the
 * same MESSAGE plus a VOXMESH_SESSION=ID field, so that
 * `journalctl VOXMESH_SESSION=ID` shows one call across every service.
 * A NULL or empty id logs like log_msg. */
void log_session(int level, const char *session, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_session_error(id, ...) log_session(LOG_LEVEL_ERROR, id, __VA_ARGS__)
#define log_session_warn(id, ...)  log_session(LOG_LEVEL_WARN, id, __VA_ARGS__)
#define log_session_info(id, ...)  log_session(LOG_LEVEL_INFO, id, __VA_ARGS__)

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

bool log_enabled(int level);

/* Rate limit for log lines that a peer can trigger (bad frames, bad packets):
 * at most `burst` lines per `interval_ms`; the rest are counted, and the count
 * is reported on the next line allowed through. */
typedef struct {
    uint32_t interval_ms;
    uint32_t burst;
    int64_t window_start_us;
    uint32_t in_window;
    uint64_t suppressed;
} log_ratelimit_t;

#define LOG_RATELIMIT_INIT(interval_ms, burst) { (interval_ms), (burst), 0, 0, 0 }

/* Returns true when a line may be logged now; *suppressed_out (may be NULL)
 * receives the number of lines dropped since the last allowed one. */
bool log_ratelimit_ok(log_ratelimit_t *rl, uint64_t *suppressed_out);

/* Wall-clock and monotonic time in microseconds. Envelope timestamps use the
 * wall clock so that hosts with synchronised clocks can compare them. */
int64_t time_now_us(void);
int64_t time_mono_us(void);

#endif
