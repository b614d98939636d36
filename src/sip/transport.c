/* SIP over UDP, TCP, TLS, WebSocket and secure WebSocket (see transport.h).
 * Everything runs on the signalling thread's loop; sockets are non-blocking and
 * a connection that cannot take a write queues it until the socket is
 * writable. TLS is a byte layer under the framing (tp_tls.c); WebSocket is a
 * framing of its own (tp_ws.c). */
#include "sip/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fdlimit.h"
#include "core/hash.h"
#include "core/list.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/transport_int.h"

enum { RBUF_MAX = SIP_MSG_MAX_SIZE + 4096, WBUF_MAX = 4 * 1024 * 1024,
       ACCEPT_BATCH = 32, BACKOFF_FIRST_MS = 100, BACKOFF_MAX_MS = 1600 };

const struct conf_opt sip_transport_opts[] = {
	{ "sip-tcp-message-timeout", CONF_INT, "30", 1, 3600, NULL,
	  "close a TCP connection whose message is not complete this many seconds after its first byte" },
	{ "sip-tls-verify", CONF_BOOL, "on", 0, 0, NULL,
	  "check the certificates of TLS peers pbxd connects to (SIP trunks) against trusted CAs and their name" },
	{ "sip-tls-ca-file", CONF_STR, "", 0, 0, NULL,
	  "PEM file of the CAs trusted for TLS peers pbxd connects to (empty: the system's)" },
};
const size_t sip_transport_opts_count = sizeof(sip_transport_opts) / sizeof(sip_transport_opts[0]);

const char *sip_transport_name(enum sip_transport_kind kind)
{
	static const char *const names[SIP_TP_COUNT] = { "UDP", "TCP", "TLS", "WS", "WSS" };
	return kind < SIP_TP_COUNT ? names[kind] : "?";
}

const char *sip_transport_uri_param(enum sip_transport_kind kind)
{
	static const char *const names[SIP_TP_COUNT] = { "udp", "tcp", "tls", "ws", "ws" };
	return kind < SIP_TP_COUNT ? names[kind] : "udp";
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? errno : 0;
}

/* ---- UDP ---- */

/* The local address a datagram was sent to (IP_PKTINFO / IPV6_PKTINFO): on a
 * socket bound to every address, the answer must leave from the address the
 * phone talked to, or NAT and firewalls on a multi-homed server drop it. */
static void udp_local_addr(struct msghdr *mh, const struct listener *l, struct sa *local)
{
	*local = l->addr;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			const struct in_pktinfo *pi = (const struct in_pktinfo *)(const void *)CMSG_DATA(cm);
			local->u.in.sin_addr = pi->ipi_addr;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			const struct in6_pktinfo *pi = (const struct in6_pktinfo *)(const void *)CMSG_DATA(cm);
			local->u.in6.sin6_addr = pi->ipi6_addr;
		}
	}
}

static void udp_readable(int fd, int events, void *arg)
{
	struct listener *l = arg;
	struct sip_transport *tp = l->tp;
	/* Bounded batch so one busy socket cannot starve the rest of the loop. */
	for (int i = 0; i < 64; i++) {
		struct sip_peer src = { .tp = SIP_TP_UDP, .fd = fd };
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { tp->dgram, sizeof(tp->dgram) };
		struct msghdr mh = {
			.msg_name = &src.addr.u, .msg_namelen = sizeof(src.addr.u), .msg_iov = &iov,
			.msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(fd, &mh, MSG_TRUNC);
		src.addr.len = mh.msg_namelen;
		if (n >= 0)
			udp_local_addr(&mh, l, &src.local);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("udp recv: %s", strerror(errno));
			return;
		}
		if ((size_t)n > SIP_MSG_MAX_SIZE || n == 0)
			continue; /* truncated or empty: nothing trustworthy to answer */
		/* A lone CRLF is a keep-alive (RFC 5626 §3.5.1 over UDP uses STUN; phones send CRLF). */
		size_t crlf = 0;
		while (crlf < (size_t)n && (tp->dgram[crlf] == '\r' || tp->dgram[crlf] == '\n'))
			crlf++;
		if (crlf == (size_t)n)
			continue;
		tp->rh(&src, tp->dgram, (size_t)n, tp->arg);
	}
}

/* Sends from dst->local's address when we know it (see udp_local_addr). */
static int udp_send(int fd, const struct sip_peer *dst, const void *data, size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)data, len };
	struct msghdr mh = { .msg_name = (void *)(uintptr_t)&dst->addr.u, .msg_namelen = dst->addr.len,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	int af = sa_af(&dst->local);
	if (af == sa_af(&dst->addr) && !sa_is_any(&dst->local)) {
		mh.msg_control = ctl.buf;
		struct cmsghdr *cm = (struct cmsghdr *)(void *)ctl.buf;
		if (af == AF_INET) {
			mh.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
			struct in_pktinfo pi = { .ipi_spec_dst = dst->local.u.in.sin_addr };
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			mh.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			struct in6_pktinfo pi = { .ipi6_addr = dst->local.u.in6.sin6_addr };
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
	}
	return sendmsg(fd, &mh, 0) < 0 ? errno : 0;
}

/* ---- stream connections ---- */

static ssize_t tcp_recv(struct sip_conn *c, void *buf, size_t len)
{
	return recv(c->fd, buf, len, 0);
}

static ssize_t tcp_send(struct sip_conn *c, const void *buf, size_t len)
{
	return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static const struct conn_io tcp_io = { tcp_recv, tcp_send };

static void conn_destroy(void *data)
{
	struct sip_conn *c = data;
	tmr_cancel(&c->idle);
	tmr_cancel(&c->partial);
	sip_tp_tls_detach(c);
	mem_deref(c->wsmsg);
	mem_deref(c->rbuf);
	mem_deref(c->wbuf);
}

const char *sip_tp_conn_name(const struct sip_conn *c, char *buf, size_t sz)
{
	char a[64];
	snprintf(buf, sz, "%s %s", sip_transport_name(c->kind), sa_str(&c->peer, a, sizeof(a)));
	return buf;
}

static void conn_shutdown(struct sip_conn *c)
{
	if (c->fd < 0)
		return;
	char a[80];
	log_debug("%s closed", sip_tp_conn_name(c, a, sizeof(a)));
	tmr_cancel(&c->idle);
	tmr_cancel(&c->partial);
	loop_fd_close(c->tp->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	list_unlink(&c->le);
	list_unlink(&c->hle);
	if (c->tp->ch)
		c->tp->ch(c, c->kind, c->tp->carg);
	mem_deref(c); /* the transport's own reference */
}

void sip_tp_conn_shutdown(struct sip_conn *c)
{
	conn_shutdown(c);
}

void sip_conn_close(struct sip_conn *c)
{
	if (c)
		conn_shutdown(c);
}

bool sip_conn_is_open(const struct sip_conn *c)
{
	return c && c->fd >= 0;
}

/* Closes c, which failed with err while it had something to send, and says so. */
static void conn_fail(struct sip_conn *c, int err)
{
	struct sip_transport *tp = c->tp;
	bool pending = c->connecting || c->wbuf->pos < c->wbuf->end;
	mem_ref(c);
	conn_shutdown(c);
	if (pending && tp->eh) {
		struct sip_peer p = { .tp = c->kind, .addr = c->peer, .local = c->local, .fd = -1, .conn = c };
		tp->eh(&p, err, tp->earg);
	}
	mem_deref(c);
}

static void conn_idle(void *arg)
{
	conn_shutdown(arg);
}

/* A message that began arriving did not finish in time. Any byte resets the idle
 * timer, so this is what stops a message trickled a byte at a time (or a half
 * message followed by silence) from holding the connection and its buffer until
 * the idle timeout. */
static void conn_stalled(void *arg)
{
	struct sip_conn *c = arg;
	char a[80];
	log_info("%s: %s not completed in %u s, closing", sip_tp_conn_name(c, a, sizeof(a)),
		 c->handshaking ? "handshake" : "message", c->tp->conf.tcp_message_s);
	conn_shutdown(c);
}

static void conn_touch(struct sip_conn *c)
{
	tmr_start(loop_timers(c->tp->loop), &c->idle, (uint64_t)c->tp->conf.tcp_idle_s * 1000, conn_idle, c);
}

static int conn_flush(struct sip_conn *c)
{
	while (c->wbuf->pos < c->wbuf->end) {
		ssize_t n = c->io->send(c, c->wbuf->buf + c->wbuf->pos, c->wbuf->end - c->wbuf->pos);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return errno;
		}
		c->wbuf->pos += (size_t)n;
	}
	if (c->wbuf->pos == c->wbuf->end) {
		mbuf_reset(c->wbuf);
		if (c->closing) {
			sip_tp_tls_close_notify(c);
			shutdown(c->fd, SHUT_WR);
		}
	} else if (c->wbuf->pos > c->wbuf->size / 2) {
		/* Drop what was sent so the cap counts only what is still queued. */
		mbuf_shift(c->wbuf, c->wbuf->pos);
	}
	return 0;
}

static void conn_event(int fd, int events, void *arg);

static int conn_watch(struct sip_conn *c)
{
	int ev = LOOP_READ | (c->connecting || c->io_want_write || c->wbuf->pos < c->wbuf->end ? LOOP_WRITE : 0);
	return loop_fd_listen(c->tp->loop, c->fd, ev, conn_event, c);
}

/* Answers RFC 5626 double-CRLF pings and drops single CRLFs between messages. */
static size_t conn_keepalive(struct sip_conn *c, const uint8_t *p, size_t len)
{
	size_t off = 0;
	while (len - off >= 2 && p[off] == '\r' && p[off + 1] == '\n') {
		if (len - off >= 4 && p[off + 2] == '\r' && p[off + 3] == '\n') {
			static const char pong[] = "\r\n";
			mbuf_write_mem(c->wbuf, pong, 2);
			off += 4;
		} else if (len - off == 2) {
			break; /* maybe the first half of a ping */
		} else {
			off += 2;
		}
	}
	return off;
}

/* After a framing error the stream cannot be resynchronised: stop reading, let
 * the answer drain, half-close, and close for good on the peer's EOF or after a
 * short grace. Closing at once with unread input would send a RST that can
 * destroy the answer before the peer reads it. */
static void conn_linger(struct sip_conn *c)
{
	c->closing = true;
	mbuf_reset(c->rbuf);
	tmr_cancel(&c->partial);
	tmr_start(loop_timers(c->tp->loop), &c->idle, 2000, conn_idle, c);
}

void sip_tp_conn_linger(struct sip_conn *c)
{
	conn_linger(c);
}

void sip_tp_conn_deliver(struct sip_conn *c, const char *data, size_t len)
{
	struct sip_peer src = { .tp = c->kind, .addr = c->peer, .local = c->local, .fd = -1, .conn = c };
	c->tp->rh(&src, data, len, c->tp->arg);
}

/* The deadline runs from the first byte of a message (or of the handshake): a
 * message completed cancels it, and the bytes after it start their own. */
void sip_tp_conn_partial(struct sip_conn *c, bool in_progress, bool restart)
{
	if (!in_progress && !c->handshaking)
		tmr_cancel(&c->partial);
	else if (restart || !tmr_active(&c->partial))
		tmr_start(loop_timers(c->tp->loop), &c->partial, (uint64_t)c->tp->conf.tcp_message_s * 1000,
			  conn_stalled, c);
}

/* Frames and hands up every complete message in rbuf. Returns false when the
 * connection closed meanwhile (a handler may close it). */
static bool conn_dispatch(struct sip_conn *c)
{
	if (c->kind == SIP_TP_WS || c->kind == SIP_TP_WSS)
		return sip_tp_ws_dispatch(c);
	struct sip_transport *tp = c->tp;
	size_t off = 0;
	while (c->fd >= 0 && !c->closing && off < c->rbuf->end) {
		off += conn_keepalive(c, c->rbuf->buf + off, c->rbuf->end - off);
		size_t mlen = 0;
		int err = sip_msg_frame((const char *)c->rbuf->buf + off, c->rbuf->end - off, &mlen);
		if (err == EAGAIN)
			break;
		if (err == EMSGSIZE) {
			char a[80];
			log_warn("%s: message over %u bytes, closing", sip_tp_conn_name(c, a, sizeof(a)),
				 (unsigned)SIP_MSG_MAX_SIZE);
			conn_shutdown(c);
			return false;
		}
		struct sip_peer src = { .tp = c->kind, .addr = c->peer, .local = c->local, .fd = -1, .conn = c };
		/* EBADMSG is still answerable: the parser says why, then the stream is lost. */
		tp->rh(&src, (const char *)c->rbuf->buf + off, mlen, tp->arg);
		if (err == EBADMSG) {
			if (c->fd >= 0)
				conn_linger(c);
			break;
		}
		off += mlen;
	}
	if (c->fd < 0)
		return false;
	if (c->closing)
		return true;
	mbuf_shift(c->rbuf, off);
	sip_tp_conn_partial(c, c->rbuf->end > 0, off > 0);
	return true;
}

static void conn_readable(struct sip_conn *c)
{
	/* Handlers may close the connection: hold it until we are done here. */
	mem_ref(c);
	/* Frame after every read, so a burst of pipelined messages is served as it
	 * comes and never counts against the one-message size limit; a bounded
	 * number of reads per wake-up keeps one busy peer from starving the rest. */
	/* TLS may hold the rest of a record it has decrypted: the socket will not
	 * wake us for it, so it is read before leaving. */
	for (int i = 0; (i < 16 || sip_tp_tls_pending(c)) && c->fd >= 0; i++) {
		if (mbuf_reserve(c->rbuf, 4096)) {
			conn_shutdown(c);
			break;
		}
		ssize_t n = c->io->recv(c, c->rbuf->buf + c->rbuf->end, c->rbuf->size - c->rbuf->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* EOF or a reset: what already arrived complete is still served. */
			if (n == 0 && !c->closing)
				conn_dispatch(c);
			conn_shutdown(c);
			break;
		}
		if (c->closing) {
			mbuf_reset(c->rbuf); /* discarded while lingering */
			continue;
		}
		c->rbuf->end += (size_t)n;
		conn_touch(c);
		if (!conn_dispatch(c))
			break;
	}
	if (c->fd >= 0 && (conn_flush(c) || conn_watch(c)))
		conn_shutdown(c);
	mem_deref(c);
}

static void conn_event(int fd, int events, void *arg)
{
	struct sip_conn *c = arg;
	if (c->connecting) {
		/* The connect's outcome: a failure may wake us as readable only
		 * (EPOLLERR/EPOLLHUP), and must still be told as such. */
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			char a[64];
			log_info("tcp connect to %s: %s", sa_str(&c->peer, a, sizeof(a)), strerror(soerr));
			conn_fail(c, soerr);
			return;
		}
		if (!(events & LOOP_WRITE)) {
			/* woken without an error yet not writable: a hang-up */
			conn_fail(c, ECONNRESET);
			return;
		}
		c->connecting = false;
	}
	if ((events & LOOP_WRITE) && c->io_want_write) {
		c->io_want_write = false; /* TLS goes on reading (a handshake) now it can write */
		events |= LOOP_READ;
	}
	if (events & LOOP_WRITE) {
		int err = conn_flush(c);
		if (err) {
			conn_fail(c, err);
			return;
		}
		if (conn_watch(c)) {
			conn_shutdown(c);
			return;
		}
	}
	if (events & LOOP_READ)
		conn_readable(c);
}

/* One "source" for the per-address cap is an IPv4 address or an IPv6 /64: whoever
 * has a /64 has 2^64 addresses, and would otherwise have no cap at all. */
static bool same_source(const struct sa *a, const struct sa *b)
{
	if (sa_af(a) != sa_af(b))
		return false;
	if (sa_af(a) == AF_INET6)
		return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 8) == 0;
	return sa_eq_addr(a, b);
}

static uint32_t source_hash(const struct sa *a)
{
	struct pl key = sa_af(a) == AF_INET6 ? pl_from((const char *)&a->u.in6.sin6_addr, 8)
					     : pl_from((const char *)&a->u.in.sin_addr, 4);
	return pl_hash(&key, 0);
}

static unsigned conns_from(struct sip_transport *tp, const struct sa *addr)
{
	unsigned n = 0;
	LIST_FOREACH(hash_bucket(&tp->by_addr, source_hash(addr)), le) {
		const struct sip_conn *c = le->data;
		if (same_source(&c->peer, addr))
			n++;
	}
	return n;
}

static struct sip_conn *conn_new(struct sip_transport *tp, enum sip_transport_kind kind, int fd,
				 const struct sa *peer, const char *client_name)
{
	struct sip_conn *c = mem_zalloc(sizeof(*c), conn_destroy);
	if (!c)
		return NULL;
	c->tp = tp;
	c->kind = kind;
	c->fd = fd;
	c->io = &tcp_io;
	c->peer = *peer;
	c->local.len = sizeof(c->local.u);
	getsockname(fd, &c->local.u.sa, &c->local.len);
	c->rbuf = mbuf_alloc(4096, RBUF_MAX);
	c->wbuf = mbuf_alloc(0, WBUF_MAX);
	c->handshaking = kind != SIP_TP_TCP;
	c->client = client_name != NULL;
	bool tls = kind == SIP_TP_TLS || kind == SIP_TP_WSS;
	if (!c->rbuf || !c->wbuf ||
	    (tls && (client_name ? sip_tp_tls_attach_client(c, client_name) : sip_tp_tls_attach(c)))) {
		c->fd = -1;
		return mem_deref(c);
	}
	list_append(&tp->conns, &c->le, c);
	hash_insert(&tp->by_addr, source_hash(peer), &c->hle, c);
	return c;
}

/* Errors accept(2) returns for one connection that failed before we took it
 * (Linux passes pending network errors up): the listener itself is fine. */
static bool accept_err_is_transient(int e)
{
	switch (e) {
	case EINTR: case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN: case ENOPROTOOPT:
	case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH: case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

static void tcp_acceptable(int fd, int events, void *arg);

/* The spare-descriptor trick. Out of descriptors, accept leaves the connection
 * at the head of the backlog in place: its handshake is done, so the peer would
 * wait, unanswered, for its own timeout. Giving up the spare lets us take such
 * connections and close them at once, so their peers see a close they can act
 * on (retry later, try another server). A bounded batch per rest keeps it cheap. */
static unsigned listener_shed(struct listener *l)
{
	struct sip_transport *tp = l->tp;
	if (tp->spare_fd < 0)
		return 0;
	close(tp->spare_fd);
	unsigned n = 0;
	for (int cfd; n < ACCEPT_BATCH && (cfd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0; n++)
		close(cfd);
	/* Another thread may take the freed slot first; the next resume retries. */
	tp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return n;
}

static void listener_resume(void *arg);

/* Accept failed for a reason that will not go away by itself at once (no
 * descriptors, no memory): the listener stays readable, so polling it would spin
 * the loop and repeat the error as fast as the CPU goes (issue 17). Stop watching
 * it and look again after a rest that doubles while the failure lasts. */
static void listener_pause(struct listener *l, int err)
{
	struct sip_transport *tp = l->tp;
	loop_fd_close(tp->loop, l->fd);
	unsigned shed = err == EMFILE || err == ENFILE ? listener_shed(l) : 0;
	l->backoff_ms = !l->backoff_ms ? BACKOFF_FIRST_MS
		      : l->backoff_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : l->backoff_ms * 2;
	tmr_start(loop_timers(tp->loop), &l->retry, l->backoff_ms, listener_resume, l);
	char a[64];
	log_warn("tcp accept on %s: %s; %u connection(s) closed unserved, retrying in %u ms",
		 sa_str(&l->addr, a, sizeof(a)), strerror(err), shed, l->backoff_ms);
}

static void listener_resume(void *arg)
{
	struct listener *l = arg;
	if (l->tp->spare_fd < 0)
		l->tp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int err = loop_fd_listen(l->tp->loop, l->fd, LOOP_READ, tcp_acceptable, l);
	if (err)
		listener_pause(l, err);
}

static void tcp_acceptable(int fd, int events, void *arg)
{
	struct listener *l = arg;
	struct sip_transport *tp = l->tp;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sa peer;
		peer.len = sizeof(peer.u);
		int cfd = accept4(fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (accept_err_is_transient(errno))
				continue;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything unforeseen: rest. */
			listener_pause(l, errno);
			return;
		}
		l->backoff_ms = 0;
		char a[80];
		if (tp->conns.n >= tp->conf.tcp_max_conns ||
		    conns_from(tp, &peer) >= tp->conf.tcp_max_conns_per_ip) {
			log_warn("%s %s refused: connection limit", sip_transport_name(l->kind),
				 sa_str(&peer, a, sizeof(a)));
			close(cfd);
			continue;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct sip_conn *c = conn_new(tp, l->kind, cfd, &peer, NULL);
		if (!c) {
			close(cfd);
			continue;
		}
		if (conn_watch(c)) {
			conn_shutdown(c);
			continue;
		}
		conn_touch(c);
		sip_tp_conn_partial(c, c->handshaking, true); /* the handshake has a deadline too */
		log_debug("%s accepted", sip_tp_conn_name(c, a, sizeof(a)));
	}
}

static const char *tls_name_of(const struct sip_transport *tp, const struct sa *addr);

static struct sip_conn *conn_connect(struct sip_transport *tp, enum sip_transport_kind kind, const struct sa *peer,
				     const char *name)
{
	int fd = socket(peer->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, &peer->u.sa, peer->len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	struct sip_conn *c = conn_new(tp, kind, fd, peer, name ? name : "");
	if (!c) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	c->connecting = true;
	if (conn_watch(c)) {
		conn_shutdown(c);
		return NULL;
	}
	conn_touch(c);
	if (c->handshaking)
		sip_tp_conn_partial(c, true, true); /* the handshake has its deadline */
	return c;
}

/* Reuses an open connection to the same peer before opening a new one. */
static struct sip_conn *conn_find(struct sip_transport *tp, enum sip_transport_kind kind, const struct sa *peer)
{
	LIST_FOREACH(hash_bucket(&tp->by_addr, source_hash(peer)), le) {
		struct sip_conn *c = le->data;
		if (c->kind == kind && sa_eq(&c->peer, peer))
			return c;
	}
	return NULL;
}

static int conn_send(struct sip_conn *c, const void *data, size_t len)
{
	/* Nothing of SIP before the TLS or WebSocket handshake is done; as a TLS
	 * client, it waits queued (writing drives the handshake). */
	if (c->handshaking && !c->connecting && !c->client)
		return ENOTCONN;
	int err = c->kind == SIP_TP_WS || c->kind == SIP_TP_WSS ? sip_tp_ws_send(c, data, len)
								: mbuf_write_mem(c->wbuf, data, len);
	if (err)
		return err;
	if (c->connecting)
		return 0;
	if (!c->closing)
		conn_touch(c); /* a connection we send on is in use, not idle */
	err = conn_flush(c);
	if (!err)
		err = conn_watch(c);
	return err;
}

/* ---- setup and sending ---- */

int sip_transport_listen(struct sip_transport *tp, enum sip_transport_kind kind, const struct sa *addr)
{
	if (tp->nlst >= SIP_TP_MAX_LISTENERS)
		return ENOSPC;
	if (kind >= SIP_TP_COUNT)
		return ENOTSUP;
	if ((kind == SIP_TP_TLS || kind == SIP_TP_WSS) && !tp->tls)
		return ENOKEY; /* sip_transport_tls_load first */
	int fd = socket(addr->u.sa.sa_family, (kind == SIP_TP_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1, err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->u.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (kind == SIP_TP_UDP) {
		int sz = 4 * 1024 * 1024;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (addr->u.sa.sa_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		else
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	}
	if (bind(fd, &addr->u.sa, addr->len) < 0 || (kind != SIP_TP_UDP && listen(fd, 1024) < 0) ||
	    (err = set_nonblock(fd)) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	struct listener *l = &tp->lst[tp->nlst];
	l->tp = tp;
	l->kind = kind;
	l->fd = fd;
	l->addr.len = sizeof(l->addr.u);
	getsockname(fd, &l->addr.u.sa, &l->addr.len);
	err = loop_fd_listen(tp->loop, fd, LOOP_READ, kind == SIP_TP_UDP ? udp_readable : tcp_acceptable, l);
	if (err) {
		close(fd);
		return err;
	}
	tp->nlst++;
	char a[64];
	log_info("SIP %s listening on %s", sip_transport_name(kind), sa_str(&l->addr, a, sizeof(a)));
	return 0;
}

int sip_transport_send(struct sip_transport *tp, const struct sip_peer *dst, const void *data, size_t len)
{
	if (dst->tp == SIP_TP_UDP) {
		int fd = dst->fd;
		for (size_t i = 0; fd < 0 && i < tp->nlst; i++) {
			if (tp->lst[i].kind == SIP_TP_UDP && sa_af(&tp->lst[i].addr) == sa_af(&dst->addr))
				fd = tp->lst[i].fd;
		}
		if (fd < 0)
			return ENOTCONN;
		return udp_send(fd, dst, data, len);
	}
	if (dst->tp >= SIP_TP_COUNT)
		return ENOTSUP;
	struct sa addr = dst->addr;
	if (dst->conn && !sip_conn_is_open(dst->conn) && dst->reconnect_port)
		sa_set_port(&addr, dst->reconnect_port);
	struct sip_conn *c = sip_conn_is_open(dst->conn) ? dst->conn : conn_find(tp, dst->tp, &addr);
	/* pbxd opens TCP, and TLS to the peers it was given a name for (trunks): a
	 * phone on TLS or a WebSocket is reached over the connection it opened (its
	 * registration's flow), or not at all. */
	const char *name = !c && dst->tp == SIP_TP_TLS && !dst->conn ? tls_name_of(tp, &addr) : NULL;
	if (!c && dst->tp != SIP_TP_TCP && !name)
		return ENOTCONN;
	if (!c) {
		errno = 0;
		c = conn_connect(tp, dst->tp, &addr, name);
		if (!c)
			return errno ? errno : ENOTCONN;
	}
	int err = conn_send(c, data, len);
	if (err)
		conn_shutdown(c);
	return err;
}

int sip_transport_laddr(const struct sip_transport *tp, enum sip_transport_kind kind, int af, struct sa *out)
{
	for (size_t i = 0; i < tp->nlst; i++) {
		if (tp->lst[i].kind == kind && (!af || sa_af(&tp->lst[i].addr) == af)) {
			*out = tp->lst[i].addr;
			return 0;
		}
	}
	return ENOENT;
}

unsigned sip_transport_conn_count(const struct sip_transport *tp)
{
	return (unsigned)tp->conns.n;
}

int sip_transport_alloc(struct sip_transport **tpp, struct loop *loop, const struct sip_tp_conf *conf,
			sip_tp_recv_h *rh, void *arg)
{
	struct sip_transport *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return ENOMEM;
	if (hash_init(&tp->by_addr, 1024)) {
		free(tp);
		return ENOMEM;
	}
	tp->loop = loop;
	tp->conf = *conf;
	if (!tp->conf.tcp_message_s)
		tp->conf.tcp_message_s = SIP_TP_MESSAGE_S;
	tp->conf.tcp_max_conns = fdlimit_share(FDLIMIT_SIP_TCP, conf->tcp_max_conns);
	if (tp->conf.tcp_max_conns < conf->tcp_max_conns)
		log_warn("SIP TCP connections capped at %u, not %u (--sip-tcp-max-connections): the descriptor "
			 "limit is %u, and the database, REST API, files and media need their share",
			 tp->conf.tcp_max_conns, conf->tcp_max_conns, fdlimit_current());
	tp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	tp->rh = rh;
	tp->arg = arg;
	*tpp = tp;
	return 0;
}

void sip_transport_err_handler_set(struct sip_transport *tp, sip_tp_err_h *h, void *arg)
{
	tp->eh = h;
	tp->earg = arg;
}

void sip_transport_close_handler_set(struct sip_transport *tp, sip_tp_close_h *h, void *arg)
{
	tp->ch = h;
	tp->carg = arg;
}

void sip_transport_configure(struct sip_transport *tp, const struct conf *conf)
{
	tp->conf.tcp_message_s = (unsigned)conf_int(conf, "sip-tcp-message-timeout");
	tp->tls_verify = conf_bool(conf, "sip-tls-verify");
	snprintf(tp->tls_ca_file, sizeof(tp->tls_ca_file), "%s", conf_str(conf, "sip-tls-ca-file"));
}

int sip_transport_tls_name(struct sip_transport *tp, const struct sa *addr, const char *name)
{
	for (size_t i = 0; i < tp->ntls_names; i++) {
		if (!sa_eq(&tp->tls_names[i].addr, addr))
			continue;
		if (name) {
			snprintf(tp->tls_names[i].name, sizeof(tp->tls_names[i].name), "%s", name);
		} else {
			tp->tls_names[i] = tp->tls_names[--tp->ntls_names];
		}
		return 0;
	}
	if (!name)
		return 0;
	struct tls_name *v = realloc(tp->tls_names, (tp->ntls_names + 1) * sizeof(*v));
	if (!v)
		return ENOMEM;
	tp->tls_names = v;
	v[tp->ntls_names].addr = *addr;
	snprintf(v[tp->ntls_names].name, sizeof(v[tp->ntls_names].name), "%s", name);
	tp->ntls_names++;
	return 0;
}

static const char *tls_name_of(const struct sip_transport *tp, const struct sa *addr)
{
	for (size_t i = 0; i < tp->ntls_names; i++) {
		if (sa_eq(&tp->tls_names[i].addr, addr))
			return tp->tls_names[i].name;
	}
	return NULL;
}

void sip_transport_free(struct sip_transport *tp)
{
	if (!tp)
		return;
	while (tp->conns.head)
		conn_shutdown(tp->conns.head->data);
	for (size_t i = 0; i < tp->nlst; i++) {
		tmr_cancel(&tp->lst[i].retry);
		loop_fd_close(tp->loop, tp->lst[i].fd);
		close(tp->lst[i].fd);
	}
	if (tp->spare_fd >= 0)
		close(tp->spare_fd);
	sip_tp_tls_free_ctx(tp);
	free(tp->tls_names);
	hash_close(&tp->by_addr);
	free(tp);
}
