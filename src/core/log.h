/* Levelled logging to stderr. The SIP trace is a separate switch because a trace
 * of every message is wanted while debugging a phone, without debug noise.
 *
 * Every line is rate-limited by its call site (its format string): a site may
 * write a burst of lines, then one more per interval; what it writes beyond that
 * is dropped and counted, and a later line "(N similar lines suppressed: ...)"
 * says how many. A flood that makes one warning fire per packet (issue 17: a
 * failing accept logged 12 MB/s) thus costs a few lines a second, not the disk.
 * Safe to call from any thread. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Lines one call site may write at once, and how often it earns one more. */
enum { LOG_LIMIT_BURST = 20, LOG_LIMIT_INTERVAL_MS = 1000 };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns 0 or EINVAL. */
int log_level_parse(const char *s, enum log_level *lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line of a trace the operator switched on (--sip-trace): written whatever the
 * level and never rate-limited, since a trace with holes misleads. */
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes the summaries of suppressed lines still owed (at exit). */
void log_flush(void);

/* Seams for tests (and nothing else): the descriptor lines go to (stderr by
 * default); the limiter's burst and interval (burst 0: no limit), which also
 * forgets every count; the clock it reads in monotonic ms (NULL: the real one).
 * Set them before other threads log. */
void log_set_fd(int fd);
void log_limit_set(unsigned burst, unsigned interval_ms);
typedef uint64_t (log_clock_h)(void);
void log_set_clock(log_clock_h *now_ms);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
