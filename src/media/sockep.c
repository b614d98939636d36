/* The socket endpoint: recvmmsg on a leg's RTP/RTCP sockets, symmetric-RTP
 * latching, sendmmsg of what its peer delivers (see sockep.h). */
#include "media/sockep.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "media/rtp.h"
#include "media/uring.h"

bool media_latch_input(struct media_latch *l, const struct sa *src, bool *relatched)
{
	*relatched = false;
	if (!l->set) {
		/* Symmetric RTP: the first packet tells where the leg's media really
		 * comes from (behind NAT that is not what its SDP says). */
		l->addr = *src;
		l->set = true;
		l->cand_n = 0;
		return true;
	}
	if (sa_eq(&l->addr, src)) {
		/* The latched source is alive: a would-be new one must start over. */
		l->cand_n = 0;
		return true;
	}
	if (l->move_from.len && sa_eq_addr(&l->move_from, src)) {
		/* The side said it moves, from where its signalling comes from. */
		l->addr = *src;
		l->cand_n = 0;
		l->move_from.len = 0;
		*relatched = true;
		return true;
	}
	if (l->cand_n && sa_eq(&l->cand, src)) {
		l->cand_n++;
	} else {
		l->cand = *src;
		l->cand_n = 1;
	}
	if (l->cand_n < MEDIA_LATCH_SWITCH)
		return false;
	l->addr = *src;
	l->cand_n = 0;
	*relatched = true;
	return true;
}

static void sockep_deliver(struct media_endpoint *ep, enum media_comp comp, struct media_pkt *pkts,
			   unsigned n)
{
	struct media_sockep *s = (struct media_sockep *)ep;
	struct media_sock *k = &s->sock[comp];
	const struct sa *dst = k->latch.set ? &k->latch.addr : k->latch.hint.len ? &k->latch.hint : NULL;
	if (!dst) {
		s->st.tx_dropped += n;
		return;
	}
	if (s->batch->uring) {
		for (unsigned i = 0; i < n; i++) {
			if (media_uring_send(s->batch->uring, k, dst, pkts[i].buf, pkts[i].len)) {
				s->st.tx_dropped++;
				continue;
			}
			s->st.tx_pkts++;
			s->st.tx_bytes += pkts[i].len;
		}
		return;
	}
	struct mmsghdr mh[MEDIA_BATCH];
	struct iovec iov[MEDIA_BATCH];
	unsigned done = 0;
	while (done < n) {
		unsigned m = n - done > MEDIA_BATCH ? MEDIA_BATCH : n - done;
		for (unsigned i = 0; i < m; i++) {
			iov[i] = (struct iovec){ .iov_base = pkts[done + i].buf, .iov_len = pkts[done + i].len };
			mh[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_name = (void *)&dst->u.sa, .msg_namelen = dst->len,
				.msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int r = sendmmsg(k->fd, mh, m, MSG_DONTWAIT);
		if (r <= 0) {
			/* A full socket buffer or an ICMP error from an earlier send: RTP is
			 * real time, so what cannot go now is dropped, never queued. */
			if (r < 0 && errno == EINTR)
				continue;
			s->st.tx_dropped += n - done;
			return;
		}
		for (int i = 0; i < r; i++)
			s->st.tx_bytes += pkts[done + (unsigned)i].len;
		s->st.tx_pkts += (unsigned)r;
		done += (unsigned)r;
	}
}

static const struct media_endpoint_ops sockep_ops = {
	.name = "socket",
	.deliver = sockep_deliver,
};

void media_sockep_init(struct media_sockep *s, const struct media_sockpair *sp,
		       const struct media_hint *hint, struct media_batch *batch)
{
	memset(s, 0, sizeof(*s));
	s->ep.ops = &sockep_ops;
	s->batch = batch;
	s->sock[MEDIA_RTP] = (struct media_sock){ .owner = s, .comp = MEDIA_RTP, .fd = sp->rtp };
	s->sock[MEDIA_RTCP] = (struct media_sock){ .owner = s, .comp = MEDIA_RTCP, .fd = sp->rtcp };
	s->te_pt = -1;
	media_sockep_hint(s, hint);
}

void media_sockep_hint(struct media_sockep *s, const struct media_hint *hint)
{
	for (int c = 0; hint && c < MEDIA_COMP_COUNT; c++)
		s->sock[c].latch.move_from = hint->move_from;
	if (hint && hint->rtp.len) {
		/* A new destination (another fork answered, a re-INVITE moved the
		 * media): what was latched belonged to the old one. */
		for (int c = 0; c < MEDIA_COMP_COUNT; c++) {
			s->sock[c].latch.set = false;
			s->sock[c].latch.cand_n = 0;
		}
		s->sock[MEDIA_RTP].latch.hint = hint->rtp;
		if (hint->rtcp.len) {
			s->sock[MEDIA_RTCP].latch.hint = hint->rtcp;
		} else {
			/* RFC 3550 11: RTCP on the next port unless the SDP says otherwise. */
			s->sock[MEDIA_RTCP].latch.hint = hint->rtp;
			sa_set_port(&s->sock[MEDIA_RTCP].latch.hint, (uint16_t)(sa_port(&hint->rtp) + 1u));
		}
	}
}

void media_batch_init(struct media_batch *b)
{
	for (unsigned i = 0; i < MEDIA_BATCH; i++) {
		b->iov[i] = (struct iovec){ .iov_base = b->buf[i], .iov_len = MEDIA_PKT_MAX };
		b->mh[i] = (struct mmsghdr){ .msg_hdr = {
			.msg_name = &b->pkts[i].src.u, .msg_namelen = sizeof(b->pkts[i].src.u),
			.msg_iov = &b->iov[i], .msg_iovlen = 1 } };
	}
}

void media_sockep_dtmf_check(struct media_sockep *s, const uint8_t *p, size_t len)
{
	size_t off;
	if (len < 12 || (p[1] & 0x7f) != s->te_pt || media_rtp_header_len(p, len, &off))
		return;
	if (len < off + 4 || !(p[off + 1] & 0x80))
		return; /* not an end packet: the event is told once, when it ends */
	uint32_t ts = media_rtp_get32(p + 4);
	if (s->te_seen && ts == s->te_last_ts)
		return; /* the end packet's retransmissions (RFC 4733 §2.5.1.4) */
	s->te_seen = true;
	s->te_last_ts = ts;
	if (s->dtmf)
		s->dtmf(s, p[off], (uint16_t)(p[off + 2] << 8 | p[off + 3]), s->dtmf_arg);
}

void media_sockep_input(struct media_sock *k, struct media_pkt *pkts, unsigned n_in)
{
	struct media_sockep *s = k->owner;
	unsigned n = 0;
	for (unsigned i = 0; i < n_in; i++) {
		struct media_pkt *p = &pkts[i];
		bool moved = false;
		if (!s->ice && !media_latch_input(&k->latch, &p->src, &moved)) {
			s->st.rx_foreign++;
			continue;
		}
		if (moved) {
			char a[64];
			log_info("media: remote moved, now %s", sa_str(&p->src, a, sizeof(a)));
			s->st.relatches++;
		}
		s->st.rx_pkts++;
		s->st.rx_bytes += p->len;
		if (s->te_pt >= 0 && k->comp == MEDIA_RTP && !s->ice)
			media_sockep_dtmf_check(s, p->buf, p->len);
		/* Compact accepted packets to the front, keeping their order. */
		pkts[n++] = *p;
	}
	struct media_endpoint *peer = s->ep.peer;
	if (n && peer)
		peer->ops->deliver(peer, k->comp, pkts, n);
}

void media_sockep_readable(int fd, int events, void *arg)
{
	(void)events;
	struct media_sock *k = arg;
	struct media_sockep *s = k->owner;
	struct media_batch *b = s->batch;
	/* recvmmsg writes back only the address lengths (and flags): the rest of the
	 * headers stay pointed at the batch's buffers from media_batch_init. */
	for (unsigned i = 0; i < MEDIA_BATCH; i++)
		b->mh[i].msg_hdr.msg_namelen = sizeof(b->pkts[i].src.u);
	/* One batch per wake-up: the loop is level-triggered, so a busy socket comes
	 * back, and its neighbours get their turn in between. */
	int r = recvmmsg(fd, b->mh, MEDIA_BATCH, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return;
	unsigned n = 0;
	for (int i = 0; i < r; i++) {
		struct mmsghdr *m = &b->mh[i];
		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			s->st.rx_foreign++;
			continue;
		}
		struct media_pkt keep = { .buf = b->buf[i], .len = m->msg_len, .src = b->pkts[i].src };
		keep.src.len = m->msg_hdr.msg_namelen;
		b->pkts[n++] = keep;
	}
	media_sockep_input(k, b->pkts, n);
}
