/* SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state): retransmission
 * and time-out timers, retransmission absorption, the ACK for non-2xx finals, and
 * CANCEL matching. Timers live inside the transaction (no allocation per timer)
 * and run on whatever clock the timer heap is given, so tests use a virtual one.
 *
 * Ownership: the layer owns every transaction. A server transaction pointer stays
 * valid for the TU until the TU sends a final response; a client transaction
 * pointer until its handler has seen the final response or an error. */
#ifndef SIP_TSX_H
#define SIP_TSX_H

#include <stdbool.h>

#include "core/mbuf.h"
#include "core/timer.h"
#include "sip/msg.h"

struct sip_tsx_layer;
struct sip_stsx;
struct sip_ctsx;

struct sip_tsx_timers {
	uint32_t t1, t2, t4; /* ms; RFC 3261 defaults 500, 4000, 5000 */
	uint32_t c;          /* ms, Timer C (§16.6 item 11); 0: SIP_TSX_TIMER_C */
};

/* Timer C's default: more than three minutes, as RFC 3261 §16.6 asks. */
enum { SIP_TSX_TIMER_C = 180000 };

/* How the layer puts bytes on the wire. */
typedef int (sip_tsx_send_h)(const struct sip_peer *dst, const struct mbuf *mb, void *arg);
/* A client transaction's outcome: a response (1xx may come several times, then
 * exactly one final), or err, once and last:
 *   ETIMEDOUT  timer B or F: no final (nor, for INVITE, any provisional) in 64*T1;
 *   ETIME      Timer C (INVITE only): a provisional came, then no final response
 *              for Timer C after the last provisional. The layer has sent the
 *              CANCEL itself (RFC 3261 §16.7 item 11 and §9.1) and lives on to
 *              ACK the 487 for 64*T1; a 2xx that still comes is not the TU's to
 *              see (it has been told), and goes unACKed;
 *   otherwise  a transport error (RFC 3261 §17.1.4), e.g. ECONNREFUSED,
 *              EHOSTUNREACH or ETIMEDOUT when the TCP connection the request
 *              needed could not be opened (see sip_tsx_transport_error). */
typedef void (sip_ctsx_resp_h)(int err, const struct sip_msg *resp, void *arg);

/* The layer is not reference counted (free with sip_tsx_layer_free); transactions are. */
int sip_tsx_layer_alloc(struct sip_tsx_layer **lp, struct tmr_heap *th, const struct sip_tsx_timers *tm,
			sip_tsx_send_h *send, void *arg);
void sip_tsx_layer_free(struct sip_tsx_layer *l);
/* Caps the live transactions (0: no cap); sip_stsx_alloc says EAGAIN beyond it. */
void sip_tsx_layer_max_set(struct sip_tsx_layer *l, size_t max);
size_t sip_tsx_layer_count(const struct sip_tsx_layer *l);

/* Offers a received request to existing server transactions. Returns true when
 * it was absorbed (a retransmission answered again, or the ACK of a non-2xx
 * final). An ACK for a 2xx stops that 2xx's retransmission and returns false:
 * it belongs to the TU. */
bool sip_tsx_request_absorb(struct sip_tsx_layer *l, const struct sip_msg *req);
/* The INVITE server transaction a CANCEL targets (RFC 3261 §9.2), or NULL. */
struct sip_stsx *sip_tsx_cancel_target(struct sip_tsx_layer *l, const struct sip_msg *cancel);
/* Creates the server transaction for a new request (not ACK). INVITE answers
 * 100 Trying at once. EAGAIN when the layer is at its cap. */
int sip_stsx_alloc(struct sip_stsx **tp, struct sip_tsx_layer *l, struct sip_msg *req);
/* Sends a response through t; a final response moves t on and, for the TU, ends it. */
int sip_stsx_reply(struct sip_stsx *t, uint16_t scode, const char *reason, const char *extra,
		   const char *ctype, const struct pl *body);
/* A CANCEL matched t (RFC 3261 §9.2). A TU that keeps t while it waits (a ringing
 * call) sets a handler, which is then told and answers 487 itself; without one
 * the layer answers 487 and t ends for the TU as with any final response. */
typedef void (sip_stsx_cancel_h)(struct sip_stsx *t, void *arg);
void sip_stsx_cancel_handler_set(struct sip_stsx *t, sip_stsx_cancel_h *h, void *arg);
void sip_stsx_cancel(struct sip_stsx *t, const char *extra);
const struct sip_msg *sip_stsx_request(const struct sip_stsx *t);
const char *sip_stsx_totag(const struct sip_stsx *t);
bool sip_stsx_is_final(const struct sip_stsx *t);

/* Sends a request (already printed, with a fresh branch) to dst in a new client
 * transaction. *tp, when given, is the TU's handle (see ownership above). */
int sip_ctsx_send(struct sip_ctsx **tp, struct sip_tsx_layer *l, const struct sip_peer *dst,
		  struct mbuf *req, sip_ctsx_resp_h *h, void *arg);
/* The TU cancels its INVITE (RFC 3261 §9.1): the CANCEL (with extra, header
 * lines ending in CRLF such as a Reason, or NULL) goes at once when a provisional
 * has come, else when the first one comes, so that it cannot overtake the INVITE;
 * after a final response it is moot. The handler still hears the final response:
 * 487, or a 2xx that crossed the CANCEL (the TU ACKs and ends that dialog), or
 * ETIMEDOUT when none came within 64*T1 of the CANCEL. */
void sip_ctsx_cancel(struct sip_ctsx *t, const char *extra);
/* The TU's ACK for the 2xx its handler was just given (call it from the
 * handler): sent now to the INVITE's destination, and again by the transaction
 * for every retransmission of a 2xx until Timer M, so the TU hears no more and
 * its pointer is no longer valid. ack is referenced. */
void sip_ctsx_ack_2xx(struct sip_ctsx *t, struct mbuf *ack);
/* The TU loses interest: no more handler calls, the transaction finishes alone. */
void sip_ctsx_abandon(struct sip_ctsx *t);
/* Whether branch is that of a request of ours still in a client transaction: a
 * request that comes back to us with it in its top Via has looped (482). */
bool sip_tsx_branch_ours(struct sip_tsx_layer *l, const struct pl *branch);
/* Offers a received response to client transactions; false means no match (drop). */
bool sip_tsx_response(struct sip_tsx_layer *l, const struct sip_msg *resp);
/* The transport could not deliver to p (a stream connection that failed to
 * connect, or to write): every client transaction still waiting for its final
 * response over p->conn, or over the same kind of transport to p->addr (the
 * connection sip_transport_send opened for it), ends at once with err to its
 * handler (RFC 3261 §17.1.4) instead of at Timer B/F. */
void sip_tsx_transport_error(struct sip_tsx_layer *l, const struct sip_peer *p, int err);
/* Merged requests (RFC 3261 §8.2.2.2): true when req, a request without a To tag
 * that no server transaction absorbed, has the From tag, Call-ID and CSeq
 * (number and method) of a live server transaction: the same request reached
 * us again along another path after forking upstream, and is to be answered
 * 482 (Loop Detected). ACK and CANCEL are never merged. */
bool sip_tsx_request_merged(struct sip_tsx_layer *l, const struct sip_msg *req);
/* A random branch with the RFC 3261 magic cookie, into buf (>= 32 bytes). */
void sip_branch_new(char *buf, size_t size);

#endif
