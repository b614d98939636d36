/* Levelled, rate-limited logging (see log.h). One write(2) per line so that lines
 * from several threads never interleave.
 *
 * The limiter is a token bucket per call site, keyed by the format string's
 * address: every call site passes its own literal, so the key costs nothing to
 * compute and a suppressed line is never formatted. The buckets sit in a small
 * open-addressed table behind one mutex, held for a few instructions per line
 * (a line costs a system call anyway). The table and the level are process-wide
 * because stderr is. */
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Far more than pbxd has call sites; a site that finds the table full is not
 * limited rather than lost. */
enum { SITES = 512, LINE_MAX_LEN = 8192, SUMMARY_FMT_MAX = 96 };

struct site {
	const char *fmt;     /* NULL: free slot */
	uint64_t last;       /* ms up to which tokens have been added */
	unsigned tokens;
	unsigned suppressed; /* lines dropped since the last summary */
	enum log_level lvl;  /* the most severe of them, for the summary */
};

static _Atomic int log_level_cur = LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

static pthread_mutex_t lim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct site sites[SITES];
static unsigned lim_burst = LOG_LIMIT_BURST;
static unsigned lim_interval = LOG_LIMIT_INTERVAL_MS;
static unsigned lim_pending; /* sites owing a summary */
static uint64_t lim_next_sweep; /* no suppressed site can have earned a token before */
static log_clock_h *_Atomic lim_clock;

void log_set_level(enum log_level lvl) { log_level_cur = lvl; }
enum log_level log_get_level(void) { return (enum log_level)log_level_cur; }
void log_set_fd(int fd) { log_fd = fd; }
void log_set_clock(log_clock_h *now_ms) { lim_clock = now_ms; }

int log_level_parse(const char *s, enum log_level *lvl)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*lvl = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*lvl = LOG_WARN;
		return 0;
	}
	return EINVAL;
}

void log_limit_set(unsigned burst, unsigned interval_ms)
{
	pthread_mutex_lock(&lim_lock);
	lim_burst = burst;
	lim_interval = interval_ms ? interval_ms : 1;
	memset(sites, 0, sizeof(sites));
	lim_pending = 0;
	lim_next_sweep = 0;
	pthread_mutex_unlock(&lim_lock);
}

static uint64_t now_ms(void)
{
	log_clock_h *clk = lim_clock;
	if (clk)
		return clk();
	struct timespec ts;
	/* The coarse clock is a memory read, not a system call; a few ms of
	 * resolution is plenty for a one-second window. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The "<time> <level> " prefix; returns its length. */
static size_t line_head(char *line, size_t size, enum log_level lvl)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[lvl]);
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Appends a summary line for s to out (a buffer of lines) if it fits, and
 * clears its count. Returns the new length of out. Called with the lock held. */
static size_t summary_put(struct site *s, char *out, size_t len, size_t size)
{
	char head[64], fmt[SUMMARY_FMT_MAX + 1];
	size_t hl = line_head(head, sizeof(head), s->lvl);
	/* The format names the call site; its first line is enough to recognise it. */
	size_t fl = strcspn(s->fmt, "\n");
	if (fl > SUMMARY_FMT_MAX)
		fl = SUMMARY_FMT_MAX;
	memcpy(fmt, s->fmt, fl);
	fmt[fl] = '\0';
	int n = snprintf(out + len, size - len, "%.*s(%u similar lines suppressed: \"%s\")\n", (int)hl, head,
			 s->suppressed, fmt);
	if (n < 0 || (size_t)n >= size - len)
		return len; /* stays owed until the next sweep */
	s->suppressed = 0;
	lim_pending--;
	return len + (size_t)n;
}

static void site_refill(struct site *s, uint64_t now)
{
	if (now <= s->last)
		return;
	uint64_t earned = (now - s->last) / lim_interval;
	if (!earned)
		return;
	if (s->tokens + earned >= lim_burst) {
		s->tokens = lim_burst;
		s->last = now;
	} else {
		s->tokens += (unsigned)earned;
		s->last += earned * lim_interval;
	}
}

static struct site *site_find(const char *fmt, uint64_t now)
{
	size_t i = (size_t)(((uintptr_t)fmt >> 3) * 2654435761u) % SITES;
	for (size_t k = 0; k < SITES; k++, i = (i + 1) % SITES) {
		struct site *s = &sites[i];
		if (s->fmt == fmt)
			return s;
		if (!s->fmt) {
			*s = (struct site){ .fmt = fmt, .last = now, .tokens = lim_burst };
			return s;
		}
	}
	return NULL;
}

/* Decides whether a line from fmt may be written. Summaries owed (this site's,
 * and those of sites that have since gone quiet) are appended to sum. */
static bool limit_admit(const char *fmt, enum log_level lvl, char *sum, size_t *sumlen, size_t sumsize)
{
	uint64_t now = now_ms();
	bool ok = true;
	pthread_mutex_lock(&lim_lock);
	struct site *s = lim_burst ? site_find(fmt, now) : NULL;
	if (s) {
		site_refill(s, now);
		if (!s->tokens) {
			if (!s->suppressed++) {
				lim_pending++;
				s->lvl = lvl;
			} else if (lvl < s->lvl) {
				s->lvl = lvl;
			}
			ok = false;
		} else {
			s->tokens--;
			if (s->suppressed)
				*sumlen = summary_put(s, sum, *sumlen, sumsize);
		}
	}
	/* A site that went quiet after being suppressed would otherwise owe its
	 * summary forever: a line sweeps those that have earned a token since. A
	 * site earns one an interval at the soonest, so once an interval is enough:
	 * during a flood, the lines that are let through do not each walk the table. */
	bool sweep = lim_pending && ok && now >= lim_next_sweep;
	if (sweep)
		lim_next_sweep = now + lim_interval;
	for (size_t i = 0; sweep && lim_pending && i < SITES; i++) {
		struct site *q = &sites[i];
		if (!q->suppressed)
			continue;
		site_refill(q, now);
		if (q->tokens)
			*sumlen = summary_put(q, sum, *sumlen, sumsize);
	}
	pthread_mutex_unlock(&lim_lock);
	return ok;
}

static void write_all(const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(log_fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

void log_flush(void)
{
	char sum[4096];
	size_t len;
	do {
		len = 0;
		pthread_mutex_lock(&lim_lock);
		for (size_t i = 0; lim_pending && i < SITES; i++) {
			if (sites[i].suppressed)
				len = summary_put(&sites[i], sum, len, sizeof(sum));
		}
		pthread_mutex_unlock(&lim_lock);
		write_all(sum, len);
	} while (len); /* more than one buffer's worth were owed */
}

static void line_write(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	size_t n = line_head(line, sizeof(line), lvl);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	size_t len = n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(log_fd, line, len);
	(void)w;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > log_level_cur)
		return;
	char sum[1024];
	size_t sumlen = 0;
	bool ok = limit_admit(fmt, lvl, sum, &sumlen, sizeof(sum));
	if (sumlen)
		write_all(sum, sumlen);
	if (!ok)
		return;
	va_list ap;
	va_start(ap, fmt);
	line_write(lvl, fmt, ap);
	va_end(ap);
}

void log_trace(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	line_write(LOG_INFO, fmt, ap);
	va_end(ap);
}
