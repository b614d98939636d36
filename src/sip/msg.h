/* A parsed SIP message (RFC 3261 §7). The message owns one copy of the received
 * bytes; the header index and every decoded field are slices into that copy, so
 * parsing never copies a header. The fields every transaction needs (top Via,
 * From, To, Call-ID, CSeq, Max-Forwards, Content-Length) are decoded at parse
 * time; the rest is decoded on demand by the sip_hdr_* helpers. */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"
#include "core/sa.h"
#include "sip/uri.h"

/* Limits on what is read from the network. */
enum {
	SIP_MSG_MAX_SIZE = 65535,
	SIP_MSG_MAX_HDRS = 256,
	SIP_MSG_MAX_VIAS = 72, /* hops: 70 is the usual Max-Forwards */
};

enum sip_method {
	SIP_METHOD_OTHER = 0,
	SIP_INVITE, SIP_ACK, SIP_BYE, SIP_CANCEL, SIP_OPTIONS, SIP_REGISTER, SIP_PRACK,
	SIP_SUBSCRIBE, SIP_NOTIFY, SIP_PUBLISH, SIP_INFO, SIP_REFER, SIP_MESSAGE, SIP_UPDATE,
	SIP_METHOD_COUNT
};

enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_ACCEPT, SIP_HDR_ACCEPT_CONTACT, SIP_HDR_ACCEPT_ENCODING, SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALERT_INFO, SIP_HDR_ALLOW, SIP_HDR_ALLOW_EVENTS, SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_AUTHORIZATION, SIP_HDR_CALL_ID, SIP_HDR_CALL_INFO, SIP_HDR_CONTACT,
	SIP_HDR_CONTENT_DISPOSITION, SIP_HDR_CONTENT_ENCODING, SIP_HDR_CONTENT_LANGUAGE,
	SIP_HDR_CONTENT_LENGTH, SIP_HDR_CONTENT_TYPE, SIP_HDR_CSEQ, SIP_HDR_DATE, SIP_HDR_EVENT,
	SIP_HDR_EXPIRES, SIP_HDR_FROM, SIP_HDR_IDENTITY, SIP_HDR_IN_REPLY_TO, SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIN_EXPIRES, SIP_HDR_MIN_SE, SIP_HDR_MIME_VERSION, SIP_HDR_ORGANIZATION, SIP_HDR_PATH,
	SIP_HDR_P_ASSERTED_IDENTITY, SIP_HDR_P_PREFERRED_IDENTITY, SIP_HDR_PRIORITY, SIP_HDR_PRIVACY,
	SIP_HDR_PROXY_AUTHENTICATE, SIP_HDR_PROXY_AUTHORIZATION, SIP_HDR_PROXY_REQUIRE, SIP_HDR_RACK,
	SIP_HDR_REASON, SIP_HDR_RECORD_ROUTE, SIP_HDR_REFER_TO, SIP_HDR_REFERRED_BY,
	SIP_HDR_REJECT_CONTACT, SIP_HDR_REPLACES, SIP_HDR_REPLY_TO, SIP_HDR_REQUEST_DISPOSITION,
	SIP_HDR_REQUIRE, SIP_HDR_RETRY_AFTER, SIP_HDR_ROUTE, SIP_HDR_RSEQ, SIP_HDR_SERVER,
	SIP_HDR_SESSION_EXPIRES, SIP_HDR_SUBJECT, SIP_HDR_SUBSCRIPTION_STATE, SIP_HDR_SUPPORTED,
	SIP_HDR_TIMESTAMP, SIP_HDR_TO, SIP_HDR_UNSUPPORTED, SIP_HDR_USER_AGENT, SIP_HDR_VIA,
	SIP_HDR_WARNING, SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_COUNT
};

struct sip_hdr {
	struct pl name;  /* as received (may be a compact form) */
	struct pl val;   /* trimmed; may contain folded line breaks, which count as LWS */
	enum sip_hdr_id id;
};

struct sip_via {
	struct pl transport; /* "UDP", "TCP", ... */
	struct pl sentby;    /* host[:port] as written */
	struct pl host;      /* IPv6 without brackets */
	int af;
	uint16_t port;       /* 0 when absent */
	struct pl params;
	struct pl branch;
	struct pl received;
	struct pl rport;     /* value, empty when ";rport" has none */
	bool has_rport;
	struct pl maddr;
	struct pl val;       /* the whole value, for copying into responses */
};

struct sip_addr {
	struct pl dname;  /* display name, quotes kept */
	struct pl auri;   /* the URI text */
	struct sip_uri uri;
	struct pl params; /* header parameters after the URI */
	struct pl tag;
	bool star;        /* Contact: * */
};

struct sip_cseq {
	uint32_t num;
	struct pl method;
	enum sip_method mid;
};

enum sip_transport_kind { SIP_TP_UDP = 0, SIP_TP_TCP, SIP_TP_TLS, SIP_TP_WS, SIP_TP_WSS, SIP_TP_COUNT };

struct sip_conn;

/* Where a message came from and on what: what responses are routed by. */
struct sip_peer {
	enum sip_transport_kind tp;
	struct sa addr;         /* remote */
	struct sa local;        /* our address it arrived on */
	int fd;                 /* UDP: the socket it arrived on */
	struct sip_conn *conn;  /* stream transports: a reference to the connection */
	uint16_t reconnect_port; /* streams: where to connect if conn has closed (RFC 3261 §18.2.2) */
};

struct sip_msg {
	bool req;
	/* request line */
	struct pl method;
	enum sip_method mid;
	struct pl ruri_raw;
	struct sip_uri ruri;
	/* status line */
	uint16_t scode;
	struct pl reason;

	struct sip_hdr *hdrs;
	size_t hdrc;
	uint16_t first[SIP_HDR_COUNT]; /* index + 1 of the first header of each kind */

	struct sip_via via; /* top Via */
	unsigned nvia;
	struct sip_addr from, to;
	struct pl callid;
	struct sip_cseq cseq;
	int maxfwd;         /* -1 when absent */
	size_t clen;
	bool has_clen;
	struct pl ctype;
	struct pl body;

	struct sip_peer src;

	char *buf;          /* the message's own copy of its bytes */
	size_t len;         /* length of the message proper (trailing octets dropped) */
};

/* Why a message was rejected: a status to answer with (0 = drop silently) and
 * a reason phrase saying what was wrong. */
struct sip_perr {
	uint16_t scode;
	const char *reason;
	char text[64]; /* storage for a reason that names a header */
};

enum sip_parse_flags { SIP_PARSE_STREAM = 1 }; /* Content-Length mandatory and exact */

/* Parses data[0..len) into a new refcounted message (free with mem_deref).
 * Returns 0; or EBADMSG with perr set, and *msgp set when enough was understood to
 * answer perr->scode (the caller answers, then derefs it). Trailing octets after
 * the body of a datagram are ignored (RFC 4475 §3.1.1.8). */
int sip_msg_parse(struct sip_msg **msgp, const char *data, size_t len, int flags,
		  struct sip_perr *perr);

/* Stream framing: how long the message starting at data is. Returns 0 with
 * *msglen, EAGAIN when more bytes are needed, EBADMSG when the headers end with
 * no usable Content-Length (*msglen is then the header section's length) or
 * EMSGSIZE past SIP_MSG_MAX_SIZE. */
int sip_msg_frame(const char *data, size_t len, size_t *msglen);

enum sip_method sip_method_id(const struct pl *name);
const char *sip_method_name(enum sip_method m);
enum sip_hdr_id sip_hdr_id(const struct pl *name);
const char *sip_hdr_name(enum sip_hdr_id id);

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id);
/* The next header of the same kind after h (or NULL). */
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg, const struct sip_hdr *h);
/* Finds an extension header by name (case-insensitive). */
const struct sip_hdr *sip_msg_hdr_name(const struct sip_msg *msg, const char *name);

/* Steps through the comma-separated values of a header (commas inside quotes and
 * <> do not split). Start with *cursor = h->val; returns 0, ENOENT at the end, or
 * EBADMSG for an empty value. */
int sip_hdr_value_next(struct pl *cursor, struct pl *val);
/* Calls h for each value of every header of kind id; stops when h returns non-0. */
typedef int (sip_hdr_value_h)(const struct pl *val, void *arg);
int sip_msg_hdr_apply(const struct sip_msg *msg, enum sip_hdr_id id, sip_hdr_value_h *h, void *arg);
/* True when any value of header id equals token (case-insensitive). */
bool sip_msg_hdr_has_token(const struct sip_msg *msg, enum sip_hdr_id id, const char *token);

int sip_via_parse(struct sip_via *via, const struct pl *val);
/* name-addr or addr-spec, with header parameters; "*" only when allow_star. */
int sip_addr_parse(struct sip_addr *addr, const struct pl *val, bool allow_star);

/* True when the branch is RFC 3261's (starts with the magic cookie z9hG4bK). */
bool sip_branch_is_3261(const struct pl *branch);

#endif
