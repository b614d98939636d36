/* The media unit tests' stand-in for the signalling thread: a loop with the
 * reply mqueue, the port allocator and a worker, and waiting (under a 3-s
 * watchdog) for the worker's answers. A test file includes this, defines its
 * struct ctl with RELAY_CTL_FIELDS first (and whatever else it needs), then
 * defines RELAY_CTL_FUNCTIONS and includes this again for the functions. */
#ifndef RELAY_CTL_FIELDS

#define RELAY_CTL_FIELDS                                                                          \
	struct loop *loop;                                                                        \
	struct mqueue *mq;                                                                        \
	struct media_ports *ports;                                                                \
	struct media_worker *w;                                                                   \
	struct tmr wd;                                                                            \
	bool timeout;                                                                             \
	int got_id;                                                                               \
	struct media_relay_report *rep;
#endif

#if defined(RELAY_CTL_FUNCTIONS) && !defined(RELAY_CTL_FUNCTIONS_DONE)
#define RELAY_CTL_FUNCTIONS_DONE

#include <liburing.h>
#include <stdio.h>

static void on_reply(int id, void *data, void *arg)
{
	struct ctl *c = arg;
	assert_null(c->rep);
	c->got_id = id;
	c->rep = data;
	loop_stop(c->loop);
}

static void wd_h(void *arg)
{
	struct ctl *c = arg;
	c->timeout = true;
	loop_stop(c->loop);
}

/* Runs the test thread's loop until the worker answers; returns the report. */
static struct media_relay_report *wait_reply(struct ctl *c, int want_id)
{
	c->rep = NULL;
	c->timeout = false;
	assert_int_equal(tmr_start(loop_timers(c->loop), &c->wd, 3000, wd_h, c), 0);
	while (!c->rep && !c->timeout)
		assert_int_equal(loop_run(c->loop), 0);
	tmr_cancel(&c->wd);
	assert_false(c->timeout);
	if (c->got_id == MEDIA_MSG_DONE && want_id != MEDIA_MSG_DONE)
		print_error("the relay failed: %s\n", strerror(c->rep->err));
	assert_int_equal(c->got_id, want_id);
	return c->rep;
}

/* Whether this kernel gives io_uring to the worker (else it reads with epoll). */
static inline bool uring_works(void)
{
	struct io_uring r;
	if (io_uring_queue_init(2, &r, 0) < 0)
		return false;
	io_uring_queue_exit(&r);
	return true;
}

/* The UDP sockets on 127.0.0.1:port (from /proc/net/udp), and the remote port
 * of the connected one among them (0: none). */
static inline int udp_sockets_on(uint16_t port, uint16_t *remote)
{
	FILE *f = fopen("/proc/net/udp", "r");
	assert_non_null(f);
	char line[512];
	int n = 0;
	*remote = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned la, lp, ra, rp;
		if (sscanf(line, " %*d: %8X:%4X %8X:%4X", &la, &lp, &ra, &rp) == 4 && lp == port) {
			n++;
			if (rp)
				*remote = (uint16_t)rp;
		}
	}
	fclose(f);
	return n;
}

static inline uint16_t port_of(int fd)
{
	struct sa a = { .len = sizeof(a.u) };
	assert_int_equal(getsockname(fd, &a.u.sa, &a.len), 0);
	return sa_port(&a);
}

static struct media_stats stats_of(struct ctl *c, uint64_t id, int side)
{
	assert_int_equal(media_relay_stats(c->w, id), 0);
	struct media_relay_report *r = wait_reply(c, MEDIA_MSG_STATS);
	assert_int_equal(r->err, 0);
	struct media_stats s = r->stats[side];
	mem_deref(r);
	return s;
}

#endif
