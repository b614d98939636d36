/* The call engine's core: requests in, calls routed, legs found by dialog, calls
 * ended and counted, the media worker driven. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/tz.h"
#include "pbx/call/call_int.h"
#include "sip/print.h"

const struct conf_opt call_opts[] = {
	{ "call-ring-timeout", CONF_INT, "60", 5, 3600, NULL,
	  "seconds a call rings before it is given up (the caller gets 408)" },
	{ "session-expires", CONF_INT, "1800", 10, 86400, NULL,
	  "session timer interval (RFC 4028) in seconds: each leg of a call is refreshed within it, by"
	  " the phone or by pbxd, and a call whose refresh fails is hung up" },
	{ "session-min-se", CONF_INT, "90", 10, 86400, NULL,
	  "the shortest session interval a phone may ask for (422 with Min-SE below it)" },
};
const size_t call_opts_count = sizeof(call_opts) / sizeof(call_opts[0]);

/* A/V formats pbxd relays. It does not transcode: a leg's offer keeps the
 * caller's formats that are listed here, and the callee chooses among them. */
static const struct sdp_codec audio_caps[] = {
	{ .pt = 0, .name = "PCMU", .clock = 8000, .channels = 1 },
	{ .pt = 8, .name = "PCMA", .clock = 8000, .channels = 1 },
	{ .pt = 9, .name = "G722", .clock = 8000, .channels = 1 },
	{ .pt = 111, .name = "opus", .clock = 48000, .channels = 2 },
	{ .pt = 18, .name = "G729", .clock = 8000, .channels = 1 },
	{ .pt = 3, .name = "GSM", .clock = 8000, .channels = 1 },
	{ .pt = 101, .name = "telephone-event", .clock = 8000, .channels = 1, .fmtp = "0-16" },
	{ .pt = 110, .name = "telephone-event", .clock = 48000, .channels = 1, .fmtp = "0-16" },
};

/* Active calls per user and per tenant (ids never collide: one id space). */
struct call_count {
	uint64_t id;
	unsigned n;
	struct le le;
};

#define ACK_WAIT_MS 32000 /* 64*T1 with the default T1, when --sip-t1 is not known */

uint64_t call_rand(struct call_engine *e)
{
	e->rnd ^= e->rnd >> 12;
	e->rnd ^= e->rnd << 25;
	e->rnd ^= e->rnd >> 27;
	return e->rnd * 2685821657736338717ull;
}

/* --- counts ------------------------------------------------------------------ */

static struct call_count *count_find(struct call_engine *e, uint64_t id)
{
	LIST_FOREACH(hash_bucket(&e->busy, hash_u64(id)), le) {
		struct call_count *cc = le->data;
		if (cc->id == id)
			return cc;
	}
	return NULL;
}

unsigned call_count_of(struct call_engine *e, uint64_t id)
{
	const struct call_count *cc = id ? count_find(e, id) : NULL;
	return cc ? cc->n : 0;
}

void call_count_add(struct call_engine *e, uint64_t id, int delta)
{
	if (!id)
		return;
	struct call_count *cc = count_find(e, id);
	if (!cc && delta > 0) {
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return; /* uncounted: a limit is a little loose under no memory */
		cc->id = id;
		hash_insert(&e->busy, hash_u64(id), &cc->le, cc);
	}
	if (!cc)
		return;
	cc->n = delta < 0 && cc->n == 0 ? 0 : (unsigned)((int)cc->n + delta);
	if (!cc->n) {
		list_unlink(&cc->le);
		free(cc);
	}
}

/* The caller and the tenant count a call from its start; the extension ringing
 * (or answered) counts it while it is the target (route.c moves it). */
static void counts_apply(struct call *c, int delta)
{
	call_count_add(c->e, c->caller_uid, delta);
	call_count_add(c->e, c->tenant_id, delta);
}

/* --- dialogs ------------------------------------------------------------------ */

void call_dialog_add(struct call_engine *e, struct leg *l)
{
	const char *cid = sip_dialog_callid(l->dlg);
	struct pl pl = pl_cstr(cid);
	hash_insert(&e->dialogs, pl_hash(&pl, 0), &l->le_dlg, l);
}

/* The leg req belongs to: its Call-ID and our tag in To; the remote tag in From
 * too once the dialog has one (a B leg learns it from the first tagged answer). */
static struct leg *dialog_find(struct call_engine *e, const struct sip_msg *req)
{
	LIST_FOREACH(hash_bucket(&e->dialogs, pl_hash(&req->callid, 0)), le) {
		struct leg *l = le->data;
		if (l->dlg && sip_dialog_match(l->dlg, req))
			return l;
	}
	return NULL;
}

/* --- media -------------------------------------------------------------------- */

static void on_dtmf(struct call_engine *e, const struct media_dtmf *d);

static void on_media(int id, void *data, void *arg)
{
	struct call_engine *e = arg;
	if (id == MEDIA_MSG_DTMF) {
		on_dtmf(e, data);
		mem_deref(data);
		return;
	}
	struct media_relay_report *r = data;
	if (id == MEDIA_MSG_DONE) {
		if (r->err)
			log_warn("call %llu: media relay not created: %s", (unsigned long long)r->id, strerror(r->err));
		for (int i = 0; i < 2; i++)
			media_ports_put(e->ports, &r->side[i]);
	}
	mem_deref(r);
}

void call_dtls_role_from(struct leg *l, const char *their_setup)
{
	l->dtls_role = strcasecmp(their_setup, "passive") == 0 ? MEDIA_DTLS_CLIENT : MEDIA_DTLS_SERVER;
	l->dtls_role_set = true;
}

/* A browser's side: pbxd's credentials of the side, the browser's terms from
 * its SDP's (first kept) stream. */
static void media_webrtc_side(struct call *c, int side, const struct leg *l)
{
	const struct sdp_neg *neg = &l->neg;
	for (unsigned i = 0; i < neg->nstreams; i++) {
		const struct sdp_stream *st = &neg->streams[i];
		if (st->rejected)
			continue;
		struct media_webrtc_params p = { .role = l->dtls_role };
		snprintf(p.local_ufrag, sizeof(p.local_ufrag), "%s", c->ice[side].ufrag);
		snprintf(p.local_pwd, sizeof(p.local_pwd), "%s", c->ice[side].pwd);
		snprintf(p.remote_ufrag, sizeof(p.remote_ufrag), "%s", st->r_ufrag);
		snprintf(p.remote_fp, sizeof(p.remote_fp), "%s", st->r_fp);
		media_relay_webrtc(c->mw, c->session_id, side, &p, c->e->dtls);
		return;
	}
}

/* What a leg sends: the first codec of its relayed stream, and its events. */
static bool side_codec(const struct leg *l, struct media_codec_side *out)
{
	for (unsigned i = 0; l && i < l->neg.nstreams; i++) {
		const struct sdp_stream *st = &l->neg.streams[i];
		if (st->rejected || !st->ncodecs)
			continue;
		*out = (struct media_codec_side){ media_codec_of(st->codecs[0].name, st->codecs[0].clock),
						  st->codecs[0].pt, st->te_pt, st->te.clock };
		return true;
	}
	return false;
}

/* Once both legs agreed, the relay transcodes when they send different codecs
 * (negotiate.c let it come to that), and stops when they send the same again. */
static void media_codecs(struct call *c, const struct leg *b)
{
	struct media_codec_side s[2];
	if (!b || !c->a->negotiated || !b->negotiated || !side_codec(c->a, &s[0]) || !side_codec(b, &s[1]))
		return;
	bool x = media_codec_transcodable(s[0].codec, s[1].codec);
	if (!x && !c->xcoding)
		return;
	if (x && c->xcoding && !memcmp(s, c->xcodecs, sizeof(s)))
		return;
	if (x)
		log_info("call %llu: transcoding %s pt %d <-> pt %d", (unsigned long long)c->session_id,
			 c->a->neg.streams[0].codecs[0].name, s[0].pt, s[1].pt);
	if (!x)
		s[0].codec = s[1].codec = MEDIA_CODEC_NONE;
	if (media_relay_codecs(c->mw, c->session_id, s) == 0) {
		c->xcoding = x;
		memcpy(c->xcodecs, s, sizeof(s));
	}
}

void call_media_hint(struct call *c, int side, const struct leg *l)
{
	if (!c->relay)
		return;
	media_codecs(c, side == 1 ? l : c->b);
	const struct sdp_neg *neg = &l->neg;
	const struct sip_peer *sig = &l->peer;
	if (l->webrtc) {
		media_webrtc_side(c, side, l);
		goto dtmf;
	}
	struct media_hint h = { 0 };
	for (unsigned i = 0; i < neg->nstreams; i++) {
		const struct sdp_stream *st = &neg->streams[i];
		if (st->rejected)
			continue;
		/* NAT without settings: an address that means something only inside the
		 * peer's network, written by a peer whose signalling came from elsewhere,
		 * is never sent to; latching finds where its media comes from. */
		bool usable = st->remote.len && !sa_is_any(&st->remote) &&
			      (!sa_is_private(&st->remote) || sa_eq_addr(&st->remote, &sig->addr));
		if (usable) {
			h.rtp = st->remote;
			if (st->remote_rtcp.len && sa_eq_addr(&st->remote_rtcp, &st->remote))
				h.rtcp = st->remote_rtcp;
		}
		break; /* one relayed stream per call for now: the first */
	}
	/* Whatever the SDP says, new media from where the side's signalling comes
	 * from is its own (a NATed phone that moved its media). */
	h.move_from = sig->addr;
	media_relay_hint(c->mw, c->session_id, side, &h);
dtmf:
	/* DTMF the side sends (RFC 4733) is relayed as it came, and told to us. */
	for (unsigned i = 0; i < neg->nstreams; i++) {
		const struct sdp_stream *st = &neg->streams[i];
		if (!st->rejected) {
			media_relay_dtmf(c->mw, c->session_id, side, st->te_pt, st->te.clock);
			break;
		}
	}
}

static struct call *call_by_sid(struct call_engine *e, uint64_t sid)
{
	LIST_FOREACH(hash_bucket(&e->by_sid, hash_u64(sid)), le) {
		struct call *c = le->data;
		if (c->session_id == sid)
			return c;
	}
	return NULL;
}

/* A digit a phone sent in its media. Applications (IVR, feature codes in a call)
 * will take it from here; for now it is logged. */
static void on_dtmf(struct call_engine *e, const struct media_dtmf *d)
{
	struct call *c = call_by_sid(e, d->id);
	if (!c)
		return;
	log_info("call %llu: DTMF %c from the %s (%u ms)", (unsigned long long)c->session_id, d->digit,
		 d->side == 0 ? "caller" : "callee", d->duration_ms);
}

/* --- ending -------------------------------------------------------------------- */

void call_target_end(struct call *c, struct leg *l, const char *reason, uint16_t status)
{
	if (l->target < 0)
		return;
	struct call_target *t = &c->targets[l->target];
	if (!t->end_ms)
		t->end_ms = store_now_ms();
	if (!t->end_reason)
		t->end_reason = reason;
	if (status && !t->status)
		t->status = status;
}

static const char reason_elsewhere[] = "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n";

void call_fork_cancel(struct call *c, struct leg *l, const char *why_hdr, const char *reason)
{
	list_unlink(&l->le);
	if (l->ct) {
		sip_ctsx_cancel(l->ct, why_hdr);
		sip_ctsx_abandon(l->ct);
		l->ct = NULL;
	}
	call_target_end(c, l, reason, 0);
	leg_free(l);
}

void call_end(struct call *c, struct leg *from, const char *reason, uint16_t status)
{
	struct call_engine *e = c->e;
	c->end_ms = store_now_ms();
	if (!c->end_reason)
		c->end_reason = reason;
	if (status && !c->status)
		c->status = status;
	tmr_cancel(&c->t_ring);
	tmr_cancel(&c->t_ack);
	tmr_cancel(&c->t_noans);
	struct leg *a = c->a;
	call_reoffer_abort(a);
	session_timer_stop(a);
	if (c->b) {
		call_reoffer_abort(c->b);
		session_timer_stop(c->b);
	}
	if (a->st) {
		/* The caller is still waiting: the failure, or 487 when pbxd hangs up. */
		leg_reply(a, status ? status : 487, c->fail_why, false);
	} else if (a->state == LEG_ANSWERED && from != a) {
		leg_request(a, "BYE", NULL, NULL, NULL, NULL, NULL);
	}
	while (c->forks.head)
		call_fork_cancel(c, c->forks.head->data, NULL, "cancelled");
	if (c->b) {
		if (from != c->b)
			leg_request(c->b, "BYE", NULL, NULL, NULL, NULL, NULL);
		call_target_end(c, c->b, c->end_reason, 0);
	}
	if (c->relay)
		media_relay_destroy(c->mw, c->session_id);
	else
		for (int i = 0; i < 2; i++)
			media_ports_put(e->ports, &c->sp[i]);
	if (e->d.cdr) {
		struct store_cdr *cdr = cdr_build(c);
		if (cdr)
			e->d.cdr(cdr, e->d.arg);
	}
	if (c->counted)
		counts_apply(c, -1);
	call_trunk_end(c);
	call_target_release(c);
	log_info("call %llu %s -> %s ended: %s%s", (unsigned long long)c->session_id, c->caller, c->callee,
		 c->end_reason, c->status ? " (failed)" : "");
	leg_free(c->b);
	leg_free(c->a);
	list_unlink(&c->le);
	list_unlink(&c->le_sid);
	free(c->targets);
	free(c->routes);
	free(c);
}

int call_target_new(struct call *c)
{
	if (c->ntargets == CALL_MAX_TARGETS)
		return -1;
	if (c->ntargets == c->targets_cap) {
		unsigned cap = c->targets_cap ? 2 * c->targets_cap : 2;
		if (cap > CALL_MAX_TARGETS)
			cap = CALL_MAX_TARGETS;
		struct call_target *v = realloc(c->targets, cap * sizeof(*v));
		if (!v)
			return -1;
		c->targets = v;
		c->targets_cap = cap;
	}
	struct call_target *t = &c->targets[c->ntargets];
	memset(t, 0, sizeof(*t));
	t->id = store_id_next();
	t->start_ms = store_now_ms();
	return (int)c->ntargets++;
}

/* --- progress ----------------------------------------------------------------- */

static void on_ack_timeout(void *arg)
{
	struct call *c = arg;
	log_info("call %llu: the caller never acknowledged the answer", (unsigned long long)c->session_id);
	call_end(c, NULL, "caller_disconnect", 408);
}

void call_answered(struct call *c, struct leg *b)
{
	struct call_engine *e = c->e;
	list_unlink(&b->le);
	c->b = b;
	c->state = CALL_TALKING;
	c->answer_ms = store_now_ms();
	tmr_cancel(&c->t_ring);
	tmr_cancel(&c->t_noans);
	if (b->target >= 0)
		c->targets[b->target].answer_ms = c->answer_ms;
	while (c->forks.head)
		call_fork_cancel(c, c->forks.head->data, reason_elsewhere, "cancelled");
	leg_reply(c->a, 200, NULL, true);
	c->a->state = LEG_ANSWERED;
	session_timer_start(c->a);
	session_timer_start(b);
	tmr_start(loop_timers(e->d.loop), &c->t_ack, e->ack_wait_ms, on_ack_timeout, c);
	log_info("call %llu %s -> %s answered", (unsigned long long)c->session_id, c->caller, c->callee);
	char *ev = e->d.answered ? cdr_answered_json(c) : NULL;
	if (ev) {
		e->d.answered(c->tenant_id, ev, e->d.arg);
		mem_deref(ev);
	}
}

/* RFC 3261 §16.7 item 6, simplified: a 6xx ends the search; otherwise busy wins
 * over other failures (the callee exists and is busy), then the lowest class. */
static uint16_t better(uint16_t best, uint16_t s)
{
	if (!best || s >= 600)
		return best >= 600 ? best : s;
	if (best >= 600)
		return best;
	if (s == 486 || s == 600)
		return s;
	if (best == 486)
		return best;
	return s / 100 < best / 100 ? s : best;
}

void call_fork_failed(struct call *c, struct leg *b, uint16_t status)
{
	list_unlink(&b->le);
	call_target_end(c, b, "None", status);
	c->status = better(c->status, status);
	c->stage_busy |= status == 486 || status == 600;
	leg_free(b);
	if (c->forks.head || c->b || call_trunk_failover(c, status))
		return;
	uint16_t s = c->status ? c->status : 480;
	/* A failure between pbxd and the device (no answer, its transport, a
	 * challenge of its own, a loop) is not the caller's to see or answer. */
	if (s == 408 || s == 503 || s == 487 || s == 401 || s == 407 || s == 482 || s == 483)
		s = 480;
	c->status = 0;
	/* Out over a trunk, every provider tried: that is the end (a forward's
	 * rules are not run again for what the outside answered). */
	if (c->dir == CALL_DIR_OUT || c->dir == CALL_DIR_IN2OUT) {
		call_end(c, NULL, "None", s);
		return;
	}
	/* Every device refused: busy if one said so, else not reachable (issue 13). */
	call_stage_failed(c, c->stage_busy ? FWD_BUSY : FWD_NOT_REACHABLE, s);
}

void call_ring_timeout(void *arg)
{
	struct call *c = arg;
	call_end(c, NULL, "cancelled", 408);
}

void call_caller_cancel(struct sip_stsx *t, void *arg)
{
	struct call *c = arg;
	(void)t;
	leg_reply(c->a, 487, NULL, false);
	call_end(c, c->a, "cancelled", 0);
}

/* --- requests in a dialog ----------------------------------------------------------- */

static void reply_in_dialog(struct call_engine *e, struct sip_msg *req, uint16_t code, const char *reason)
{
	struct sip_stsx *t;
	if (sip_stack_stsx(e->d.sip, req, &t) == 0)
		sip_stsx_reply(t, code, reason, NULL, NULL, NULL);
}

static void in_dialog(struct call_engine *e, struct leg *l, struct sip_msg *req)
{
	struct call *c = l->call;
	if (req->mid == SIP_ACK) {
		if (l == c->a && !c->a_acked && c->a->state == LEG_ANSWERED) {
			c->a_acked = true;
			tmr_cancel(&c->t_ack);
			const char *why = "";
			if (c->a->awaiting_answer) {
				if (negotiate_ack_answer(c, req, &why) == 0) {
					call_media_hint(c, 0, c->a);
				} else {
					log_info("call %llu: the caller's ACK has no usable answer (%s)",
						 (unsigned long long)c->session_id, why);
					call_end(c, NULL, "caller_disconnect", 488);
				}
			}
		}
		return;
	}
	if (sip_dialog_request_received(l->dlg, req)) {
		sip_stack_reply_stateless(e->d.sip, req, 500, "CSeq Out Of Order", NULL);
		return;
	}
	switch (req->mid) {
	case SIP_BYE:
		if (l != c->a && l != c->b) {
			reply_in_dialog(e, req, 481, NULL); /* a device that never answered */
			return;
		}
		reply_in_dialog(e, req, 200, NULL);
		call_end(c, l, l == c->a ? "caller_disconnect" : "callee_disconnect", 0);
		return;
	case SIP_INVITE:
	case SIP_UPDATE:
		if (l != c->a && l != c->b) {
			reply_in_dialog(e, req, 481, NULL);
			return;
		}
		session_timer_refreshed(l);
		call_reoffer(c, l, req);
		return;
	default:
		reply_in_dialog(e, req, 501, NULL);
		return;
	}
}

static bool on_request(struct sip_stack *s, struct sip_msg *req, void *arg)
{
	struct call_engine *e = arg;
	if (req->to.tag.l || req->mid == SIP_ACK) {
		struct leg *l = dialog_find(e, req);
		if (l)
			in_dialog(e, l, req);
		else if (req->mid != SIP_ACK)
			sip_stack_reply_stateless(s, req, 481, NULL, NULL); /* RFC 3261 §12.2.2 */
		return true;
	}
	if (req->mid != SIP_INVITE) {
		sip_stack_reply_stateless(s, req, 481, NULL, NULL);
		return true;
	}
	call_route(e, req);
	return true;
}

/* --- the engine ------------------------------------------------------------------- */

static int rtp_setup(struct call_engine *e, const struct conf *conf)
{
	const char *addr = conf_str(conf, "rtp-address");
	const char *sip = conf_str(conf, "sip-address");
	/* Unset: the SIP address when it is one address, else every address (the
	 * SDP then names the address each leg's signalling reached). */
	char first[48] = "";
	if ((!addr || !*addr) && sip && *sip && !strpbrk(sip, ", "))
		snprintf(first, sizeof(first), "%s", sip);
	const char *bind = addr && *addr ? addr : first;
	struct sa sa;
	if (*bind && sa_set(&sa, bind, 0)) {
		log_error("rtp-address '%s' is not a numeric address", bind);
		return EINVAL;
	}
	if (*bind && !sa_is_any(&sa))
		snprintf(e->rtp_addr, sizeof(e->rtp_addr), "%s", bind);
	uint16_t min, max;
	if (media_ports_parse_range(conf_str(conf, "rtp-ports"), &min, &max)) {
		log_error("rtp-ports '%s' is not MIN-MAX", conf_str(conf, "rtp-ports"));
		return EINVAL;
	}
	int err = media_ports_alloc(&e->ports, *bind ? bind : NULL, min, max);
	e->nmedia = (unsigned)conf_int(conf, "media-threads");
	for (unsigned i = 0; !err && i < e->nmedia; i++)
		err = media_worker_start_io(&e->media[i], conf_bool(conf, "media-io-uring"));
	return err;
}

int call_engine_alloc(struct call_engine **cp, const struct call_deps *d)
{
	struct call_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->d = *d;
	if (getrandom(&e->rnd, sizeof(e->rnd), 0) != sizeof(e->rnd) || !e->rnd)
		e->rnd = (uint64_t)store_now_ms() | 1;
	/* Browsers speak DTLS-SRTP (RFC 8827): their legs are WebRTC ones. */
	static const char *const protos[] = { "RTP/AVP", "UDP/TLS/RTP/SAVPF", NULL };
	e->caps = (struct sdp_caps){ .audio = audio_caps, .naudio = sizeof(audio_caps) / sizeof(audio_caps[0]),
				     .protos = protos };
	e->ring_timeout_ms = (uint32_t)conf_int(d->conf, "call-ring-timeout") * 1000u;
	/* The 2xx is retransmitted (and its ACK awaited) 64*T1 (RFC 3261 §13.3.1.4),
	 * T1 as the transactions have it. */
	long long t1 = conf_int(d->conf, "sip-t1");
	e->ack_wait_ms = t1 > 0 ? (uint32_t)(64 * t1) : ACK_WAIT_MS;
	e->se_s = (uint32_t)conf_int(d->conf, "session-expires");
	e->min_se_s = (uint32_t)conf_int(d->conf, "session-min-se");
	if (e->se_s < e->min_se_s)
		e->se_s = e->min_se_s;
	int err = hash_init(&e->by_sid, 4096) || hash_init(&e->dialogs, 8192) || hash_init(&e->busy, 4096) ? ENOMEM : 0;
	if (!err)
		err = mqueue_alloc(&e->mq, d->loop, on_media, e);
	if (!err)
		err = tz_cache_alloc(&e->tzc, NULL);
	if (!err)
		err = rtp_setup(e, d->conf);
	if (!err)
		err = media_dtls_cert_new(&e->dtls);
	if (!err) {
		const struct sip_listener l = {
			.methods = SIP_METHOD_BIT(SIP_INVITE) | SIP_METHOD_BIT(SIP_BYE) | SIP_METHOD_BIT(SIP_ACK) |
				   SIP_METHOD_BIT(SIP_UPDATE),
			.h = on_request, .arg = e, .accept = "application/sdp", .produces = "application/sdp" };
		err = sip_stack_listen(d->sip, &l);
	}
	if (err) {
		call_engine_free(e);
		return err;
	}
	*cp = e;
	return 0;
}

size_t call_engine_active(const struct call_engine *e)
{
	return e ? e->calls.n : 0;
}

void call_engine_free(struct call_engine *e)
{
	if (!e)
		return;
	e->closing = true;
	while (e->calls.head)
		call_end(e->calls.head->data, NULL, "cancelled", 503);
	/* The worker handles every destroy first, and its reports give the ports back. */
	for (unsigned i = 0; i < e->nmedia; i++)
		media_worker_stop(e->media[i]);
	if (e->mq) {
		mqueue_flush(e->mq);
		mqueue_free(e->mq);
	}
	unsigned left = e->ports ? media_ports_in_use(e->ports) : 0;
	if (left)
		log_error("call engine: %u RTP port pairs were not given back", left);
	media_ports_free(e->ports);
	for (uint32_t i = 0; i <= e->busy.mask && e->busy.buckets; i++) {
		while (e->busy.buckets[i].head) {
			struct call_count *cc = e->busy.buckets[i].head->data;
			list_unlink(&cc->le);
			free(cc);
		}
	}
	mem_deref(e->tzc);
	mem_deref(e->dtls);
	hash_close(&e->by_sid);
	hash_close(&e->dialogs);
	hash_close(&e->busy);
	free(e);
}

static bool visible(const struct call *c, uint64_t tenant_id, uint64_t user_id)
{
	return c->tenant_id == tenant_id && (!user_id || c->caller_uid == user_id || c->callee_uid == user_id);
}

int call_engine_list(struct call_engine *e, uint64_t tenant_id, uint64_t user_id, struct pbx_call_info **out,
		     size_t *n)
{
	size_t cnt = 0;
	LIST_FOREACH(&e->calls, le)
		cnt += visible(le->data, tenant_id, user_id);
	struct pbx_call_info *v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v)
		return ENOMEM;
	size_t i = 0;
	LIST_FOREACH(&e->calls, le) {
		if (visible(le->data, tenant_id, user_id))
			cdr_info(le->data, &v[i++]);
	}
	*out = v;
	*n = i;
	return 0;
}

int call_engine_hangup(struct call_engine *e, uint64_t tenant_id, uint64_t session_id)
{
	struct call *c = call_by_sid(e, session_id);
	if (!c || c->tenant_id != tenant_id)
		return ENOENT;
	call_end(c, NULL, c->state == CALL_TALKING ? "callee_disconnect" : "cancelled", 0);
	return 0;
}
