/* SIP transports (RFC 3261 §18): UDP sockets; TCP and TLS (§26) connections with
 * Content-Length framing; WebSocket and secure WebSocket (RFC 7118), one SIP
 * message per WebSocket message. RFC 5626 CRLF keep-alives, idle time-outs, a
 * deadline for each message (and each TLS handshake or WebSocket upgrade) to
 * arrive whole, and caps of connections in all (clamped to the descriptor
 * budget, core/fdlimit.h) and per source address, shared by every stream kind. A
 * listener that cannot accept for want of descriptors or memory rests and
 * retries with a growing back-off rather than spinning. The transport frames
 * bytes into messages and hands them up; it never parses SIP. pbxd opens TCP
 * connections, and TLS ones to peers it was told the name of (SIP trunks,
 * sip_transport_tls_name); phones on TLS and WebSocket are reached over the
 * connections they opened. */
#ifndef SIP_TRANSPORT_H
#define SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conf.h"
#include "core/loop.h"
#include "core/sa.h"
#include "sip/msg.h"

struct sip_transport;

struct sip_tp_conf {
	unsigned tcp_max_conns;        /* all connections */
	unsigned tcp_max_conns_per_ip; /* from one source address */
	unsigned tcp_idle_s;           /* close after this long without traffic */
	unsigned tcp_message_s;        /* a message must arrive whole this long after its
					* first byte (0: SIP_TP_MESSAGE_S) */
};

enum { SIP_TP_MESSAGE_S = 30 };

/* Options of the transport beyond those the stack passes in sip_tp_conf. */
extern const struct conf_opt sip_transport_opts[];
extern const size_t sip_transport_opts_count;

/* One framed message. src->conn is borrowed: take a reference to keep it. */
typedef void (sip_tp_recv_h)(const struct sip_peer *src, const char *data, size_t len, void *arg);

/* A stream connection failed before what was queued on it could go: the
 * non-blocking connect completed with err (ECONNREFUSED, EHOSTUNREACH,
 * ETIMEDOUT...), or a write failed. p names it (kind, the peer address it was
 * opened to, and conn, already closed and valid only during the call). Sending
 * from the handler opens a new connection. */
typedef void (sip_tp_err_h)(const struct sip_peer *p, int err, void *arg);

/* A stream connection closed (for whatever reason, at either end); c is valid
 * during the call only (compare it, do not keep it). */
typedef void (sip_tp_close_h)(const struct sip_conn *c, enum sip_transport_kind kind, void *arg);

/* Not reference counted: free with sip_transport_free(). */
int sip_transport_alloc(struct sip_transport **tpp, struct loop *loop, const struct sip_tp_conf *conf,
			sip_tp_recv_h *rh, void *arg);
void sip_transport_free(struct sip_transport *tp);
void sip_transport_err_handler_set(struct sip_transport *tp, sip_tp_err_h *h, void *arg);
/* One observer of closing connections (the location service ends the bindings
 * of a flow nothing can reach any more); NULL to stop. */
void sip_transport_close_handler_set(struct sip_transport *tp, sip_tp_close_h *h, void *arg);
/* Applies sip_transport_opts from conf; call before the loop runs. */
void sip_transport_configure(struct sip_transport *tp, const struct conf *conf);
/* TLS and WSS listeners need a certificate first: ENOKEY without one. */
int sip_transport_listen(struct sip_transport *tp, enum sip_transport_kind kind, const struct sa *addr);
/* Loads the certificate (chain) and key PEM files for TLS and WSS. Called
 * again, later handshakes use the new pair and open connections keep theirs;
 * on failure (EINVAL, err says why) the pair in use stays. */
int sip_transport_tls_load(struct sip_transport *tp, const char *cert_path, const char *key_path, char *err,
			   size_t errsz);
/* Sends bytes to dst: UDP from the socket dst->fd (or any of dst's family); a
 * stream over dst->conn while it is open, else over a new connection to dst->addr.
 * A connect that fails at once returns its error (ENOTCONN when no socket could
 * be had); one that fails later is told to the error handler. */
int sip_transport_send(struct sip_transport *tp, const struct sip_peer *dst, const void *data, size_t len);
/* The name a TLS peer at addr (its port included) is known by: the server
 * name sent (SNI) and the one its certificate must carry. pbxd opens TLS
 * connections only to the addresses named here (a phone's closed flow is not
 * reopened). name NULL forgets addr. 0 or ENOMEM. */
int sip_transport_tls_name(struct sip_transport *tp, const struct sa *addr, const char *name);
/* Closes a stream connection (e.g. after answering a framing error). */
void sip_conn_close(struct sip_conn *c);
bool sip_conn_is_open(const struct sip_conn *c);
/* A listening address of kind/af, for Via sent-by and Contact; 0 or ENOENT. */
int sip_transport_laddr(const struct sip_transport *tp, enum sip_transport_kind kind, int af, struct sa *out);
unsigned sip_transport_conn_count(const struct sip_transport *tp);
const char *sip_transport_name(enum sip_transport_kind kind);
/* The transport= URI parameter for kind: udp, tcp, tls, ws (WSS too: RFC 7118 §5.2). */
const char *sip_transport_uri_param(enum sip_transport_kind kind);

#endif
