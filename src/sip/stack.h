/* The SIP stack: transports, transactions and the checks RFC 3261 §8.2 asks of
 * every UAS, wired together on the signalling thread. Applications (the pbx layer)
 * register a handler per method; what nobody handles is answered here: OPTIONS
 * with our capabilities, unknown methods 501, known but unhandled ones 405.
 *
 * Response routing: every response goes back to the source address and port the
 * request came from (over the same connection for streams), with received and
 * rport recorded in the top Via (RFC 3581 behaviour whether or not the client asked
 * for it). A response never goes to a host named only inside a message; the one
 * thing a message chooses is the port a closed TCP connection is re-opened to on
 * its source IP (the Via sent-by port, RFC 3261 §18.2.2). */
#ifndef SIP_STACK_H
#define SIP_STACK_H

#include <stddef.h>

#include "core/conf.h"
#include "core/loop.h"
#include "sip/msg.h"
#include "sip/transport.h"
#include "sip/tsx.h"

struct sip_stack;

extern const struct conf_opt sip_stack_opts[];
extern const size_t sip_stack_opts_count;

/* A request for a registered method that passed the checks. What needs no state
 * (a challenge, a refusal before authentication) is answered statelessly with
 * sip_stack_reply_stateless(), so a forged request earns exactly one datagram;
 * what will be answered later (a call that rings) takes a server transaction
 * with sip_stack_stsx() and answers through it (see tsx.h). */
typedef void (sip_req_h)(struct sip_stack *s, struct sip_msg *req, void *arg);
/* An ACK for a 2xx (it belongs to a dialog, not a transaction). */
typedef void (sip_ack_h)(struct sip_stack *s, const struct sip_msg *ack, void *arg);

struct sip_method_handler {
	enum sip_method method;
	sip_req_h *h;
	void *arg;
	const char *accept;   /* body types it takes ("application/sdp"), NULL for none */
	const char *produces; /* body type its answers carry, checked against Accept */
};

int sip_stack_alloc(struct sip_stack **sp, struct loop *loop, const struct conf *conf);
void sip_stack_free(struct sip_stack *s);
int sip_stack_handler_set(struct sip_stack *s, const struct sip_method_handler *mh);
void sip_stack_ack_handler_set(struct sip_stack *s, sip_ack_h *h, void *arg);
/* Answers req without a transaction (for what needs no state). extra: header
 * lines ending in CRLF, or NULL. */
int sip_stack_reply_stateless(struct sip_stack *s, const struct sip_msg *req, uint16_t scode,
			      const char *reason, const char *extra);
/* Creates the server transaction for req. On failure req has been answered
 * (503 with Retry-After at the transaction cap, else 500) and the error returned. */
int sip_stack_stsx(struct sip_stack *s, struct sip_msg *req, struct sip_stsx **tp);
/* The "Server: ..." line every response carries, for handlers building extras. */
const char *sip_stack_server_hdr(const struct sip_stack *s);
struct sip_tsx_layer *sip_stack_tsx(struct sip_stack *s);
struct sip_transport *sip_stack_transport(struct sip_stack *s);
/* Feeds raw bytes as if received from src (tests and the fuzzer use this). */
void sip_stack_input(struct sip_stack *s, const struct sip_peer *src, const char *data, size_t len);

#endif
