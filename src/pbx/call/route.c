/* Routing a new call (issue 12) and delivering it to an extension (issue 13):
 * the caller authenticated, the number looked up in the caller's tenant, then
 * the extension's own rules decide: ring its devices, or forward the call
 * (unconditionally, on busy, on no answer, when not reachable) to another
 * extension of the tenant, or end it. Each extension the call reaches is a hop;
 * a loop or too many hops end the call with a final answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/tz.h"
#include "pbx/call/call_int.h"
#include "pbx/schedule.h"

/* A display name as written ("Alice \"A\"" or a bare token) into plain text. */
static void display_unquote(const struct pl *d, char *out, size_t size)
{
	size_t n = 0;
	const char *p = d->p, *end = d->p + d->l;
	bool quoted = d->l >= 2 && p[0] == '"' && end[-1] == '"';
	if (quoted) {
		p++;
		end--;
	}
	for (; p < end && n + 1 < size; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		out[n++] = *p;
	}
	out[n] = '\0';
}

/* A call of tenant t for req; the caller's fields are the caller's to fill. */
static struct call *call_alloc(struct call_engine *e, const struct dir_tenant *t, const struct sip_msg *req)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = e;
	c->session_id = store_id_next();
	c->cdr_id = store_id_next();
	c->start_ms = store_now_ms();
	c->sp[0] = c->sp[1] = (struct media_sockpair){ -1, -1, 0 };
	c->tenant_id = t->id;
	snprintf(c->tenant_name, sizeof(c->tenant_name), "%s", t->name);
	snprintf(c->domain, sizeof(c->domain), "%s", t->domain);
	if (req->from.dname.l)
		display_unquote(&req->from.dname, c->caller_from_name, sizeof(c->caller_from_name));
	pl_strcpy(&req->from.uri.host, c->caller_domain, sizeof(c->caller_domain));
	pl_strcpy(&req->callid, c->call_id, sizeof(c->call_id));
	pl_strcpy(&req->ruri.user, c->callee, sizeof(c->callee));
	list_append(&e->calls, &c->le, c);
	hash_insert(&e->by_sid, hash_u64(c->session_id), &c->le_sid, c);
	return c;
}

int call_ice_creds_new(struct call *c, int side)
{
	/* RFC 8445 §5.3: 24 and 128 bits at least. */
	int err = rand_chars(c->ice[side].ufrag, sizeof(c->ice[side].ufrag) - 1);
	return err ? err : rand_chars(c->ice[side].pwd, sizeof(c->ice[side].pwd) - 1);
}

int call_media_start(struct call *c)
{
	struct call_engine *e = c->e;
	int err = 0;
	for (int i = 0; i < 2 && !err; i++)
		err = call_ice_creds_new(c, i);
	if (!err)
		err = media_ports_get(e->ports, &c->sp[0]);
	if (!err)
		err = media_ports_get(e->ports, &c->sp[1]);
	if (!err) {
		c->mw = e->media[e->next_media++ % e->nmedia];
		err = media_relay_create(c->mw, c->session_id, c->sp, NULL, e->mq);
	}
	if (err)
		return err;
	c->relay = true;
	return 0;
}

/* A target per device rung (the seeds' call_targets). */
static int target_add(struct call *c, const struct loc_binding *b)
{
	int i = call_target_new(c);
	if (i < 0)
		return -1;
	struct call_target *t = &c->targets[i];
	snprintf(t->callee, sizeof(t->callee), "%s", c->target);
	char a[64];
	snprintf(t->destination, sizeof(t->destination), "sip:%s@%s", c->target, sa_str(&b->peer.addr, a, sizeof(a)));
	return i;
}

static void ring(struct call *c, const struct dir_ext *callee)
{
	struct call_engine *e = c->e;
	const struct list *bl = location_aor(e->d.loc, callee->user_id);
	for (struct le *le = bl ? bl->head : NULL; le; le = le->next) {
		const struct loc_binding *b = le->data;
		struct leg *l = leg_alloc(c, false);
		if (!l)
			break;
		l->target = target_add(c, b);
		list_append(&c->forks, &l->le, l);
		/* A device on a WebSocket is a browser: it gets a WebRTC offer. */
		l->webrtc = b->peer.tp == SIP_TP_WS || b->peer.tp == SIP_TP_WSS;
		negotiate_offer_b(c, l);
		int err = leg_invite(l, b);
		if (err) {
			log_warn("call %llu: INVITE to %s not sent: %s", (unsigned long long)c->session_id,
				 b->contact, strerror(err));
			list_unlink(&l->le);
			call_target_end(c, l, "None", 503);
			leg_free(l);
		}
	}
}

/* --- delivering to an extension -------------------------------------------------------- */

void call_fail(struct call *c, uint16_t code, const char *why)
{
	c->fail_why = why;
	call_end(c, NULL, "None", code);
}

/* The extension ringing counts the call against its limits while it is the
 * target; a forward moves the count to the next one. */
void call_target_release(struct call *c)
{
	if (c->target_counted && c->nhops)
		call_count_add(c->e, c->hops[c->nhops - 1], -1);
	c->target_counted = false;
}

/* Time windows of the rules, office hours and holidays, in the tenant's zone
 * (UTC when it names none): the local time is taken once per delivery. */
struct rules_clock {
	struct tz_tm now;
	bool ok;
};

static bool in_window(const json_t *rule, void *arg)
{
	const struct rules_clock *rc = arg;
	struct sched_shifts s = { .n = 0 };
	return rc->ok && sched_shifts_add_json(&s, rule, NULL, NULL) == 0 && sched_shifts_in(&s, &rc->now);
}

static bool in_schedules(const json_t *scheds, void *arg)
{
	const struct rules_clock *rc = arg;
	struct sched_shifts s = { .n = 0 };
	return rc->ok && sched_shifts_from_schedules(&s, scheds, NULL, NULL) == 0 && sched_shifts_in(&s, &rc->now);
}

/* Whether x's office hours are open now: a holiday (the tenant's or the
 * user's own) closes them; otherwise the week that applies decides: the user's
 * own with mode "specific", else the tenant's ("global"; a tenant that set none
 * is open at all times). */
static bool office_open(const struct dir_ext *x, const struct rules_clock *rc)
{
	const struct dir_tenant *t = x->tenant;
	if (sched_holidays_in(t->holidays, &rc->now) || sched_holidays_in(x->holidays, &rc->now))
		return false;
	const json_t *oh = json_object_get(x->settings, "office_hours");
	const char *mode = json_string_value(json_object_get(oh, "mode"));
	if (mode && strcmp(mode, "specific") == 0) {
		struct sched_shifts s = { .n = 0 };
		return sched_shifts_from_week(&s, json_object_get(oh, "week"), NULL, NULL) != 0 ||
		       sched_shifts_in(&s, &rc->now);
	}
	return !t->has_hours || sched_shifts_in(&t->hours, &rc->now);
}

/* The status that picks x's rule set: the one the user set, else, while the
 * office hours that apply are closed (or on a holiday), outside_office_hours;
 * "" for available. */
static void effective_status(const struct dir_ext *x, const struct rules_clock *rc, char *out, size_t size)
{
	const char *st = json_string_value(json_object_get(x->settings, "status"));
	if (st && strcmp(st, "available") != 0) {
		snprintf(out, size, "%s", st);
		return;
	}
	out[0] = '\0';
	if (rc->ok && !office_open(x, rc))
		snprintf(out, size, "%s", "outside_office_hours");
}

/* Now, in the tenant's time zone. */
static void rules_clock_of(struct call_engine *e, uint64_t tenant_id, struct rules_clock *rc)
{
	const struct dir_tenant *t = directory_tenant(e->d.dir, tenant_id);
	struct tz *zone = NULL;
	rc->ok = tz_cache_get(e->tzc, t && t->tz[0] ? t->tz : "UTC", &zone) == 0;
	if (!rc->ok && t && t->tz[0]) {
		/* The API checked the zone; tzdata may have lost it since. */
		log_warn("tenant %s: time zone %s not loaded; UTC instead", t->domain, t->tz);
		rc->ok = tz_cache_get(e->tzc, "UTC", &zone) == 0;
	}
	if (rc->ok)
		tz_local(zone, store_now_ms() / 1000, &rc->now);
	mem_deref(zone);
}

bool call_tenant_open(struct call_engine *e, const struct dir_tenant *t)
{
	struct rules_clock rc;
	rules_clock_of(e, t->id, &rc);
	if (!rc.ok)
		return true;
	return !sched_holidays_in(t->holidays, &rc.now) && (!t->has_hours || sched_shifts_in(&t->hours, &rc.now));
}

int call_engine_status(struct call_engine *e, uint64_t tenant_id, uint64_t user_id, char *out, size_t size)
{
	const struct dir_ext *x = directory_ext_by_user(e->d.dir, user_id);
	if (!x || x->tenant->id != tenant_id)
		return ENOENT;
	struct rules_clock rc;
	rules_clock_of(e, tenant_id, &rc);
	effective_status(x, &rc, out, size);
	if (!out[0])
		snprintf(out, size, "available");
	return 0;
}

static const struct fwd_ctx *rules_ctx(struct call *c, struct fwd_ctx *ctx, struct rules_clock *rc)
{
	rules_clock_of(c->e, c->tenant_id, rc);
	*ctx = (struct fwd_ctx){ .caller = c->caller, .in_window = in_window, .in_schedules = in_schedules,
				 .arg = rc };
	return ctx;
}


/* RFC 5806's reason for a forward by the rules that named why. */
static const char *diversion_reason(const char *why)
{
	if (strcmp(why, "busy") == 0)
		return "user-busy";
	if (strcmp(why, "no answer") == 0)
		return "no-answer";
	if (strcmp(why, "not reachable") == 0)
		return "unavailable";
	return "unconditional";
}

/* Where a destination sends the call; code is the answer when it ends there. */
static void forward_to(struct call *c, const struct fwd_dest *d, uint16_t code, const char *why)
{
	const struct dir_tenant *t = directory_tenant(c->e->d.dir, c->tenant_id);
	switch (d->action) {
	case FWD_NUMBER: {
		/* Within the tenant only: a number of another tenant is not ours to ring. */
		struct pl num = pl_cstr(d->number);
		const struct dir_ext *y = t ? directory_ext(t, &num) : NULL;
		if (!y && t) {
			/* Not an extension: a number outside, over the tenant's trunks. */
			const struct dir_ext *x = c->nhops ? directory_ext_by_user(c->e->d.dir, c->hops[c->nhops - 1]) : NULL;
			if (x) {
				log_info("call %llu: %s forwarded (%s) out to %s", (unsigned long long)c->session_id, c->target,
					 why, d->number);
				call_trunk_forward(c, x, d->number, diversion_reason(why));
				return;
			}
		}
		if (!y || !directory_usable(y)) {
			call_fail(c, 404, "Forward Destination Not Found");
			return;
		}
		log_info("call %llu: %s forwarded (%s) to %s", (unsigned long long)c->session_id, c->target, why,
			 d->number);
		call_deliver(c, y);
		return;
	}
	case FWD_VOICEMAIL:
		/* Until voicemail exists the call ends with the condition's own answer. */
		call_fail(c, code, "Voicemail Not Available");
		return;
	case FWD_HANGUP:
	case FWD_RING:
	case FWD_NONE:
		call_fail(c, code, NULL);
		return;
	}
}

/* A condition of the extension being delivered to: its destination, or the
 * condition's own answer (code). busy with "ring": ring anyway. */
static void on_condition(struct call *c, const struct dir_ext *x, enum fwd_cond cond, uint16_t code, bool exempt)
{
	static const char *const names[] = { "busy", "no answer", "not reachable" };
	struct fwd_dest d = { .action = FWD_NONE };
	if (!exempt)
		forward_on(x, c->target_status[0] ? c->target_status : NULL, cond, &d);
	if (d.action == FWD_RING && cond == FWD_BUSY && location_aor_count(c->e->d.loc, x->user_id)) {
		ring(c, x);
		if (c->forks.head)
			return;
		code = 480;
	}
	forward_to(c, &d, code, names[cond]);
}

static void on_no_answer(void *arg)
{
	struct call *c = arg;
	const struct dir_ext *x = c->nhops ? directory_ext_by_user(c->e->d.dir, c->hops[c->nhops - 1]) : NULL;
	while (c->forks.head)
		call_fork_cancel(c, c->forks.head->data, NULL, "None");
	if (!x) {
		call_fail(c, 480, NULL);
		return;
	}
	on_condition(c, x, FWD_NO_ANSWER, 480, false);
}

void call_stage_failed(struct call *c, enum fwd_cond cond, uint16_t code)
{
	tmr_cancel(&c->t_noans);
	const struct dir_ext *x = c->nhops ? directory_ext_by_user(c->e->d.dir, c->hops[c->nhops - 1]) : NULL;
	if (!x) {
		call_fail(c, code, NULL);
		return;
	}
	on_condition(c, x, cond, code, forward_exempt(x, c->caller));
}

/* The call reaches extension x: its rules say where it goes from there. */
void call_deliver(struct call *c, const struct dir_ext *x)
{
	struct call_engine *e = c->e;
	for (unsigned i = 0; i < c->nhops; i++) {
		if (c->hops[i] == x->user_id) {
			log_info("call %llu: forwarding loop at %s", (unsigned long long)c->session_id, x->number);
			call_fail(c, 482, "Forwarding Loop");
			return;
		}
	}
	if (c->nhops == CALL_MAX_HOPS) {
		call_fail(c, 483, "Too Many Forwards");
		return;
	}
	call_target_release(c);
	c->hops[c->nhops++] = x->user_id;
	call_count_add(e, x->user_id, +1);
	c->target_counted = true;
	c->stage_busy = false;
	c->status = 0;
	snprintf(c->target, sizeof(c->target), "%s", x->number);

	bool exempt = forward_exempt(x, c->caller);
	struct fwd_ctx ctx;
	struct rules_clock rc;
	struct fwd_dest d;
	const char *why = "";
	rules_ctx(c, &ctx, &rc);
	effective_status(x, &rc, c->target_status, sizeof(c->target_status));
	if (!exempt && forward_first(x, &ctx, &d, &why) && d.action != FWD_RING) {
		forward_to(c, &d, 480, why);
		return;
	}
	if (x->dnd) {
		on_condition(c, x, FWD_BUSY, 486, exempt);
		return;
	}
	/* This call is counted already: busy means others besides it. */
	unsigned n = call_count_of(e, x->user_id);
	if ((x->max_calls && n > x->max_calls) || (n > 1 && !x->call_waiting)) {
		on_condition(c, x, FWD_BUSY, 486, exempt);
		return;
	}
	if (!location_aor_count(e->d.loc, x->user_id)) {
		on_condition(c, x, FWD_NOT_REACHABLE, 480, exempt);
		return;
	}
	ring(c, x);
	if (!c->forks.head) {
		on_condition(c, x, FWD_NOT_REACHABLE, 480, exempt);
		return;
	}
	uint32_t rt = exempt ? 0 : forward_ring_time(x, c->target_status[0] ? c->target_status : NULL);
	if (rt)
		tmr_start(loop_timers(e->d.loop), &c->t_noans, rt * 1000u, on_no_answer, c);
	log_info("call %llu %s -> %s ringing %u device(s)", (unsigned long long)c->session_id, c->caller, x->number,
		 (unsigned)c->ntargets);
}

/* The A leg of a new call: answering req through a server transaction (100
 * Trying for an INVITE), the dialog pbxd's answers make. */
struct call *call_begin(struct call_engine *e, const struct dir_tenant *t, struct sip_msg *req)
{
	struct sip_stack *s = e->d.sip;
	struct call *c = call_alloc(e, t, req);
	if (!c) {
		sip_stack_reply_stateless(s, req, 500, NULL, NULL);
		return NULL;
	}
	struct leg *a = leg_alloc(c, true);
	if (!a) {
		list_unlink(&c->le);
		list_unlink(&c->le_sid);
		free(c);
		sip_stack_reply_stateless(s, req, 500, NULL, NULL);
		return NULL;
	}
	c->a = a;
	bool no_addr = leg_uas_setup(a, req) != 0;
	if (no_addr)
		sip_stack_reply_stateless(s, req, 500, "No Local Address", NULL);
	if (no_addr || sip_stack_stsx(s, req, &a->st)) {
		/* No address of ours for the caller's transport (never on a listening
		 * one), or answered already (503 at the transaction cap): no call. */
		leg_free(a);
		list_unlink(&c->le);
		list_unlink(&c->le_sid);
		free(c);
		return NULL;
	}
	sip_stsx_cancel_handler_set(a->st, call_caller_cancel, c);
	char contact[128];
	snprintf(contact, sizeof(contact), "<sip:%s;transport=%s>", a->sentby, sip_transport_uri_param(a->peer.tp));
	if (sip_dialog_uas_alloc(&a->dlg, req, sip_stsx_totag(a->st), contact)) {
		call_end(c, NULL, "None", 400);
		return NULL;
	}
	call_dialog_add(e, a);
	return c;
}

bool call_launch(struct call *c)
{
	struct call_engine *e = c->e;
	const struct dir_tenant *t = directory_tenant(e->d.dir, c->tenant_id);
	if (t && t->max_calls > 0 && call_count_of(e, t->id) >= (uint64_t)t->max_calls) {
		call_fail(c, 503, "Tenant Call Limit Reached");
		return false;
	}
	/* The caller (an extension; 0 from a trunk counts nothing) and the tenant. */
	call_count_add(e, c->caller_uid, +1);
	call_count_add(e, c->tenant_id, +1);
	c->counted = true;
	int err = call_media_start(c);
	if (err) {
		log_warn("call %llu: no media ports: %s", (unsigned long long)c->session_id, strerror(err));
		call_fail(c, 503, NULL);
		return false;
	}
	call_media_hint(c, 0, c->a);
	char *ev = e->d.start ? cdr_start_json(c) : NULL;
	if (ev) {
		e->d.start(c->tenant_id, ev, e->d.arg);
		mem_deref(ev);
	}
	tmr_start(loop_timers(e->d.loop), &c->t_ring, e->ring_timeout_ms, call_ring_timeout, c);
	return true;
}

/* Who is called: an extension of the caller's tenant by the Request-URI's
 * user, else a number out over a provider; a call from a provider goes to the
 * destination of the inbound rule of its DID (trunk.c). */
void call_route(struct call_engine *e, struct sip_msg *req)
{
	struct sip_stack *s = e->d.sip;
	if (req->ruri.scheme_id != SIP_SCHEME_SIP && req->ruri.scheme_id != SIP_SCHEME_SIPS) {
		sip_stack_reply_stateless(s, req, 416, NULL, NULL);
		return;
	}
	/* One of our own INVITEs come back (a device registered with pbxd's own
	 * address as its Contact): a loop, not a call. */
	if (sip_tsx_branch_ours(sip_stack_tsx(s), &req->via.branch)) {
		sip_stack_reply_stateless(s, req, 482, NULL, NULL);
		return;
	}
	if (call_trunk_inbound(e, req))
		return;
	/* The caller's tenant is its From domain's (or the Request-URI's, for a
	 * phone that writes pbxd's address in From). */
	struct dir_tenant *t = directory_tenant_by_domain(e->d.dir, &req->from.uri.host);
	if (!t)
		t = directory_tenant_by_domain(e->d.dir, &req->ruri.host);
	struct pl realm = t ? pl_cstr(t->domain) : req->from.uri.host;
	/* Every request that reaches a user is authenticated: nothing is relayed
	 * for an unknown source. */
	struct dir_ext *caller = authn_request(e->d.authn, s, req, t, &realm, &req->from.uri.user, true);
	if (!caller)
		return;
	if (e->closing) {
		sip_stack_reply_stateless(s, req, 503, "Too Many Calls", "Retry-After: 5\r\n");
		return;
	}
	if (!sip_msg_hdr(req, SIP_HDR_CONTACT)) {
		sip_stack_reply_stateless(s, req, 400, "Missing Contact", NULL);
		return;
	}
	struct call *c = call_begin(e, t, req);
	if (!c)
		return;
	c->caller_uid = caller->user_id;
	snprintf(c->caller, sizeof(c->caller), "%s", caller->number);
	/* The display name is the user's (USR-03), else what the phone wrote. */
	snprintf(c->caller_name, sizeof(c->caller_name), "%s",
		 caller->display_name[0] ? caller->display_name : c->caller_from_name);

	const char *why = NULL;
	if (fac_is_code(&req->ruri.user)) {
		uint16_t code = fac_apply(e, caller, &req->ruri.user, &why);
		log_info("call %llu: %s dialled %s: %s", (unsigned long long)c->session_id, c->caller, c->callee, why);
		c->fail_why = why;
		call_end(c, NULL, "None", code);
		return;
	}
	uint16_t code = negotiate_offer_a(c, req, &why);
	if (!code)
		code = session_timer_check(e, req, c->fail_hdrs, sizeof(c->fail_hdrs));
	if (code) {
		c->fail_why = why;
		call_end(c, NULL, "None", code);
		return;
	}
	session_timer_uas(c->a, req);
	if (req->maxfwd == 1) {
		/* Every hop counts, pbxd too (RFC 3261 §16.6 item 3): none left for the device. */
		call_end(c, NULL, "None", 483);
		return;
	}
	c->max_forwards = req->maxfwd > 0 ? req->maxfwd - 1 : 70;
	struct dir_ext *callee = directory_ext(t, &req->ruri.user);
	if (!callee) {
		call_trunk_outbound(c, caller);
		return;
	}
	if (!directory_usable(callee)) {
		call_end(c, NULL, "None", 404);
		return;
	}
	c->callee_uid = callee->user_id;
	snprintf(c->callee_name, sizeof(c->callee_name), "%s", callee->display_name);
	if (call_launch(c))
		call_deliver(c, callee);
}
