/* Offers inside an answered call (re-INVITE, RFC 3261 §14; UPDATE, RFC 3311):
 * hold and resume (sendonly/inactive), codec changes and session refreshes. The
 * offer received on one leg becomes pbxd's offer on the other; that leg's answer
 * becomes pbxd's answer on the first. One offer at a time per call: a second one
 * meanwhile gets 491 (RFC 3261 §14.2), as the glare rule asks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/call/call_int.h"

static struct leg *other_of(struct call *c, struct leg *l)
{
	return l == c->a ? c->b : c->a;
}

/* The offer on one leg changes both legs' negotiation (and, for an ICE
 * restart, pbxd's ICE credentials of that side) before the other leg has
 * answered; refused, all of it goes back, and the media with it, so that the
 * offerer keeps what it had (RFC 3261 §14.1). */
struct upd_undo {
	struct sdp_neg from, to;
	struct call_ice ice;
};

static void undo_keep(struct call *c, struct leg *from, struct leg *to)
{
	free(from->upd_undo);
	from->upd_undo = malloc(sizeof(*from->upd_undo));
	if (from->upd_undo)
		*from->upd_undo = (struct upd_undo){ from->neg, to->neg, c->ice[from == c->a ? 0 : 1] };
}

static void undo_drop(struct leg *from)
{
	free(from->upd_undo);
	from->upd_undo = NULL;
}

static void undo_apply(struct call *c, struct leg *from)
{
	struct upd_undo *u = from->upd_undo;
	struct leg *to = other_of(c, from);
	if (!u || !to)
		return;
	from->neg = u->from;
	to->neg = u->to;
	c->ice[from == c->a ? 0 : 1] = u->ice;
	undo_drop(from);
	call_media_hint(c, from == c->a ? 0 : 1, from);
	call_media_hint(c, to == c->a ? 0 : 1, to);
}

static void reply_upd(struct leg *from, uint16_t code, const char *reason, bool sdp)
{
	if (!from->upd_st)
		return;
	char extra[320] = "", se[96] = "";
	if (code >= 200 && code < 300) {
		session_timer_reply_hdrs(from, se, sizeof(se));
		snprintf(extra, sizeof(extra), "Contact: <sip:%s;transport=%s>\r\n%s", from->sentby,
			 sip_transport_uri_param(from->peer.tp), se);
	}
	struct mbuf *body = sdp ? leg_sdp(from) : NULL;
	struct pl b = body ? pl_from((const char *)body->buf, body->end) : (struct pl){ NULL, 0 };
	sip_stsx_reply(from->upd_st, code, reason, extra[0] ? extra : NULL, body ? "application/sdp" : NULL,
		       body ? &b : NULL);
	mem_deref(body);
	from->upd_st = NULL;
}

/* The other leg's answer to pbxd's offer. arg: the leg the offer went to. */
static void on_answer(int err, const struct sip_msg *resp, void *arg)
{
	struct leg *to = arg;
	struct call *c = to->call;
	struct leg *from = other_of(c, to);
	if (!err && resp->scode < 200)
		return;
	struct sip_ctsx *t = to->upd_ct;
	to->upd_ct = NULL;
	if (err) {
		undo_apply(c, from);
		reply_upd(from, 408, NULL, false);
		return;
	}
	if (resp->scode >= 300) {
		/* 491 glare, 488: the offerer hears it and keeps what it had. */
		undo_apply(c, from);
		reply_upd(from, resp->scode, NULL, false);
		return;
	}
	if (to->upd_invite) {
		sip_dialog_uac_update(to->dlg, resp); /* a new remote target, if any */
		leg_ack_2xx(to, t, to->upd_cseq);
	}
	const char *why = "";
	if (negotiate_reanswer(c, from, to, resp, &why)) {
		log_info("call %llu: unusable answer to a re-offer (%s)", (unsigned long long)c->session_id, why);
		undo_apply(c, from);
		reply_upd(from, 488, why, false);
		return;
	}
	undo_drop(from);
	call_media_hint(c, to == c->a ? 0 : 1, to);
	reply_upd(from, 200, NULL, true);
}

void call_reoffer(struct call *c, struct leg *l, struct sip_msg *req)
{
	struct sip_stack *s = c->e->d.sip;
	struct leg *other = other_of(c, l);
	if (c->state != CALL_TALKING || !other || !other->dlg) {
		/* Early-dialog UPDATE (RFC 3311 §5.1) is not relayed yet. */
		sip_stack_reply_stateless(s, req, 491, NULL, "Retry-After: 2\r\n");
		return;
	}
	if (l->upd_st || other->upd_st || l->upd_ct || other->upd_ct || other->ref_ct) {
		sip_stack_reply_stateless(s, req, 491, NULL, "Retry-After: 1\r\n");
		return;
	}
	if (sip_stack_stsx(s, req, &l->upd_st))
		return;
	if (!req->body.l) {
		/* A refresh, or an offerless re-INVITE: pbxd's current SDP answers (or
		 * offers, and the ACK's answer changes nothing we relay). */
		reply_upd(l, 200, NULL, req->mid == SIP_INVITE);
		return;
	}
	const char *why = "";
	undo_keep(c, l, other);
	uint16_t code = negotiate_reoffer(c, l, other, req, &why);
	if (code) {
		undo_drop(l); /* nothing changed */
		reply_upd(l, code, why, false);
		return;
	}
	call_media_hint(c, l == c->a ? 0 : 1, l);
	struct mbuf *body = leg_sdp(other);
	struct pl b = body ? pl_from((const char *)body->buf, body->end) : (struct pl){ NULL, 0 };
	other->upd_invite = req->mid == SIP_INVITE;
	int err = body ? leg_request(other, req->mid == SIP_INVITE ? "INVITE" : "UPDATE", NULL, &b, on_answer,
				     other, &other->upd_ct)
		       : ENOMEM;
	other->upd_cseq = sip_dialog_local_cseq(other->dlg);
	mem_deref(body);
	if (err) {
		undo_apply(c, l);
		reply_upd(l, 500, NULL, false);
	}
}

void call_reoffer_abort(struct leg *l)
{
	if (l->upd_ct) {
		sip_ctsx_abandon(l->upd_ct);
		l->upd_ct = NULL;
	}
	reply_upd(l, 487, NULL, false);
}
