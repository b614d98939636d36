/* Inside the SIP transport: the connection and transport types that
 * transport.c (sockets, framing by Content-Length, limits), tp_tls.c (the TLS
 * byte layer) and tp_ws.c (WebSocket upgrade and framing) share. Nothing
 * outside src/sip/transport*.c and tp_*.c includes this. */
#ifndef SIP_TRANSPORT_INT_H
#define SIP_TRANSPORT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/hash.h"
#include "core/list.h"
#include "core/mbuf.h"
#include "core/timer.h"
#include "sip/transport.h"

enum { SIP_TP_MAX_LISTENERS = 16 };

struct listener {
	struct sip_transport *tp;
	enum sip_transport_kind kind;
	struct sa addr;
	int fd;
	struct tmr retry;     /* re-enables accepting after a resource failure */
	unsigned backoff_ms;  /* the last rest, 0 after an accept succeeds */
};

/* The byte layer of a stream connection: plain TCP calls recv/send, TLS goes
 * through OpenSSL. Framing (Content-Length, or WebSocket frames), limits and
 * keep-alives above it are shared. Both return bytes moved, or -1 with errno
 * (EAGAIN when it would block); recv returns 0 at the peer's end. */
struct conn_io {
	ssize_t (*recv)(struct sip_conn *c, void *buf, size_t len);
	ssize_t (*send)(struct sip_conn *c, const void *buf, size_t len);
};

struct ssl_st;
struct ssl_ctx_st;

struct sip_conn {
	struct le le;   /* all connections */
	struct le hle;  /* by source address, for the per-address cap */
	struct sip_transport *tp;
	enum sip_transport_kind kind;
	struct sa peer, local;
	int fd;         /* -1 once closed */
	const struct conn_io *io;
	bool connecting;
	bool closing;   /* lingering after a framing error or a close */
	/* The TLS handshake or the WebSocket upgrade is not done: nothing SIP can
	 * go yet, and the partial timer bounds how long it may take. */
	bool handshaking;
	bool io_want_write; /* TLS must write before it can read on */
	bool client;        /* we opened it (TLS: pbxd is the TLS client) */
	struct ssl_st *ssl;
	/* WebSocket: a fragmented message being put together, and its opcode. */
	struct mbuf *wsmsg;
	uint8_t wsop;
	struct mbuf *rbuf, *wbuf;
	struct tmr idle;
	struct tmr partial;     /* armed while rbuf holds part of a message */
};

struct sip_transport {
	struct loop *loop;
	struct sip_tp_conf conf;
	sip_tp_recv_h *rh;
	void *arg;
	sip_tp_err_h *eh;
	void *earg;
	sip_tp_close_h *ch;
	void *carg;
	struct listener lst[SIP_TP_MAX_LISTENERS];
	size_t nlst;
	struct list conns;
	struct hash by_addr;
	int spare_fd;           /* /dev/null, given up to shed a connection at EMFILE */
	struct ssl_ctx_st *tls; /* for TLS and WSS: the current certificate */
	/* pbxd as a TLS client (SIP trunks): peers' certificates checked against
	 * the system's CAs or --sip-tls-ca-file, the name each address is known by. */
	struct ssl_ctx_st *tls_client;
	bool tls_verify;
	char tls_ca_file[512];
	struct tls_name {
		struct sa addr;
		char name[254];
	} *tls_names;
	size_t ntls_names;
	char dgram[SIP_MSG_MAX_SIZE + 1];
};

/* transport.c */
void sip_tp_conn_shutdown(struct sip_conn *c);
/* Stops reading after an error or a close, lets what is queued drain, then
 * half-closes; the connection ends at the peer's EOF or after a short grace. */
void sip_tp_conn_linger(struct sip_conn *c);
/* Arms (or cancels) the deadline of a message in progress after a read. */
void sip_tp_conn_partial(struct sip_conn *c, bool in_progress, bool restart);
/* Hands one framed message up, as received on c. */
void sip_tp_conn_deliver(struct sip_conn *c, const char *data, size_t len);
const char *sip_tp_conn_name(const struct sip_conn *c, char *buf, size_t sz);

/* tp_tls.c: the TLS byte layer, on the transport's current context. */
extern const struct conn_io sip_tp_tls_io;
int sip_tp_tls_attach(struct sip_conn *c);
/* The client side, to name (a host name or an address) whose certificate must
 * be for it (unless verification is off). */
int sip_tp_tls_attach_client(struct sip_conn *c, const char *name);
void sip_tp_tls_detach(struct sip_conn *c);
/* Sends close_notify (without waiting for the peer's) before a half-close. */
void sip_tp_tls_close_notify(struct sip_conn *c);
bool sip_tp_tls_pending(const struct sip_conn *c);
void sip_tp_tls_free_ctx(struct sip_transport *tp);

/* tp_ws.c: the WebSocket upgrade and frames (RFC 6455, RFC 7118). */
/* Serves what rbuf holds; false when the connection closed meanwhile. */
bool sip_tp_ws_dispatch(struct sip_conn *c);
/* Queues one SIP message as a text frame. */
int sip_tp_ws_send(struct sip_conn *c, const void *data, size_t len);

#endif
