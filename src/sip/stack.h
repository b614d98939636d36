/* The SIP stack: transports, transactions and the checks RFC 3261 §8.2 asks of
 * every UAS, wired together on the signalling thread. Applications (the pbx layer)
 * add request handlers to a chain (as libre's sip_listen): each is tried in turn
 * and says whether it took the request. What nobody takes is answered here:
 * OPTIONS with our capabilities, unknown methods 501, methods no handler names
 * 405, the rest 404.
 *
 * Response routing: every response goes back to the source address and port the
 * request came from (over the same connection for streams), with received and
 * rport recorded in the top Via (RFC 3581 behaviour whether or not the client asked
 * for it). A response never goes to a host named only inside a message; the one
 * thing a message chooses is the port a closed TCP connection is re-opened to on
 * its source IP (the Via sent-by port, RFC 3261 §18.2.2).
 *
 * Amplification: a UDP source can be forged, and what pbxd answers before
 * authentication then goes to the forged address. Those answers are stateless
 * (one datagram), lean (compact header names, no Server line, only what the RFC
 * needs) and budgeted per source (sip-stateless-rate, sip-stateless-burst); over
 * the budget pbxd stays silent. Streams and loopback sources are not budgeted:
 * their source cannot be forged. */
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

/* A request of a method the handler names, that passed the checks; or an ACK for
 * a 2xx (it belongs to a dialog, not a transaction: nothing is answered). Returns
 * true when the handler took it: it answered, or will. What needs no state (a
 * challenge, a refusal before authentication) is answered statelessly with
 * sip_stack_reply_stateless(), so a forged request earns exactly one datagram;
 * what will be answered later (a call that rings) takes a server transaction
 * with sip_stack_stsx() and answers through it (see tsx.h). A handler that
 * returns false must not have answered: the next one is tried. */
typedef bool (sip_req_h)(struct sip_stack *s, struct sip_msg *req, void *arg);

#define SIP_METHOD_BIT(m) (1u << (m))

struct sip_listener {
	uint32_t methods;     /* SIP_METHOD_BIT of each method it may take (not CANCEL) */
	sip_req_h *h;
	void *arg;
	const char *accept;   /* body types it takes ("application/sdp"), NULL for none */
	const char *produces; /* body type its answers carry, checked against Accept */
};

enum { SIP_STACK_LISTENERS = 16 };

/* Not reference counted: free with sip_stack_free(). */
int sip_stack_alloc(struct sip_stack **sp, struct loop *loop, const struct conf *conf);
void sip_stack_free(struct sip_stack *s);
/* Reads the TLS certificate and key files again (SIGHUP): new TLS and WSS
 * handshakes use them, connections open keep theirs. ENOENT when TLS is off;
 * on a bad pair the one in use stays (logged). */
int sip_stack_tls_reload(struct sip_stack *s);
/* A gate in front of everything the stack does with a request (retransmissions
 * included): returns false to drop it silently (a banned source, a scanner, a
 * flood). Responses are not filtered: they match transactions we started. */
typedef bool (sip_filter_h)(const struct sip_msg *req, void *arg);
void sip_stack_filter_set(struct sip_stack *s, sip_filter_h *h, void *arg);

/* Adds l (copied) at the end of the chain. A method's accepted and produced body
 * types are those of the first listener naming the method that gives them.
 * EINVAL for CANCEL (the stack matches it to its INVITE) or no method; ENOSPC past
 * SIP_STACK_LISTENERS. */
int sip_stack_listen(struct sip_stack *s, const struct sip_listener *l);
/* Answers req without a transaction (for what needs no state), with the copied
 * headers in their compact forms and no Server line. extra: header lines ending
 * in CRLF, or NULL. Returns 0, EAGAIN when the request's source is over its
 * budget of stateless answers (nothing is sent: silence is the answer), or the
 * error of printing or sending. */
int sip_stack_reply_stateless(struct sip_stack *s, const struct sip_msg *req, uint16_t scode,
			      const char *reason, const char *extra);

/* A stateless answer to a request that proved nothing should stay within this
 * many times the request's size, so that pbxd is a poor reflector. */
enum { SIP_STACK_REPLY_MAX_RATIO = 2 };
/* Bytes of extra header lines a stateless answer to req with scode can carry and
 * stay within SIP_STACK_REPLY_MAX_RATIO times req's size (0 when the bare answer
 * is already larger). A handler with optional lines (a challenge's further
 * algorithms) sends only what fits. */
size_t sip_stack_reply_room(const struct sip_msg *req, uint16_t scode);
/* A stateless answer whose optional lines cost work to make (a challenge's
 * nonces): begin spends one answer of the source's budget first (EAGAIN: over it,
 * say nothing and do nothing more) and gives the room; the answer then goes with
 * sip_stack_reply_begun(), which does not spend again. */
int sip_stack_reply_begin(struct sip_stack *s, const struct sip_msg *req, uint16_t scode, size_t *room);
int sip_stack_reply_begun(struct sip_stack *s, const struct sip_msg *req, uint16_t scode, const char *reason,
			  const char *extra);
/* Creates the server transaction for req. On failure req has been answered
 * (503 with Retry-After at the transaction cap, else 500) and the error returned. */
int sip_stack_stsx(struct sip_stack *s, struct sip_msg *req, struct sip_stsx **tp);
/* The "Server: ..." line transaction answers carry (stateless answers leave it
 * out), for handlers building extras. */
const char *sip_stack_server_hdr(const struct sip_stack *s);
struct sip_tsx_layer *sip_stack_tsx(struct sip_stack *s);
struct sip_transport *sip_stack_transport(struct sip_stack *s);
/* The per-source budget behind stateless answers, public for its unit test: a
 * token bucket per source (an IPv4 address, or an IPv6 /64) of rate answers per
 * second and burst at once, in a fixed-size table (about 8,000 sources; under
 * more, the fullest buckets are forgotten first, which forgets nothing). rate 0
 * means no refill. Returns 0, EINVAL (burst 0, or either over 1,000,000) or
 * ENOMEM. */
struct sip_stack_limit;
/* Not reference counted: free with sip_stack_limit_free(). */
int sip_stack_limit_alloc(struct sip_stack_limit **lp, uint32_t rate, uint32_t burst);
void sip_stack_limit_free(struct sip_stack_limit *l);
/* Spends one answer of src's budget at now_ms (any monotonic milliseconds).
 * Returns true when the answer may go; false when src is over its budget, with
 * *newly (may be NULL) true on the first refusal since src was last answered. */
bool sip_stack_limit_take(struct sip_stack_limit *l, const struct sa *src, uint64_t now_ms, bool *newly);

/* Feeds raw bytes as if received from src (tests and the fuzzer use this). */
void sip_stack_input(struct sip_stack *s, const struct sip_peer *src, const char *data, size_t len);

#endif
