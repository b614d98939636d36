/* The call engine's entry: an INVITE outside a dialog is routed to the extension
 * its Request-URI names. No extension is known until tenants are wired into SIP
 * (the calls issue builds the B2BUA on this entry), so every INVITE is refused
 * with 404. Refusals are stateless: a forged INVITE earns one datagram, not a
 * 100 Trying and Timer G's retransmissions; a call that rings will take a
 * server transaction (sip_stack_stsx). */
#include "pbx/call.h"

#include <errno.h>
#include <stdlib.h>

#include "sip/print.h"

struct call_engine {
	struct sip_stack *sip;
};

static bool on_request(struct sip_stack *s, struct sip_msg *req, void *arg)
{
	if (req->mid == SIP_ACK)
		return false; /* no dialogs yet: an ACK for a 2xx we never sent */
	if (req->mid == SIP_BYE || req->to.tag.l) {
		/* A request in a dialog we do not have (RFC 3261 §12.2.2). */
		sip_stack_reply_stateless(s, req, 481, NULL, NULL);
		return true;
	}
	sip_stack_reply_stateless(s, req, 404, "No Such Extension", NULL);
	return true;
}

int call_engine_alloc(struct call_engine **cp, struct sip_stack *sip)
{
	struct call_engine *c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->sip = sip;
	const struct sip_listener l = { .methods = SIP_METHOD_BIT(SIP_INVITE) | SIP_METHOD_BIT(SIP_BYE) |
						   SIP_METHOD_BIT(SIP_ACK),
					.h = on_request, .arg = c, .accept = "application/sdp",
					.produces = "application/sdp" };
	int err = sip_stack_listen(sip, &l);
	if (err) {
		free(c);
		return err;
	}
	*cp = c;
	return 0;
}

void call_engine_free(struct call_engine *c)
{
	free(c);
}
