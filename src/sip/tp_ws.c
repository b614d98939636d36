/* SIP over WebSocket (RFC 7118) on a TCP or TLS connection: the HTTP upgrade
 * (RFC 6455 §4.2, sub-protocol "sip", any path), then one SIP message per
 * WebSocket message, text or binary, fragmented or not. Client frames must be
 * masked; pings are answered, a close is echoed; a protocol error closes with
 * 1002, a message over SIP_MSG_MAX_SIZE with 1009. pbxd sends unfragmented
 * text frames. A message of CRLFs alone is a keep-alive (SIP.js sends
 * "\r\n\r\n" and waits for "\r\n", as RFC 5626 does over TCP). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/ws.h"
#include "sip/transport_int.h"

/* --- the upgrade --------------------------------------------------------------------- */

/* Answers an upgrade that cannot be, says why in the body, and closes. */
static void refuse(struct sip_conn *c, int status, const char *reason, const char *extra, const char *why)
{
	char a[80];
	log_info("%s: WebSocket upgrade refused (%d): %s", sip_tp_conn_name(c, a, sizeof(a)), status, why);
	mbuf_printf(c->wbuf, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
			     "Connection: close\r\n%s\r\n%s\n", status, reason, strlen(why) + 1, extra ? extra : "", why);
	sip_tp_conn_linger(c);
}

/* Reads the upgrade request from rbuf; returns its length once answered 101,
 * 0 while it is incomplete, -1 when it was refused. */
static long upgrade(struct sip_conn *c)
{
	struct ws_upgrade u;
	int status = ws_upgrade_check((const char *)c->rbuf->buf, c->rbuf->end, "sip", &u);
	if (status == 0)
		return 0;
	if (status != 101) {
		refuse(c, status, u.reason, u.extra, u.why);
		return -1;
	}
	mbuf_printf(c->wbuf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: sip\r\n\r\n", u.accept);
	c->handshaking = false;
	char a[80];
	log_debug("%s: WebSocket open", sip_tp_conn_name(c, a, sizeof(a)));
	return (long)u.head_len;
}

/* --- frames ------------------------------------------------------------------------- */

static int queue_frame(struct sip_conn *c, enum ws_opcode op, const void *p1, size_t l1, const void *p2, size_t l2)
{
	uint8_t hdr[10];
	size_t hl = ws_frame_header(hdr, op, l1 + l2);
	/* All of the frame or none of it: half a frame would corrupt the stream. */
	if (c->wbuf->max - c->wbuf->end < hl + l1 + l2)
		return ENOBUFS;
	int err = mbuf_write_mem(c->wbuf, hdr, hl);
	if (!err && l1)
		err = mbuf_write_mem(c->wbuf, p1, l1);
	if (!err && l2)
		err = mbuf_write_mem(c->wbuf, p2, l2);
	return err;
}

static void close_with(struct sip_conn *c, uint16_t code, const char *why)
{
	uint8_t cb[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	char a[80];
	log_info("%s: WebSocket closed (%u): %s", sip_tp_conn_name(c, a, sizeof(a)), code, why);
	queue_frame(c, WS_CLOSE, cb, 2, why, strlen(why));
	sip_tp_conn_linger(c);
}

int sip_tp_ws_send(struct sip_conn *c, const void *data, size_t len)
{
	return queue_frame(c, WS_TEXT, data, len, NULL, 0);
}

/* A whole message: SIP, or a keep-alive of CRLFs. */
static void message(struct sip_conn *c, const uint8_t *p, size_t len)
{
	size_t crlf = 0;
	while (crlf < len && (p[crlf] == '\r' || p[crlf] == '\n'))
		crlf++;
	if (crlf == len) {
		if (len >= 4)
			queue_frame(c, WS_TEXT, "\r\n", 2, NULL, 0);
		return;
	}
	sip_tp_conn_deliver(c, (const char *)p, len);
}

/* One frame; false when the connection is closing or closed after it. */
static bool frame(struct sip_conn *c, struct ws_frame *f, bool *delivered)
{
	switch (f->op) {
	case WS_PING:
		queue_frame(c, WS_PONG, f->payload, f->len, NULL, 0);
		return true;
	case WS_PONG:
		return true;
	case WS_CLOSE: {
		char a[80];
		log_debug("%s: WebSocket close received", sip_tp_conn_name(c, a, sizeof(a)));
		if (f->len == 1) {
			close_with(c, WS_CLOSE_PROTOCOL, "a close frame of one byte");
			return false;
		}
		/* Echoed (§5.5.1), code and all, then the TCP side closes. */
		queue_frame(c, WS_CLOSE, f->payload, f->len >= 2 ? 2 : 0, NULL, 0);
		sip_tp_conn_linger(c);
		return false;
	}
	case WS_TEXT:
	case WS_BINARY:
		if (c->wsop) {
			close_with(c, WS_CLOSE_PROTOCOL, "a new message inside a fragmented one");
			return false;
		}
		if (f->fin) {
			*delivered = true;
			message(c, f->payload, f->len);
			return c->fd >= 0 && !c->closing;
		}
		c->wsop = (uint8_t)f->op;
		break;
	case WS_CONT:
		if (!c->wsop) {
			close_with(c, WS_CLOSE_PROTOCOL, "a continuation with no message begun");
			return false;
		}
		break;
	}
	if (!c->wsmsg && !(c->wsmsg = mbuf_alloc(f->len, SIP_MSG_MAX_SIZE))) {
		close_with(c, WS_CLOSE_OVERLOAD, "out of memory");
		return false;
	}
	if (mbuf_write_mem(c->wsmsg, f->payload, f->len)) {
		close_with(c, WS_CLOSE_TOO_BIG, "a message over 65535 bytes");
		return false;
	}
	if (!f->fin)
		return true;
	c->wsop = 0;
	*delivered = true;
	struct mbuf *m = c->wsmsg;
	c->wsmsg = NULL; /* a handler may close c: the message is ours until handed up */
	message(c, m->buf, m->end);
	mem_deref(m);
	return c->fd >= 0 && !c->closing;
}

bool sip_tp_ws_dispatch(struct sip_conn *c)
{
	size_t off = 0;
	bool restart = false;
	if (c->handshaking) {
		long hl = upgrade(c);
		if (hl <= 0)
			return c->fd >= 0;
		off = (size_t)hl;
		restart = true;
	}
	while (c->fd >= 0 && !c->closing && off < c->rbuf->end) {
		struct ws_frame f;
		int err = ws_frame_parse(c->rbuf->buf + off, c->rbuf->end - off, SIP_MSG_MAX_SIZE, &f);
		if (err == EAGAIN)
			break;
		if (err) {
			close_with(c, err == EMSGSIZE ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL,
				   err == EMSGSIZE ? "a frame over 65535 bytes"
						   : "not a valid client frame (masked, known opcode, no extension)");
			break;
		}
		off += f.size;
		if (!frame(c, &f, &restart))
			break;
	}
	if (c->fd < 0)
		return false;
	if (c->closing)
		return true;
	mbuf_shift(c->rbuf, off);
	sip_tp_conn_partial(c, c->rbuf->end > 0 || c->wsop, restart);
	return true;
}
