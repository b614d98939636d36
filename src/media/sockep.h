/* The socket endpoint (internal to src/media): a leg's RTP and RTCP sockets with
 * symmetric-RTP latching. It is one kind of media_endpoint; the worker connects
 * two of them for a relay. */
#ifndef MEDIA_SOCKEP_H
#define MEDIA_SOCKEP_H

#include <stdbool.h>
#include <sys/socket.h>

#include "media/media.h"

enum { MEDIA_BATCH = 32, MEDIA_PKT_MAX = 2048 };

/* The worker's receive batch. Delivery is synchronous (a batch is sent on before
 * the next recvmmsg), so one batch per worker serves every endpoint it runs:
 * no per-packet and no per-call packet memory. */
struct media_uring;
struct media_batch {
	struct media_pkt pkts[MEDIA_BATCH];
	struct mmsghdr mh[MEDIA_BATCH];
	struct iovec iov[MEDIA_BATCH];
	uint8_t buf[MEDIA_BATCH][MEDIA_PKT_MAX];
	/* The worker's io_uring (uring.c), or NULL: sockets are then read on
	 * epoll wake-ups with recvmmsg and written with sendmmsg. */
	struct media_uring *uring;
};
/* Points the batch's headers at its buffers once, when the worker makes it. */
void media_batch_init(struct media_batch *b);

/* Where one socket sends: latched to the source of what it receives. */
struct media_latch {
	struct sa addr; /* latched remote; valid when set */
	bool set;
	struct sa cand; /* a new source seen cand_n times in a row */
	unsigned cand_n;
	struct sa hint; /* from SDP, used until set; len 0: none */
	struct sa move_from; /* a new source at this IP relatches at once (once); len 0: none */
};

struct media_sockep;

struct media_sock {
	struct media_sockep *owner;
	enum media_comp comp;
	int fd;
	struct media_latch latch;
	uint32_t uslot; /* its receiving in the worker's io_uring (uring.c), 0: none */
	/* uring.c: a second socket on the same port, connected to the latched
	 * remote, that the kernel gives that remote's packets to and that sends
	 * to it without a route lookup per packet. tslot 0: none. */
	uint32_t tslot;
	struct sa tpeer;  /* where it is connected */
	bool tfailed;     /* none could be made for this latch: not tried again */
};

/* A DTMF event (RFC 4733) received on this side: its event code and duration in
 * timestamp units, once per event (on its first end packet). */
struct media_sockep;
typedef void (media_dtmf_h)(struct media_sockep *s, uint8_t event, uint16_t duration, void *arg);

struct media_sockep {
	struct media_endpoint ep; /* first: ops->deliver gets &ep */
	struct media_sock sock[MEDIA_COMP_COUNT];
	struct media_batch *batch;
	struct media_stats st;
	/* telephone-event watch: the payload type (-1: none) and the last event's
	 * RTP timestamp, so that its repeated end packets count once. */
	int te_pt;
	bool te_seen;
	uint32_t te_last_ts;
	media_dtmf_h *dtmf;
	void *dtmf_arg;
	/* A browser's side (webrtc.c): no latching here, every packet goes up to
	 * the WebRTC endpoint, which decides by ICE what is accepted and sets
	 * where the RTP socket sends. */
	bool ice;
};

void media_sockep_init(struct media_sockep *s, const struct media_sockpair *sp,
		       const struct media_hint *hint, struct media_batch *batch);
/* A new SDP destination for the side. With an address, it replaces the hint and
 * forgets the latch (the media moved); without one (an address we will not send
 * to, see media_relay_hint) the latch stays, and only move_from is taken. */
void media_sockep_hint(struct media_sockep *s, const struct media_hint *hint);
/* Loop handler for a media_sock's fd: one recvmmsg batch, latched, then handed
 * to the peer endpoint. */
void media_sockep_readable(int fd, int events, void *arg);
/* n packets received on k (buf, len and src set; truncated ones left out and
 * counted by the caller): latched, counted, handed to the peer endpoint. */
void media_sockep_input(struct media_sock *k, struct media_pkt *pkts, unsigned n);
/* Looks at one RTP packet received on s for a telephone-event end (exposed for
 * its unit test). */
void media_sockep_dtmf_check(struct media_sockep *s, const uint8_t *p, size_t len);
/* Pure latching rule, exposed for its unit test: true when a packet from src is
 * accepted (and l updated), false when it is foreign and to be dropped. */
bool media_latch_input(struct media_latch *l, const struct sa *src, bool *relatched);

#endif
