/* epoll + timer heap event loop (see loop.h). File descriptors index a flat table,
 * as in Redis's ae: a lookup per event costs nothing, and fds are small integers. */
#include "core/loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct loop_fd {
	loop_fd_h *h;
	void *arg;
	int events; /* 0 when unused */
};

struct loop {
	int epfd;
	struct loop_fd *fds;
	int nfds;
	struct tmr_heap timers;
	bool running;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int loop_alloc(struct loop **lp)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;
		free(l);
		return e;
	}
	tmr_heap_init(&l->timers, loop_clock_ms());
	*lp = l;
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	tmr_heap_close(&l->timers);
	free(l->fds);
	free(l);
}

int loop_fd_listen(struct loop *l, int fd, int events, loop_fd_h *h, void *arg)
{
	if (fd < 0)
		return EBADF;
	if (fd >= l->nfds) {
		int n = l->nfds ? l->nfds : 64;
		while (n <= fd)
			n *= 2;
		struct loop_fd *nf = realloc(l->fds, (size_t)n * sizeof(*nf));
		if (!nf)
			return ENOMEM;
		memset(nf + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*nf));
		l->fds = nf;
		l->nfds = n;
	}
	struct epoll_event ev = { 0 };
	ev.events = ((events & LOOP_READ) ? EPOLLIN : 0) | ((events & LOOP_WRITE) ? EPOLLOUT : 0);
	ev.data.fd = fd;
	int op = l->fds[fd].events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
		return errno;
	l->fds[fd] = (struct loop_fd){ h, arg, events ? events : -1 };
	return 0;
}

void loop_fd_close(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].events)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd] = (struct loop_fd){ 0 };
}

struct tmr_heap *loop_timers(struct loop *l) { return &l->timers; }
uint64_t loop_now(struct loop *l) { return l->timers.now; }
void loop_stop(struct loop *l) { l->running = false; }

int loop_run(struct loop *l)
{
	struct epoll_event evs[128];
	l->running = true;
	while (l->running) {
		int64_t next = tmr_heap_next(&l->timers);
		int timeout = next < 0 ? 1000 : next > 1000 ? 1000 : (int)next;
		int n = epoll_wait(l->epfd, evs, 128, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		l->timers.now = loop_clock_ms();
		for (int i = 0; i < n && l->running; i++) {
			int fd = evs[i].data.fd;
			/* An earlier handler in this batch may have closed this fd. */
			if (fd >= l->nfds || !l->fds[fd].events)
				continue;
			int e = 0;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				e |= LOOP_READ;
			if (evs[i].events & EPOLLOUT)
				e |= LOOP_WRITE;
			l->fds[fd].h(fd, e, l->fds[fd].arg);
		}
		tmr_heap_advance(&l->timers, loop_clock_ms());
	}
	return 0;
}
