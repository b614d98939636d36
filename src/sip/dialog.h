/* SIP dialogs (RFC 3261 §12), apart from any session layer, as libre keeps
 * sip/dialog.c: the identifiers (Call-ID, local and remote tags), the sequence
 * numbers, the remote target and the route set, taken from the messages that
 * create and refresh a dialog, and the requests printed inside it. The call
 * engine keeps legs built on dialogs, not raw headers.
 *
 * Only loose routing (RFC 3261 §16.12, "lr") is supported: a route set whose
 * first entry is a strict router is refused (ENOTSUP) when the dialog is made.
 * Reference counted: free with mem_deref(). */
#ifndef SIP_DIALOG_H
#define SIP_DIALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "sip/msg.h"

struct sip_dialog;

/* The dialog a UAS makes by answering req (an INVITE, or a SUBSCRIBE...) with a
 * response carrying local_tag in To (§12.1.1): the route set is req's
 * Record-Route in order, the remote target its Contact, the remote sequence its
 * CSeq. local_contact is the Contact our answers and requests carry. 0, EINVAL
 * (no From tag, or no usable Contact), ENOTSUP (strict route) or ENOMEM. */
int sip_dialog_uas_alloc(struct sip_dialog **dp, const struct sip_msg *req, const char *local_tag,
			 const char *local_contact);

/* The dialog a UAC starts when it sends a request that may create one (§12.1.2):
 * early until sip_dialog_uac_update() sees a response with a To tag. local_uri
 * and remote_uri are the From and To name-addrs (without tags), target the
 * Request-URI, cseq the first request's CSeq (the next one is cseq + 1). */
int sip_dialog_uac_alloc(struct sip_dialog **dp, const char *callid, const char *local_uri, const char *local_tag,
			 const char *remote_uri, const char *target, uint32_t cseq, const char *local_contact);
/* A response to the dialog-creating request (1xx with a To tag, or 2xx): takes
 * the remote tag, the route set (Record-Route reversed) and the remote target
 * (Contact). A 2xx confirms the dialog; later responses do not change a
 * confirmed one's route set (§12.2.1.2). 0, EINVAL (no To tag, no Contact),
 * ENOTSUP (strict route), EALREADY (another remote tag: a fork, which is another
 * dialog) or ENOMEM. */
int sip_dialog_uac_update(struct sip_dialog *d, const struct sip_msg *resp);

/* Whether req belongs to d: its Call-ID, its To tag is our local tag and its
 * From tag the remote one (§12.2.2). */
bool sip_dialog_match(const struct sip_dialog *d, const struct sip_msg *req);
/* An in-dialog request received (§12.2.2): its CSeq must be above the last one
 * (EPROTO: answer 500), and a target refresh (re-INVITE, UPDATE, and the other
 * methods that carry a Contact to refresh it) updates the remote target. */
int sip_dialog_request_received(struct sip_dialog *d, const struct sip_msg *req);

/* Prints the next in-dialog request (§12.2.1.1): Request-URI the remote target,
 * Route the route set, the next local CSeq (ACK and CANCEL take cseq_override,
 * non-zero, the INVITE's), Contact ours. via_transport/via_sentby/branch as in
 * sip_print_request; extra: header lines each ending CRLF, or NULL. */
int sip_dialog_request_print(struct mbuf *mb, struct sip_dialog *d, const char *method, const char *via_transport,
			     const char *via_sentby, const char *branch, uint32_t cseq_override, const char *extra,
			     const char *ctype, const struct pl *body);

/* The Max-Forwards of the requests printed from now on (1..255; otherwise 70):
 * a B2BUA passes on the hops its caller had left. */
void sip_dialog_max_forwards_set(struct sip_dialog *d, int n);

const char *sip_dialog_callid(const struct sip_dialog *d);
const char *sip_dialog_local_tag(const struct sip_dialog *d);
const char *sip_dialog_remote_tag(const struct sip_dialog *d); /* "" while early without one */
const char *sip_dialog_remote_target(const struct sip_dialog *d);
/* The route set, in the order requests carry it. */
size_t sip_dialog_route_count(const struct sip_dialog *d);
const char *sip_dialog_route(const struct sip_dialog *d, size_t i);
uint32_t sip_dialog_local_cseq(const struct sip_dialog *d);   /* the last one used */
uint32_t sip_dialog_remote_cseq(const struct sip_dialog *d);  /* the last one received */
bool sip_dialog_confirmed(const struct sip_dialog *d);

#endif
