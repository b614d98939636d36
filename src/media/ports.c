/* RTP/RTCP port allocation: even RTP port and odd RTCP port bound together,
 * handed out next-fit over the configured range (see media.h). Owned by the
 * signalling thread; not thread-safe. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fdlimit.h"
#include "media/media.h"

struct media_ports {
	struct sa addr;
	uint16_t base;   /* first (even) RTP port */
	unsigned npairs; /* pairs in range */
	unsigned cursor; /* next-fit: where the next search starts */
	unsigned in_use, cap;
	uint8_t *used;   /* one byte per pair: simple, and 5000 bytes for the default range */
};

/* Process-wide, as the descriptor limit is: what the pairs of every range
 * hold, what the workers hold besides, and media's share of the descriptors
 * (fdlimit.h; set when a range is made). */
static _Atomic unsigned pair_fds, extra_fds, budget_fds;

bool media_ports_extra_take(void)
{
	/* taken first, given back when over: two workers cannot both pass the check */
	unsigned extra = ++extra_fds, budget = budget_fds;
	if (pair_fds + extra > budget - budget / 8u) {
		extra_fds--;
		return false;
	}
	return true;
}

void media_ports_extra_give(void)
{
	extra_fds--;
}

int media_ports_parse_range(const char *s, uint16_t *min, uint16_t *max)
{
	if (!s)
		return EINVAL;
	char *end;
	errno = 0;
	long a = strtol(s, &end, 10);
	if (end == s || *end != '-' || errno)
		return EINVAL;
	const char *t = end + 1;
	long b = strtol(t, &end, 10);
	if (end == t || *end || errno || a < 1 || b > 65535 || a > b)
		return EINVAL;
	*min = (uint16_t)a;
	*max = (uint16_t)b;
	return 0;
}

int media_ports_alloc(struct media_ports **pp, const char *addr, uint16_t min, uint16_t max)
{
	if (!pp || min == 0 || min > max)
		return EINVAL;
	unsigned base = (min + 1u) & ~1u;
	/* A pair needs base and base + 1 in range. */
	if (base + 1u > max)
		return EINVAL;
	struct media_ports *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	int e = sa_set(&p->addr, addr && *addr ? addr : "0.0.0.0", 0);
	if (e) {
		free(p);
		return e;
	}
	p->base = (uint16_t)base;
	p->npairs = (max - base + 1u) / 2u;
	p->used = calloc(p->npairs, 1);
	if (!p->used) {
		free(p);
		return ENOMEM;
	}
	unsigned want = p->npairs > UINT_MAX / 2 ? UINT_MAX : p->npairs * 2u;
	p->cap = fdlimit_share(FDLIMIT_MEDIA, want) / 2u;
	budget_fds = fdlimit_share(FDLIMIT_MEDIA, UINT_MAX);
	*pp = p;
	return 0;
}

void media_ports_free(struct media_ports *p)
{
	if (!p)
		return;
	free(p->used);
	free(p);
}

static int bind_one(const struct sa *addr, uint16_t port, int *fdp)
{
	int fd = socket(sa_af(addr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	struct sa a = *addr;
	sa_set_port(&a, port);
	if (bind(fd, &a.u.sa, a.len) < 0) {
		int e = errno;
		close(fd);
		return e;
	}
	*fdp = fd;
	return 0;
}

int media_ports_get(struct media_ports *p, struct media_sockpair *sp)
{
	/* At the cap, say which limit it is: the range, or the descriptor budget. */
	if (p->in_use >= p->cap)
		return p->cap < p->npairs ? EMFILE : EADDRINUSE;
	if (pair_fds + extra_fds + 2u > budget_fds)
		return EMFILE;
	for (unsigned i = 0; i < p->npairs; i++) {
		unsigned idx = (p->cursor + i) % p->npairs;
		if (p->used[idx])
			continue;
		uint16_t port = (uint16_t)(p->base + 2u * idx);
		int rtp = -1, rtcp = -1;
		int e = bind_one(&p->addr, port, &rtp);
		if (!e) {
			e = bind_one(&p->addr, (uint16_t)(port + 1u), &rtcp);
			if (e)
				close(rtp);
		}
		/* Held by another process (or another pbxd): try the next pair. */
		if (e == EADDRINUSE || e == EACCES)
			continue;
		if (e)
			return e;
		p->used[idx] = 1;
		p->in_use++;
		pair_fds += 2u;
		p->cursor = (idx + 1) % p->npairs;
		*sp = (struct media_sockpair){ .rtp = rtp, .rtcp = rtcp, .port = port };
		return 0;
	}
	return EADDRINUSE;
}

void media_sockpair_close(struct media_sockpair *sp)
{
	if (sp->rtp >= 0)
		close(sp->rtp);
	if (sp->rtcp >= 0)
		close(sp->rtcp);
	sp->rtp = sp->rtcp = -1;
}

void media_ports_put(struct media_ports *p, struct media_sockpair *sp)
{
	media_sockpair_close(sp);
	if (sp->port >= p->base && ((unsigned)sp->port - p->base) % 2u == 0) {
		unsigned idx = ((unsigned)sp->port - p->base) / 2u;
		if (idx < p->npairs && p->used[idx]) {
			p->used[idx] = 0;
			p->in_use--;
			pair_fds -= 2u;
		}
	}
	*sp = (struct media_sockpair){ .rtp = -1, .rtcp = -1, .port = 0 };
}

unsigned media_ports_in_use(const struct media_ports *p)
{
	return p->in_use;
}
