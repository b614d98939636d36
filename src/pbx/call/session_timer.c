/* Session timers (RFC 4028), per leg, so that a call whose phone vanished is
 * cleared. On each leg one side refreshes (re-INVITE or UPDATE) before the
 * interval runs out: the caller when its INVITE asked to, a callee when its 2xx
 * says so; pbxd otherwise, with a re-INVITE carrying the leg's unchanged SDP,
 * which any phone answers whether it knows RFC 4028 or not. A refresh that fails
 * with 408 or 481 (RFC 4028 §10), or times out, and an interval that passes with
 * no refresh from a phone that was to send one, end the call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "pbx/call/call_int.h"

static uint32_t parse_delta(const struct pl *v, struct pl *params)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i < v->l && v->p[i] >= '0' && v->p[i] <= '9'; i++)
		n = n < 100000000 ? n * 10 + (uint64_t)(v->p[i] - '0') : n;
	if (params)
		*params = pl_from(v->p + i, v->l - i);
	return i ? (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n) : 0;
}

/* Session-Expires of msg: seconds (0: absent or malformed) and its refresher. */
static uint32_t session_expires(const struct sip_msg *msg, struct pl *refresher)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES);
	*refresher = (struct pl){ NULL, 0 };
	if (!h)
		return 0;
	struct pl v = pl_trim(h->val), params;
	uint32_t se = parse_delta(&v, &params);
	if (se)
		sip_param_get(&params, "refresher", refresher);
	return se;
}

uint16_t session_timer_check(struct call_engine *e, const struct sip_msg *inv, char *extra, size_t size)
{
	struct pl r;
	uint32_t se = session_expires(inv, &r);
	if (se && se < e->min_se_s) {
		/* RFC 4028 §8.1: too brief an interval is refused with ours. */
		snprintf(extra, size, "Min-SE: %u\r\n", e->min_se_s);
		return 422;
	}
	return 0;
}

static void timer_arm(struct leg *l);
static void timer_in(struct leg *l, uint64_t ms);

static void on_refresh_resp(int err, const struct sip_msg *resp, void *arg)
{
	struct leg *l = arg;
	struct call *c = l->call;
	if (!err && resp->scode < 200)
		return;
	struct sip_ctsx *t = l->ref_ct;
	l->ref_ct = NULL;
	if (!err && resp->scode < 300) {
		sip_dialog_uac_update(l->dlg, resp);
		leg_ack_2xx(l, t, l->ref_cseq);
		timer_arm(l);
		return;
	}
	if (!err && resp->scode != 408 && resp->scode != 481) {
		/* 491 (an offer of the phone's crossed ours), 5xx...: the session is
		 * alive; try again a little later (RFC 4028 §10: only 408 and 481 end it). */
		timer_in(l, 2000 + call_rand(c->e) % 2000);
		return;
	}
	log_info("call %llu: session refresh of the %s failed (%s): hung up", (unsigned long long)c->session_id,
		 l->uas ? "caller" : "callee", err ? strerror(err) : "408/481");
	call_end(c, l, l->uas ? "caller_disconnect" : "callee_disconnect", 408);
}

static void refresh(struct leg *l)
{
	if (l->upd_ct || l->ref_ct || l->upd_st) {
		/* An offer is under way on this dialog: it refreshes the session too. */
		timer_in(l, 1000);
		return;
	}
	char extra[96];
	snprintf(extra, sizeof(extra), "Session-Expires: %u;refresher=uac\r\nSupported: timer\r\n", l->se_ms / 1000);
	struct mbuf *body = leg_sdp(l);
	struct pl b = body ? pl_from((const char *)body->buf, body->end) : (struct pl){ NULL, 0 };
	int err = body ? leg_request(l, "INVITE", l->se_peer_knows ? extra : NULL, &b, on_refresh_resp, l, &l->ref_ct)
		       : ENOMEM;
	mem_deref(body);
	l->ref_cseq = sip_dialog_local_cseq(l->dlg);
	if (err) {
		l->ref_ct = NULL;
		timer_in(l, 2000);
	}
}

static void on_timer(void *arg)
{
	struct leg *l = arg;
	struct call *c = l->call;
	if (l->se_we_refresh) {
		refresh(l);
		return;
	}
	log_info("call %llu: no session refresh from the %s in %u s: hung up", (unsigned long long)c->session_id,
		 l->uas ? "caller" : "callee", l->se_ms / 1000);
	call_end(c, NULL, l->uas ? "caller_disconnect" : "callee_disconnect", 408);
}

static void timer_in(struct leg *l, uint64_t ms)
{
	tmr_start(loop_timers(l->call->e->d.loop), &l->t_se, ms, on_timer, l);
}

/* (Re)starts the leg's timer: half the interval when pbxd refreshes; when the
 * phone does, the interval less a third (at most 32 s, RFC 4028 §10). */
static void timer_arm(struct leg *l)
{
	if (l->se_we_refresh)
		timer_in(l, l->se_ms / 2);
	else
		timer_in(l, l->se_ms - (l->se_ms / 3 < 32000 ? l->se_ms / 3 : 32000));
}

void session_timer_uas(struct leg *a, const struct sip_msg *inv)
{
	struct call_engine *e = a->call->e;
	struct pl r;
	uint32_t se = session_expires(inv, &r);
	bool knows = sip_msg_hdr_has_token(inv, SIP_HDR_SUPPORTED, "timer");
	a->se_ms = (se ? (se < e->se_s ? se : e->se_s) : e->se_s) * 1000u;
	a->se_peer_knows = knows;
	/* The caller refreshes when it can and did not leave it to us. */
	a->se_we_refresh = !(knows && !(r.l && pl_caseeq_str(&r, "uas")));
}

int session_timer_reply_hdrs(const struct leg *a, char *buf, size_t size)
{
	if (!a->se_peer_knows) {
		buf[0] = '\0';
		return 0;
	}
	int n = snprintf(buf, size, "Session-Expires: %u;refresher=%s\r\nRequire: timer\r\n", a->se_ms / 1000,
			 a->se_we_refresh ? "uas" : "uac");
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

int session_timer_uac_hdrs(const struct call_engine *e, char *buf, size_t size)
{
	int n = snprintf(buf, size, "Session-Expires: %u\r\nMin-SE: %u\r\n", e->se_s, e->min_se_s);
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

void session_timer_uac(struct leg *b, const struct sip_msg *ok)
{
	struct call_engine *e = b->call->e;
	struct pl r;
	uint32_t se = session_expires(ok, &r);
	b->se_peer_knows = se != 0;
	b->se_ms = (se ? se : e->se_s) * 1000u;
	b->se_we_refresh = !(se && r.l && pl_caseeq_str(&r, "uas"));
}

void session_timer_start(struct leg *l)
{
	if (l->se_ms)
		timer_arm(l);
}

void session_timer_refreshed(struct leg *l)
{
	if (l->se_ms && !l->se_we_refresh)
		timer_arm(l);
}

void session_timer_stop(struct leg *l)
{
	tmr_cancel(&l->t_se);
	if (l->ref_ct) {
		sip_ctsx_abandon(l->ref_ct);
		l->ref_ct = NULL;
	}
}
