/* The media worker's io_uring (see uring.h). Receiving: one multishot recvmsg
 * per socket, selecting buffers from a ring the kernel fills (each buffer: the
 * io_uring_recvmsg_out header, the source address, the datagram); a buffer
 * goes back to the ring as soon as its packet is handled. Sending: each
 * datagram is copied into a slot of our own with its address, and an
 * IORING_OP_SEND with that address and MSG_DONTWAIT is queued; they are submitted when a
 * wake-up's completions are handled (or when the queue is full), and, being
 * non-blocking UDP sends, are done inline by then, so the slots are free
 * again. Only failed sends post completions (IOSQE_CQE_SKIP_SUCCESS).
 *
 * A socket's receiving is known by a slot (its user_data: slot index and a
 * generation): a completion of a slot that was let go is ignored, so a relay
 * can be destroyed while its last packets are in the queue.
 *
 * Once an RTP socket has latched, a second socket (its twin) is bound to the
 * same port with SO_REUSEPORT and connected to the latched remote: the kernel
 * hands that remote's packets to the twin (a connected socket matches better)
 * and everything else, strays and a remote that moves, to the first, which
 * latches as before; the twin follows the latch. What goes to the remote
 * leaves through the twin without an address: no route lookup, no address to
 * copy, per packet (bench/media: a fifth of the relay's CPU), and the twin
 * receives with plain multishot recv. Twins draw on the media descriptor
 * budget (media_ports_extra_take); without one a socket works as before. */
#include "media/uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

enum {
	RING_ENTRIES = 4096,  /* submission queue; completions twice that */
	BUFS = 4096,          /* receive buffers in the ring (a power of two) */
	BUF_SZ = MEDIA_PKT_MAX + 128, /* recvmsg_out + address + the largest datagram */
	BGID = 1,
	SENDS = 1024,         /* send slots: what one wake-up may queue before a submit */
	FILES = 32768,        /* registered sockets (the slots): no file lookup per operation */
	CQE_BATCH = 256,
};

#define UD_SEND 0ull /* user_data of sends (failures only) and cancellations */

struct send_slot {
	struct sa dst;
	uint8_t buf[MEDIA_PKT_MAX];
};

struct rx_slot {
	struct media_sock *k; /* NULL: free */
	uint32_t gen;
	int tfd;              /* a twin's own socket (this slot reads it), else -1 */
};

struct media_uring {
	struct io_uring ring;
	struct media_batch *batch;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	struct msghdr tmpl;    /* what every multishot recvmsg fills: the address, no control */
	struct send_slot *sends;
	unsigned nsends;
	struct rx_slot *rx;    /* index 0 unused: uslot 0 is "none" */
	uint32_t nrx, rx_free; /* slots made, the first free one to look at */
	uint32_t nfiles;       /* registered file table's size: the most slots */
	unsigned nreturned;    /* buffers given back to the ring, not yet made visible */
	bool in_ring;          /* handling completions: sends go at the end of it */
};

static uint64_t ud_of(uint32_t slot, uint32_t gen)
{
	return (uint64_t)gen << 32 | slot;
}

/* What is queued goes: sends are done inline (non-blocking UDP), receives armed. */
static void submit(struct media_uring *u)
{
	int r = io_uring_submit(&u->ring);
	if (r < 0 && r != -EAGAIN && r != -EBUSY)
		log_warn("media: io_uring submit: %s", strerror(-r));
	u->nsends = 0;
}

static struct io_uring_sqe *sqe_get(struct media_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		submit(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static int arm(struct media_uring *u, uint32_t slot)
{
	struct io_uring_sqe *sqe = sqe_get(u);
	if (!sqe)
		return EBUSY;
	if (u->rx[slot].tfd >= 0)
		io_uring_prep_recv_multishot(sqe, (int)slot, NULL, 0, 0); /* its source is known */
	else
		io_uring_prep_recvmsg_multishot(sqe, (int)slot, &u->tmpl, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT | IOSQE_FIXED_FILE;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, ud_of(slot, u->rx[slot].gen));
	return 0;
}

/* Buffers go back to the ring one by one, and become the kernel's together
 * (one release store for a wake-up's worth, bufs_publish). */
static void buf_return(struct media_uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SZ, BUF_SZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(BUFS), (int)u->nreturned++);
}

static void bufs_publish(struct media_uring *u)
{
	if (u->nreturned)
		io_uring_buf_ring_advance(u->br, (int)u->nreturned);
	u->nreturned = 0;
}

static void twin_sync(struct media_uring *u, struct media_sock *k);

/* A twin's datagram: from the remote it is connected to. */
static void on_twin_recv(struct media_uring *u, struct media_sock *k, const uint8_t *buf, int res)
{
	if (res <= 0)
		return;
	if ((size_t)res > MEDIA_PKT_MAX) {
		k->owner->st.rx_foreign++;
		return;
	}
	struct media_pkt *p = &u->batch->pkts[0];
	p->buf = (uint8_t *)buf;
	p->len = (size_t)res;
	p->src = k->tpeer;
	media_sockep_input(k, p, 1);
}

static void on_recv(struct media_uring *u, const struct io_uring_cqe *cqe)
{
	uint32_t slot = (uint32_t)cqe->user_data, gen = (uint32_t)(cqe->user_data >> 32);
	bool live = slot && slot < u->nrx && u->rx[slot].k && u->rx[slot].gen == gen;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *buf = u->bufs + (size_t)bid * BUF_SZ;
		struct io_uring_recvmsg_out *o = NULL;
		if (live && u->rx[slot].tfd >= 0)
			on_twin_recv(u, u->rx[slot].k, buf, cqe->res);
		else if (cqe->res > 0)
			o = io_uring_recvmsg_validate(buf, cqe->res, &u->tmpl);
		if (live && o && !(o->flags & MSG_TRUNC) && o->namelen <= sizeof(struct sockaddr_in6)) {
			struct media_pkt *p = &u->batch->pkts[0];
			p->buf = io_uring_recvmsg_payload(o, &u->tmpl);
			p->len = io_uring_recvmsg_payload_length(o, cqe->res, &u->tmpl);
			memset(&p->src, 0, sizeof(p->src));
			memcpy(&p->src.u, io_uring_recvmsg_name(o), o->namelen);
			p->src.len = o->namelen;
			struct media_sock *k = u->rx[slot].k;
			media_sockep_input(k, p, 1);
			twin_sync(u, k);
		} else if (live && o) {
			u->rx[slot].k->owner->st.rx_foreign++;
		}
		buf_return(u, bid);
	}
	/* A multishot that ended (the ring ran out of buffers, an error) is armed
	 * again while its socket is wanted. */
	if (!more && live && cqe->res != -ECANCELED)
		arm(u, slot);
}

static void on_ring(int fd, int events, void *arg)
{
	(void)fd, (void)events;
	struct media_uring *u = arg;
	struct io_uring_cqe *cqes[CQE_BATCH];
	u->in_ring = true;
	for (int rounds = 0; rounds < 8; rounds++) {
		unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, CQE_BATCH);
		if (!n)
			break;
		for (unsigned i = 0; i < n; i++) {
			if (cqes[i]->user_data == UD_SEND) {
				/* only failures post: RTP that cannot go now is dropped (rate-limited log) */
				log_warn("media: a packet not sent: %s", strerror(-cqes[i]->res));
				continue;
			}
			on_recv(u, cqes[i]);
		}
		io_uring_cq_advance(&u->ring, n);
		bufs_publish(u); /* before the re-armed receives go, so they find buffers */
		submit(u);       /* what those packets made leaves now */
	}
	u->in_ring = false;
}

int media_uring_alloc(struct media_uring **up, struct loop *loop, struct media_batch *batch)
{
	struct media_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return ENOMEM;
	u->batch = batch;
	/* Cooperative task running: the kernel does the receives' work when this
	 * thread enters it anyway (its epoll_wait), without interrupting it. */
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
				     .cq_entries = RING_ENTRIES * 2 };
	int r = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
	if (r == -EINVAL) {
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE, .cq_entries = RING_ENTRIES * 2 };
		r = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
	}
	if (r < 0) {
		free(u);
		return -r;
	}
	int e = 0;
	size_t brsz = BUFS * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, brsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	u->bufs = malloc((size_t)BUFS * BUF_SZ);
	u->sends = calloc(SENDS, sizeof(*u->sends));
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		e = ENOMEM;
	}
	if (!e && (!u->bufs || !u->sends))
		e = ENOMEM;
	if (!e) {
		io_uring_buf_ring_init(u->br);
		struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)u->br, .ring_entries = BUFS, .bgid = BGID };
		r = io_uring_register_buf_ring(&u->ring, &reg, 0);
		e = r < 0 ? -r : 0;
	}
	if (!e) {
		/* The table counts against the descriptor limit: as large as it allows. */
		struct rlimit rl;
		u->nfiles = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FILES ? (uint32_t)rl.rlim_cur : FILES;
		r = io_uring_register_files_sparse(&u->ring, u->nfiles);
		e = r < 0 ? -r : 0;
	}
	if (!e) {
		io_uring_register_ring_fd(&u->ring); /* an optimisation: failing is fine */
		for (unsigned i = 0; i < BUFS; i++)
			io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BUF_SZ, BUF_SZ, (unsigned short)i,
					      io_uring_buf_ring_mask(BUFS), (int)i);
		io_uring_buf_ring_advance(u->br, BUFS);
		u->tmpl.msg_namelen = sizeof(struct sockaddr_in6);
		u->nrx = 1;
		u->rx_free = 1;
		e = loop_fd_listen(loop, u->ring.ring_fd, LOOP_READ, on_ring, u);
	}
	if (e) {
		media_uring_free(u);
		return e;
	}
	*up = u;
	return 0;
}

void media_uring_free(struct media_uring *u)
{
	if (!u)
		return;
	/* The loop is gone by now (the worker's thread ended): nothing to unwatch.
	 * Exiting the ring cancels the receives and lets their sockets go. */
	io_uring_queue_exit(&u->ring);
	for (uint32_t i = 1; i < u->nrx; i++) {
		if (u->rx[i].tfd >= 0) {
			close(u->rx[i].tfd);
			media_ports_extra_give();
		}
	}
	if (u->br)
		munmap(u->br, BUFS * sizeof(struct io_uring_buf));
	free(u->bufs);
	free(u->sends);
	free(u->rx);
	free(u);
}

/* A slot reading fd for k, its file registered (not yet armed). */
static int slot_take(struct media_uring *u, int fd, struct media_sock *k, uint32_t *slotp)
{
	uint32_t slot = 0;
	for (uint32_t i = u->rx_free; i < u->nrx; i++) {
		if (!u->rx[i].k) {
			slot = i;
			break;
		}
	}
	if (!slot) {
		if (u->nrx + 64 > u->nfiles)
			return EMFILE;
		struct rx_slot *v = realloc(u->rx, (size_t)(u->nrx + 64) * sizeof(*v));
		if (!v)
			return ENOMEM;
		memset(v + u->nrx, 0, 64 * sizeof(*v));
		u->rx = v;
		for (uint32_t i = u->nrx; i < u->nrx + 64; i++)
			u->rx[i].tfd = -1;
		slot = u->nrx;
		u->nrx += 64;
	}
	int r = io_uring_register_files_update(&u->ring, slot, &fd, 1);
	if (r < 0)
		return -r;
	u->rx_free = slot + 1;
	u->rx[slot].k = k;
	u->rx[slot].gen++;
	u->rx[slot].tfd = -1;
	*slotp = slot;
	return 0;
}

/* The slot's receiving cancelled and its file unregistered, at once. */
static void slot_release(struct media_uring *u, uint32_t slot)
{
	struct io_uring_sqe *sqe = sqe_get(u);
	if (sqe) {
		io_uring_prep_cancel64(sqe, ud_of(slot, u->rx[slot].gen), 0);
		io_uring_sqe_set_data64(sqe, UD_SEND);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	/* Done now: the caller gives the socket back, and may close it at once
	 * (the ring's own reference to it goes with its registration). */
	submit(u);
	int none = -1;
	io_uring_register_files_update(&u->ring, slot, &none, 1);
	u->rx[slot].k = NULL;
	u->rx[slot].gen++;
	if (slot < u->rx_free)
		u->rx_free = slot;
}

int media_uring_listen(struct media_uring *u, struct media_sock *k)
{
	uint32_t slot;
	int e = slot_take(u, k->fd, k, &slot);
	if (e)
		return e;
	e = arm(u, slot);
	if (e) {
		slot_release(u, slot); /* the ring would keep the socket, and its port, open */
		return e;
	}
	k->uslot = slot;
	submit(u);
	return 0;
}

static void twin_drop(struct media_uring *u, struct media_sock *k)
{
	uint32_t slot = k->tslot;
	int fd = u->rx[slot].tfd;
	slot_release(u, slot);
	u->rx[slot].tfd = -1;
	close(fd);
	media_ports_extra_give();
	k->tslot = 0;
}

/* The twin of k connected to its latched remote: true when it runs. */
static bool twin_make(struct media_uring *u, struct media_sock *k)
{
	if (!media_ports_extra_take())
		return false;
	struct sa local = { .len = sizeof(local.u) };
	int one = 1, fd = -1;
	uint32_t slot = 0;
	/* Both must allow sharing the port; the first only from now on, so that
	 * until it latched no other socket could join it. */
	if (getsockname(k->fd, &local.u.sa, &local.len) < 0 ||
	    setsockopt(k->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	fd = socket(sa_af(&local), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, &local.u.sa, local.len) < 0 || connect(fd, &k->latch.addr.u.sa, k->latch.addr.len) < 0 ||
	    slot_take(u, fd, k, &slot))
		goto fail;
	u->rx[slot].tfd = fd;
	if (arm(u, slot)) {
		slot_release(u, slot);
		u->rx[slot].tfd = -1;
		goto fail;
	}
	submit(u);
	k->tslot = slot;
	return true;
fail:
	if (fd >= 0)
		close(fd);
	media_ports_extra_give();
	return false;
}

/* After a primary socket's packet: its twin made, or moved, to where it
 * latched (a browser's side: where ICE chose, webrtc.c). */
static void twin_sync(struct media_uring *u, struct media_sock *k)
{
	if (k->comp != MEDIA_RTP || !k->latch.set)
		return;
	if (k->tslot || k->tfailed) {
		if (sa_eq(&k->tpeer, &k->latch.addr))
			return;
		if (k->tslot) {
			/* the latch moved: the twin follows (a UDP socket may connect again) */
			if (connect(u->rx[k->tslot].tfd, &k->latch.addr.u.sa, k->latch.addr.len) == 0) {
				k->tpeer = k->latch.addr;
				return;
			}
			twin_drop(u, k);
		}
	}
	k->tpeer = k->latch.addr;
	k->tfailed = !twin_make(u, k);
}

void media_uring_unlisten(struct media_uring *u, struct media_sock *k)
{
	uint32_t slot = k->uslot;
	if (!slot || slot >= u->nrx || u->rx[slot].k != k)
		return;
	if (k->tslot)
		twin_drop(u, k);
	k->tfailed = false;
	slot_release(u, slot);
	k->uslot = 0;
}

int media_uring_send(struct media_uring *u, const struct media_sock *k, const struct sa *dst, const void *buf,
		     size_t len)
{
	if (len > MEDIA_PKT_MAX)
		return ENOBUFS;
	if (u->nsends == SENDS)
		submit(u);
	struct io_uring_sqe *sqe = sqe_get(u);
	if (!sqe)
		return ENOBUFS;
	struct send_slot *s = &u->sends[u->nsends++];
	memcpy(s->buf, buf, len);
	bool fixed = k->uslot && k->uslot < u->nrx && u->rx[k->uslot].k == k;
	if (k->tslot && sa_eq(dst, &k->tpeer)) {
		/* through the twin: connected, nothing to say but the data */
		io_uring_prep_send(sqe, (int)k->tslot, s->buf, len, MSG_DONTWAIT);
		fixed = true;
	} else {
		/* a send that carries its address: no msghdr for the kernel to read */
		s->dst = *dst;
		io_uring_prep_send(sqe, fixed ? (int)k->uslot : k->fd, s->buf, len, MSG_DONTWAIT);
		io_uring_prep_send_set_addr(sqe, &s->dst.u.sa, (uint16_t)s->dst.len);
	}
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS | (fixed ? IOSQE_FIXED_FILE : 0);
	io_uring_sqe_set_data64(sqe, UD_SEND);
	if (!u->in_ring)
		submit(u); /* sent from elsewhere (a timer): nothing else would send it soon */
	return 0;
}
