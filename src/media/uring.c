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
 * can be destroyed while its last packets are in the queue. */
#include "media/uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

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

static void on_recv(struct media_uring *u, const struct io_uring_cqe *cqe)
{
	uint32_t slot = (uint32_t)cqe->user_data, gen = (uint32_t)(cqe->user_data >> 32);
	bool live = slot && slot < u->nrx && u->rx[slot].k && u->rx[slot].gen == gen;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *buf = u->bufs + (size_t)bid * BUF_SZ;
		struct io_uring_recvmsg_out *o = cqe->res > 0 ? io_uring_recvmsg_validate(buf, cqe->res, &u->tmpl) : NULL;
		if (live && o && !(o->flags & MSG_TRUNC) && o->namelen <= sizeof(struct sockaddr_in6)) {
			struct media_pkt *p = &u->batch->pkts[0];
			p->buf = io_uring_recvmsg_payload(o, &u->tmpl);
			p->len = io_uring_recvmsg_payload_length(o, cqe->res, &u->tmpl);
			memset(&p->src, 0, sizeof(p->src));
			memcpy(&p->src.u, io_uring_recvmsg_name(o), o->namelen);
			p->src.len = o->namelen;
			media_sockep_input(u->rx[slot].k, p, 1);
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
	if (u->br)
		munmap(u->br, BUFS * sizeof(struct io_uring_buf));
	free(u->bufs);
	free(u->sends);
	free(u->rx);
	free(u);
}

int media_uring_listen(struct media_uring *u, struct media_sock *k)
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
		slot = u->nrx;
		u->nrx += 64;
	}
	int fd = k->fd;
	int r = io_uring_register_files_update(&u->ring, slot, &fd, 1);
	if (r < 0)
		return -r;
	u->rx_free = slot + 1;
	u->rx[slot].k = k;
	u->rx[slot].gen++;
	k->uslot = slot;
	int e = arm(u, slot);
	if (e) {
		u->rx[slot].k = NULL;
		k->uslot = 0;
		return e;
	}
	submit(u);
	return 0;
}

void media_uring_unlisten(struct media_uring *u, struct media_sock *k)
{
	uint32_t slot = k->uslot;
	if (!slot || slot >= u->nrx || u->rx[slot].k != k)
		return;
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
	k->uslot = 0;
	if (slot < u->rx_free)
		u->rx_free = slot;
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
	s->dst = *dst;
	bool fixed = k->uslot && k->uslot < u->nrx && u->rx[k->uslot].k == k;
	/* a send that carries its address: no msghdr for the kernel to read */
	io_uring_prep_send(sqe, fixed ? (int)k->uslot : k->fd, s->buf, len, MSG_DONTWAIT);
	io_uring_prep_send_set_addr(sqe, &s->dst.u.sa, (uint16_t)s->dst.len);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS | (fixed ? IOSQE_FIXED_FILE : 0);
	io_uring_sqe_set_data64(sqe, UD_SEND);
	if (!u->in_ring)
		submit(u); /* sent from elsewhere (a timer): nothing else would send it soon */
	return 0;
}
