/* Building SIP messages into an mbuf: responses to a parsed request, new requests,
 * the ACK and CANCEL that RFC 3261 §17.1.1.3 and §9.1 derive from a request, and a
 * re-serialisation of a parsed message. */
#ifndef SIP_PRINT_H
#define SIP_PRINT_H

#include "core/mbuf.h"
#include "sip/msg.h"

/* Default reason phrase for a status code. */
const char *sip_reason(uint16_t scode);

/* A response to req (RFC 3261 §8.2.6): its Vias, From, To, Call-ID and CSeq copied,
 * the top Via given received/rport when req came from the network (§18.2.1,
 * RFC 3581), To given totag when it has none (and scode > 100). extra: header lines
 * each ending in CRLF, or NULL. body/ctype may be NULL. */
int sip_print_response(struct mbuf *mb, const struct sip_msg *req, uint16_t scode,
		       const char *reason, const char *totag, const char *extra,
		       const char *ctype, const struct pl *body);
/* As sip_print_response without a body, writing the copied headers in their
 * compact forms (RFC 3261 §7.3.3: v, f, t, i, l; every SIP parser must read them).
 * For stateless answers, which a forged source address turns into reflected
 * traffic: every byte they add over the request is amplification. */
int sip_print_response_compact(struct mbuf *mb, const struct sip_msg *req, uint16_t scode,
			       const char *reason, const char *totag, const char *extra);

struct sip_req_spec {
	const char *method;
	const char *ruri;
	const char *via_transport; /* "UDP", "TCP"... */
	const char *via_sentby;    /* our host[:port] */
	const char *branch;        /* starts with z9hG4bK */
	const char *from;          /* name-addr without tag */
	const char *from_tag;
	const char *to;            /* name-addr without tag */
	const char *to_tag;        /* NULL outside a dialog */
	const char *callid;
	uint32_t cseq;
	int max_forwards;          /* 70 when 0 */
	const char *const *routes; /* Route values (name-addrs), in order; NULL for none */
	size_t nroutes;
	const char *contact;       /* a Contact value, or NULL */
	const char *extra;         /* header lines ending in CRLF, or NULL */
	const char *ctype;
	struct pl body;
};

int sip_print_request(struct mbuf *mb, const struct sip_req_spec *r);
/* ACK for a non-2xx final response to INVITE req (same branch, To from resp). */
int sip_print_ack(struct mbuf *mb, const struct sip_msg *req, const struct sip_msg *resp);
/* CANCEL for req (same branch, R-URI, From, To, Call-ID, CSeq number); extra:
 * header lines ending in CRLF (a Reason, RFC 3326), or NULL. */
int sip_print_cancel(struct mbuf *mb, const struct sip_msg *req, const char *extra);
/* Prints msg back: start line, every header as "Name: value", body. */
int sip_msg_print(struct mbuf *mb, const struct sip_msg *msg);

#endif
