/* Calls from and to the outside over SIP trunks (issue 15). Inbound: an
 * INVITE from a provider's address is the provider's (never a user's: it is
 * not challenged); its DID picks the inbound rule, across every tenant, whose
 * destination it reaches. Outbound: a number no extension has goes out over
 * the providers of the tenant's first matching outbound rule, in order (the
 * next on 5xx, 408 or no answer), after the toll-fraud caps and number lists
 * allowed it, with the extension's outbound caller ID for that provider. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "pbx/call/call_int.h"
#include "sip/auth.h"

/* --- inbound ------------------------------------------------------------------------- */

/* The DID: the Request-URI's user, unless the provider sends to the contact
 * pbxd registered (its account's name), when the To user says it. */
static void did_of(const struct trunk_provider *p, const struct sip_msg *req, char *out, size_t size)
{
	pl_strcpy(&req->ruri.user, out, size);
	if ((!out[0] || (p->reg && strcmp(out, p->username) == 0)) && req->to.uri.user.l)
		pl_strcpy(&req->to.uri.user, out, size);
}

/* What the caller's number is: P-Asserted-Identity's user when the provider
 * asserts one, else From's. */
static void caller_of(const struct sip_msg *req, char *out, size_t size)
{
	pl_strcpy(&req->from.uri.user, out, size);
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_P_ASSERTED_IDENTITY);
	struct sip_addr a;
	if (h && sip_addr_parse(&a, &h->val, false) == 0 && a.uri.user.l)
		pl_strcpy(&a.uri.user, out, size);
}

bool call_trunk_inbound(struct call_engine *e, struct sip_msg *req)
{
	struct sip_stack *s = e->d.sip;
	const struct trunk_provider *p = e->d.trunks ? trunks_provider_by_source(e->d.trunks, &req->src.addr) : NULL;
	if (!p)
		return false;
	char did[PBX_NUMBER_SZ], from[PBX_NUMBER_SZ];
	did_of(p, req, did, sizeof(did));
	caller_of(req, from, sizeof(from));
	struct trunk_inbound_match m;
	if (trunks_inbound(e->d.trunks, p, did, &m)) {
		log_info("trunk %s: call from %s to unknown DID %s refused", p->name, from, did);
		sip_stack_reply_stateless(s, req, 404, "Unknown DID", NULL);
		return true;
	}
	struct dir_tenant *t = directory_tenant(e->d.dir, m.tenant_id);
	if (!t || !t->enabled) {
		sip_stack_reply_stateless(s, req, 404, "Unknown DID", NULL);
		return true;
	}
	if (trunks_blacklisted(e->d.trunks, t->id, from, p->cc)) {
		log_info("trunk %s: call from blacklisted %s to %s refused", p->name, from, did);
		sip_stack_reply_stateless(s, req, 403, "Blacklisted", NULL);
		return true;
	}
	if (e->closing) {
		sip_stack_reply_stateless(s, req, 503, "Too Many Calls", "Retry-After: 5\r\n");
		return true;
	}
	if (!sip_msg_hdr(req, SIP_HDR_CONTACT)) {
		sip_stack_reply_stateless(s, req, 400, "Missing Contact", NULL);
		return true;
	}
	struct call *c = call_begin(e, t, req);
	if (!c)
		return true;
	c->dir = CALL_DIR_IN;
	snprintf(c->did, sizeof(c->did), "%s", did);
	snprintf(c->trunk_name, sizeof(c->trunk_name), "%s", p->name);
	snprintf(c->caller, sizeof(c->caller), "%s", from);
	snprintf(c->caller_name, sizeof(c->caller_name), "%s", c->caller_from_name);
	leg_public_address(c->a, trunks_public_address(e->d.trunks));
	if (!trunks_provider_call_add(e->d.trunks, p->id)) {
		call_fail(c, 503, "Trunk Call Limit Reached");
		return true;
	}
	c->trunk_pid = p->id;
	const char *why = NULL;
	uint16_t code = negotiate_offer_a(c, req, &why);
	if (!code)
		code = session_timer_check(e, req, c->fail_hdrs, sizeof(c->fail_hdrs));
	if (code) {
		call_fail(c, code, why);
		return true;
	}
	session_timer_uas(c->a, req);
	c->max_forwards = req->maxfwd > 1 ? req->maxfwd - 1 : 70;
	/* Office hours closed: the rule's other destination, when it has one. */
	bool open = !m.has_outside || call_tenant_open(e, t);
	const char *action = open ? m.action : m.out_action, *number = open ? m.number : m.out_number;
	snprintf(c->callee, sizeof(c->callee), "%s", number);
	if (strcmp(action, "number") != 0) {
		call_fail(c, 480, open ? NULL : "Outside Office Hours");
		return true;
	}
	struct pl num = pl_cstr(number);
	const struct dir_ext *x = directory_ext(t, &num);
	if (!x || !directory_usable(x)) {
		call_fail(c, 404, NULL);
		return true;
	}
	c->callee_uid = x->user_id;
	snprintf(c->callee_name, sizeof(c->callee_name), "%s", x->display_name);
	log_info("call %llu: trunk %s, %s -> DID %s (%s)", (unsigned long long)c->session_id, p->name, from, did,
		 number);
	if (call_launch(c))
		call_deliver(c, x);
	return true;
}

/* --- outbound ------------------------------------------------------------------------ */

/* The extension's caller ID for provider p: its outbound_caller_ids entry
 * naming the provider, else its own number. */
static void caller_id_for(const struct dir_ext *x, const struct trunk_provider *p, char *out, size_t size)
{
	snprintf(out, size, "%s", x->number);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(x->settings, "outbound_caller_ids"), i, v) {
		const char *trunk = json_string_value(json_object_get(v, "trunk"));
		const char *cid = json_string_value(json_object_get(v, "caller_id"));
		if (trunk && cid && cid[0] && strcmp(trunk, p->name) == 0) {
			snprintf(out, size, "%s", cid);
			return;
		}
	}
}

static void target_add_trunk(struct call *c, struct leg *l, const struct trunk_provider *p, const char *number)
{
	int i = call_target_new(c);
	if (i < 0)
		return;
	struct call_target *t = &c->targets[i];
	snprintf(t->callee, sizeof(t->callee), "%.63s", number);
	snprintf(t->destination, sizeof(t->destination), "sip:%.32s@%.56s", number, p->host);
	l->target = i;
}

static void provider_release(struct call *c)
{
	if (c->trunk_pid)
		trunks_provider_call_del(c->e->d.trunks, c->trunk_pid);
	c->trunk_pid = 0;
}

/* Who a call out over p presents. */
struct presented {
	char cid[PBX_NUMBER_SZ];
	const char *display;
	bool anonymous;
	char diversion[TRUNK_NUM_SZ + 300]; /* a forward's header line, else "" */
};

/* A call out presents extension x's caller ID for p (USR-15, USR-18). A
 * forward by x presents whoever called, as a diverting PBX does: their number
 * from a provider, or a calling extension's own caller ID for p; the Diversion
 * (RFC 5806) names x's number, which is what lets a carrier accept a caller
 * that is not its customer. Unless x always delivers its own (USR-19). */
static void present(struct call *c, const struct dir_ext *x, const struct trunk_provider *p, struct presented *o)
{
	caller_id_for(x, p, o->cid, sizeof(o->cid));
	o->display = c->caller_name;
	o->anonymous = c->anonymous;
	o->diversion[0] = '\0';
	if (!c->div_reason)
		return;
	snprintf(o->diversion, sizeof(o->diversion), "Diversion: <sip:%s@%s>;reason=%s;counter=%u\r\n", o->cid,
		 p->host, c->div_reason, c->nhops ? c->nhops : 1);
	if (json_is_true(json_object_get(x->settings, "deliver_outbound_caller_id"))) {
		o->display = x->display_name;
		return;
	}
	const struct dir_ext *orig = c->caller_uid ? directory_ext_by_user(c->e->d.dir, c->caller_uid) : NULL;
	if (orig) {
		caller_id_for(orig, p, o->cid, sizeof(o->cid));
		o->anonymous = json_is_true(json_object_get(orig->settings, "anonymous_outbound"));
	} else if (c->caller[0] && strcasecmp(c->caller, "anonymous") != 0) {
		snprintf(o->cid, sizeof(o->cid), "%s", c->caller);
		o->anonymous = false;
	} else {
		/* A caller who withheld their number stays withheld; the carrier
		 * is asserted the diverting extension's. */
		o->anonymous = true;
	}
}

/* The call's table of routes out, made when it first goes out; false (the
 * call ended) without memory. */
static bool routes_alloc(struct call *c)
{
	if (!c->routes)
		c->routes = calloc(TRUNK_ROUTE_MAX, sizeof(*c->routes));
	if (!c->routes)
		call_fail(c, 500, NULL);
	return c->routes != NULL;
}

/* Sends the call over the routes from c->route_i on until one INVITE is out:
 * 0, or the answer when none could be (no provider usable now). */
static uint16_t place(struct call *c, const char **why)
{
	struct call_engine *e = c->e;
	struct trunks *tr = e->d.trunks;
	*why = "No Provider Available";
	const struct dir_ext *x = directory_ext_by_user(e->d.dir, c->out_uid);
	for (; c->route_i < c->nroutes; c->route_i++) {
		struct trunk_route rt = c->routes[c->route_i];
		const struct trunk_route *r = &rt;
		const struct trunk_provider *p = trunks_provider(tr, r->provider_id);
		if (!p || !p->enabled || !trunks_provider_usable(p, c->tenant_id) || !x)
			continue;
		if (!sa_af(&p->dest)) {
			log_warn("call %llu: trunk %s has no address (%s)", (unsigned long long)c->session_id, p->name,
				 p->dest_err);
			continue;
		}
		if (!trunks_provider_call_add(tr, p->id)) {
			*why = "Trunk Call Limit Reached";
			continue;
		}
		provider_release(c);
		c->trunk_pid = p->id;
		struct leg *l = leg_alloc(c, false);
		if (!l)
			return 500;
		struct presented pr;
		present(c, x, p, &pr);
		snprintf(c->out_cid, sizeof(c->out_cid), "%s", pr.cid);
		snprintf(c->trunk_name, sizeof(c->trunk_name), "%s", p->name);
		snprintf(c->callee, sizeof(c->callee), "%.63s", r->number);
		target_add_trunk(c, l, p, r->number);
		list_append(&c->forks, &l->le, l);
		negotiate_offer_b(c, l);
		int err = leg_invite_trunk(l, p, r->number, pr.cid, pr.anonymous ? NULL : pr.display, pr.anonymous,
					   pr.diversion);
		if (err) {
			log_warn("call %llu: INVITE to trunk %s not sent: %s", (unsigned long long)c->session_id, p->name,
				 strerror(err));
			list_unlink(&l->le);
			call_target_end(c, l, "None", 503);
			leg_free(l);
			continue;
		}
		log_info("call %llu: %s -> %s out over trunk %s as %s (rule %s)", (unsigned long long)c->session_id,
			 c->caller, r->number, p->name, c->out_cid, r->rule);
		return 0;
	}
	return 503;
}

void call_trunk_outbound(struct call *c, const struct dir_ext *caller)
{
	struct call_engine *e = c->e;
	struct trunks *tr = e->d.trunks;
	char dialled[PBX_NUMBER_SZ];
	snprintf(dialled, sizeof(dialled), "%s", c->callee);
	const char *why = NULL;
	size_t n = 0;
	if (!routes_alloc(c))
		return;
	int err = tr ? trunks_outbound(tr, c->tenant_id, dialled, c->routes, TRUNK_ROUTE_MAX, &n, &why) : ENOENT;
	if (err == ENOENT && !n) {
		/* Nothing may go out for it: not a number of the tenant. */
		call_end(c, NULL, "None", 404);
		return;
	}
	c->dir = CALL_DIR_OUT;
	if (err) {
		log_warn("call %llu: %s dialled %s: refused (%s)", (unsigned long long)c->session_id, c->caller, dialled,
			 why);
		c->end_reason = "refused";
		call_fail(c, 403, why);
		return;
	}
	/* Toll fraud comes through hijacked extensions: only one whose devices
	 * are registered (and which proved its password, above) calls out. */
	if (!location_aor_count(e->d.loc, caller->user_id)) {
		c->end_reason = "refused";
		call_fail(c, 403, "Not Registered");
		return;
	}
	if (trunks_out_start(tr, c->tenant_id, caller->user_id, &why)) {
		log_warn("call %llu: %s dialled %s: %s reached, refused", (unsigned long long)c->session_id, c->caller,
			 dialled, why);
		c->end_reason = "limit_reached";
		call_fail(c, 403, why);
		return;
	}
	c->out_counted = true;
	c->out_uid = caller->user_id;
	c->nroutes = (unsigned)n;
	c->anonymous = json_is_true(json_object_get(caller->settings, "anonymous_outbound"));
	if (!call_launch(c))
		return;
	uint16_t code = place(c, &why);
	if (code)
		call_fail(c, code, why);
}

void call_trunk_forward(struct call *c, const struct dir_ext *x, const char *number, const char *reason)
{
	struct trunks *tr = c->e->d.trunks;
	const char *why = NULL;
	size_t n = 0;
	if (!routes_alloc(c))
		return;
	int err = tr ? trunks_outbound(tr, c->tenant_id, number, c->routes, TRUNK_ROUTE_MAX, &n, &why) : ENOENT;
	if (err == ENOENT && !n) {
		call_fail(c, 404, "Forward Destination Not Found");
		return;
	}
	if (err) {
		c->end_reason = "refused";
		call_fail(c, 403, why);
		return;
	}
	/* The forward is the extension's call out: its caps, its caller ID. */
	if (!c->out_counted && trunks_out_start(tr, c->tenant_id, x->user_id, &why)) {
		log_warn("call %llu: forward of %s to %s: %s reached, refused", (unsigned long long)c->session_id,
			 x->number, number, why);
		c->end_reason = "limit_reached";
		call_fail(c, 403, why);
		return;
	}
	if (!c->out_counted) {
		c->out_counted = true;
		c->out_uid = x->user_id;
	}
	call_target_release(c);
	c->dir = c->dir == CALL_DIR_IN ? CALL_DIR_IN2OUT : CALL_DIR_OUT;
	c->anonymous = json_is_true(json_object_get(x->settings, "anonymous_outbound"));
	c->div_reason = reason;
	c->nroutes = (unsigned)n;
	c->route_i = 0;
	uint16_t code = place(c, &why);
	if (code)
		call_fail(c, code, why);
}

bool call_trunk_failover(struct call *c, uint16_t status)
{
	if ((c->dir != CALL_DIR_OUT && c->dir != CALL_DIR_IN2OUT) || c->b || c->forks.head)
		return false;
	/* The next provider for what says the trunk cannot take it now; a number
	 * the carrier refuses (404, 486...) would be refused by the next as well. */
	if (!(status >= 500 || status == 408))
		return false;
	c->route_i++;
	const char *why;
	if (c->route_i >= c->nroutes || place(c, &why))
		return false;
	return true;
}

bool call_trunk_auth(struct leg *l, const struct sip_msg *resp)
{
	struct call *c = l->call;
	const struct trunk_provider *p = trunks_provider(c->e->d.trunks, l->provider_id);
	if (!p || !p->password[0] || l->auth_tries >= 2)
		return false;
	struct sip_auth_chal ch;
	bool proxy;
	/* A second challenge after our credentials, not stale: they are wrong. */
	if (sip_auth_chal_pick(resp, &ch, &proxy) || (l->auth_tries && !ch.stale))
		return false;
	char uri[TRUNK_NUM_SZ + 300], cnonce[17];
	const char *target = sip_dialog_remote_target(l->dlg);
	snprintf(uri, sizeof(uri), "%s", target);
	struct mbuf *mb = mbuf_alloc(512, 4096);
	struct pl method = pl_cstr("INVITE");
	int err = !mb ? ENOMEM : rand_chars(cnonce, sizeof(cnonce) - 1);
	if (!err)
		err = sip_auth_cred_print(mb, proxy, &ch, &method, uri, p->auth_user, p->password, 1 /* a new nonce each time */, cnonce);
	if (!err)
		err = mbuf_write_mem(mb, (const uint8_t *)"", 1);
	if (!err) {
		l->auth_tries++;
		err = leg_invite_again(l, (const char *)mb->buf);
	}
	mem_deref(mb);
	if (err) {
		log_warn("call %llu: trunk %s challenge not answered: %s", (unsigned long long)c->session_id, p->name,
			 strerror(err));
		return false;
	}
	return true;
}

void call_trunk_end(struct call *c)
{
	provider_release(c);
	if (c->out_counted)
		trunks_out_end(c->e->d.trunks, c->tenant_id, c->out_uid);
	c->out_counted = false;
}
