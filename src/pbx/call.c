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

static void on_invite(struct sip_stack *s, struct sip_msg *req, void *arg)
{
	if (req->to.tag.l) {
		/* A re-INVITE for a dialog we do not have (RFC 3261 §12.2.2). */
		sip_stack_reply_stateless(s, req, 481, NULL, NULL);
		return;
	}
	sip_stack_reply_stateless(s, req, 404, "No Such Extension", NULL);
}

static void on_bye(struct sip_stack *s, struct sip_msg *req, void *arg)
{
	sip_stack_reply_stateless(s, req, 481, NULL, NULL);
}

int call_engine_alloc(struct call_engine **cp, struct sip_stack *sip)
{
	struct call_engine *c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->sip = sip;
	const struct sip_method_handler hs[] = {
		{ .method = SIP_INVITE, .h = on_invite, .arg = c, .accept = "application/sdp",
		  .produces = "application/sdp" },
		{ .method = SIP_BYE, .h = on_bye, .arg = c },
	};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		int err = sip_stack_handler_set(sip, &hs[i]);
		if (err) {
			free(c);
			return err;
		}
	}
	*cp = c;
	return 0;
}

void call_engine_free(struct call_engine *c)
{
	free(c);
}
