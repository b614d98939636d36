/* The descriptor budget (see fdlimit.h). No state of its own: the limit is read
 * from the kernel each time, so a share is right whoever asks and whenever. */
#include "core/fdlimit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"

/* Eighths of what is left after the reserve. */
static const unsigned share_eighths[FDLIMIT_USER_COUNT] = {
	[FDLIMIT_SIP_TCP] = 4,
	[FDLIMIT_HTTP] = 1,
	[FDLIMIT_MEDIA] = 3,
};

static unsigned rlim_to_u(rlim_t r)
{
	return r == RLIM_INFINITY || r > UINT_MAX ? UINT_MAX : (unsigned)r;
}

/* Linux refuses a soft limit above fs.nr_open even when the hard limit is
 * "unlimited", so that is the most an unlimited hard limit can give. */
static rlim_t nr_open(void)
{
	unsigned long long n = 1048576; /* the kernel's default */
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 1048576;
		fclose(f);
	}
	return (rlim_t)n;
}

int fdlimit_raise(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int e = errno;
		log_warn("descriptor limit unknown: %s", strerror(e));
		return e;
	}
	rlim_t was = rl.rlim_cur;
	rlim_t want = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
	if (was != RLIM_INFINITY && was < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			int e = errno;
			log_warn("descriptor limit stays %u: raising it to %u failed: %s", rlim_to_u(was),
				 rlim_to_u(want), strerror(e));
			return e;
		}
		log_info("descriptor limit %u (raised from %u to the hard limit)", rlim_to_u(want), rlim_to_u(was));
	} else {
		log_info("descriptor limit %u (the hard limit)", rlim_to_u(was));
	}
	return 0;
}

unsigned fdlimit_current(void)
{
	struct rlimit rl;
	return getrlimit(RLIMIT_NOFILE, &rl) < 0 ? 1024 : rlim_to_u(rl.rlim_cur);
}

unsigned fdlimit_share_of(unsigned limit, enum fdlimit_user user)
{
	if (user >= FDLIMIT_USER_COUNT)
		return 0;
	/* Under a tiny limit the reserve would eat everything: keep half instead. */
	unsigned reserve = limit / 2 < FDLIMIT_RESERVE ? limit / 2 : FDLIMIT_RESERVE;
	unsigned long long share = (unsigned long long)(limit - reserve) * share_eighths[user] / 8;
	return share ? (unsigned)share : 1;
}

unsigned fdlimit_share(enum fdlimit_user user, unsigned want)
{
	unsigned share = fdlimit_share_of(fdlimit_current(), user);
	return want < share ? want : share;
}
