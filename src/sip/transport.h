/* SIP transports (RFC 3261 §18): UDP sockets and TCP listeners/connections with
 * Content-Length framing, RFC 5626 CRLF keep-alives, idle time-outs and a cap of
 * connections per source address. The transport frames bytes into messages and
 * hands them up; it never parses SIP. Stream kinds share one connection type with
 * a byte-layer hook, which is where TLS and WebSocket plug in. */
#ifndef SIP_TRANSPORT_H
#define SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"
#include "core/sa.h"
#include "sip/msg.h"

struct sip_transport;

struct sip_tp_conf {
	unsigned tcp_max_conns;        /* all connections */
	unsigned tcp_max_conns_per_ip; /* from one source address */
	unsigned tcp_idle_s;           /* close after this long without traffic */
};

/* One framed message. src->conn is borrowed: take a reference to keep it. */
typedef void (sip_tp_recv_h)(const struct sip_peer *src, const char *data, size_t len, void *arg);

int sip_transport_alloc(struct sip_transport **tpp, struct loop *loop, const struct sip_tp_conf *conf,
			sip_tp_recv_h *rh, void *arg);
void sip_transport_free(struct sip_transport *tp);
int sip_transport_listen(struct sip_transport *tp, enum sip_transport_kind kind, const struct sa *addr);
/* Sends bytes to dst: UDP from the socket dst->fd (or any of dst's family); a
 * stream over dst->conn while it is open, else over a new connection to dst->addr. */
int sip_transport_send(struct sip_transport *tp, const struct sip_peer *dst, const void *data, size_t len);
/* Closes a stream connection (e.g. after answering a framing error). */
void sip_conn_close(struct sip_conn *c);
bool sip_conn_is_open(const struct sip_conn *c);
/* A listening address of kind/af, for Via sent-by and Contact; 0 or ENOENT. */
int sip_transport_laddr(const struct sip_transport *tp, enum sip_transport_kind kind, int af, struct sa *out);
unsigned sip_transport_conn_count(const struct sip_transport *tp);
const char *sip_transport_name(enum sip_transport_kind kind);

#endif
