/* SIP dialogs (see dialog.h): identifiers, sequence numbers, remote target and
 * route set, copied out of the messages that make and refresh them. */
#include "sip/dialog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "sip/print.h"
#include "sip/uri.h"

#define ROUTES_MAX 16

struct sip_dialog {
	char *callid, *local_tag, *remote_tag;
	char *local_uri, *remote_uri; /* name-addrs for From and To, without tags */
	char *remote_target, *local_contact;
	char *routes[ROUTES_MAX];
	size_t nroutes;
	uint32_t lseq, rseq;
	bool rseq_set, confirmed;
	int max_forwards;
};

static void dialog_destroy(void *arg)
{
	struct sip_dialog *d = arg;
	char **s[] = { &d->callid, &d->local_tag, &d->remote_tag, &d->local_uri, &d->remote_uri,
		       &d->remote_target, &d->local_contact };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		*s[i] = mem_deref(*s[i]);
	for (size_t i = 0; i < d->nroutes; i++)
		mem_deref(d->routes[i]);
}

static int set_str(char **dst, const char *p, size_t l)
{
	char *n = mem_strndup(p ? p : "", p ? l : 0);
	if (!n)
		return ENOMEM;
	mem_deref(*dst);
	*dst = n;
	return 0;
}

static int set_pl(char **dst, const struct pl *v)
{
	return set_str(dst, v->p, v->l);
}

/* "<uri>", with the display name when there is one: a From/To without its tag. */
static int set_nameaddr(char **dst, const struct sip_addr *a)
{
	char buf[1024];
	int n = a->dname.l ? snprintf(buf, sizeof(buf), "%.*s <%.*s>", (int)a->dname.l, a->dname.p, (int)a->auri.l,
				      a->auri.p)
			   : snprintf(buf, sizeof(buf), "<%.*s>", (int)a->auri.l, a->auri.p);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return EINVAL;
	return set_str(dst, buf, (size_t)n);
}

struct route_ctx {
	struct pl v[ROUTES_MAX];
	size_t n;
	bool overflow;
};

static int route_one(const struct pl *val, void *arg)
{
	struct route_ctx *c = arg;
	if (c->n == ROUTES_MAX) {
		c->overflow = true;
		return 1;
	}
	c->v[c->n++] = *val;
	return 0;
}

/* Replaces the route set with msg's Record-Route, in order or reversed (UAC). */
static int routes_take(struct sip_dialog *d, const struct sip_msg *msg, bool reverse)
{
	struct route_ctx c = { .n = 0 };
	sip_msg_hdr_apply(msg, SIP_HDR_RECORD_ROUTE, route_one, &c);
	if (c.overflow)
		return EINVAL;
	if (c.n) {
		/* Loose routing only: the first hop the requests go through must say lr. */
		struct sip_addr first;
		if (sip_addr_parse(&first, &c.v[reverse ? c.n - 1 : 0], false))
			return EINVAL;
		if (!sip_param_exists(&first.uri.params, "lr"))
			return ENOTSUP;
	}
	for (size_t i = 0; i < d->nroutes; i++)
		d->routes[i] = mem_deref(d->routes[i]);
	d->nroutes = 0;
	for (size_t i = 0; i < c.n; i++) {
		const struct pl *v = &c.v[reverse ? c.n - 1 - i : i];
		if (set_pl(&d->routes[d->nroutes], v))
			return ENOMEM;
		d->nroutes++;
	}
	return 0;
}

/* The remote target from msg's first Contact: 0, ENOENT (none) or EINVAL. */
static int target_take(struct sip_dialog *d, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	if (!h)
		return ENOENT;
	struct pl cur = h->val, v;
	struct sip_addr a;
	if (sip_hdr_value_next(&cur, &v) || sip_addr_parse(&a, &v, false))
		return EINVAL;
	if (a.uri.scheme_id != SIP_SCHEME_SIP && a.uri.scheme_id != SIP_SCHEME_SIPS)
		return EINVAL;
	return set_pl(&d->remote_target, &a.auri);
}

int sip_dialog_uas_alloc(struct sip_dialog **dp, const struct sip_msg *req, const char *local_tag,
			 const char *local_contact)
{
	if (!req->req || !req->from.tag.l || !local_tag || !*local_tag)
		return EINVAL;
	struct sip_dialog *d = mem_zalloc(sizeof(*d), dialog_destroy);
	if (!d)
		return ENOMEM;
	int e = set_pl(&d->callid, &req->callid);
	if (!e)
		e = set_str(&d->local_tag, local_tag, strlen(local_tag));
	if (!e)
		e = set_pl(&d->remote_tag, &req->from.tag);
	if (!e)
		e = set_nameaddr(&d->local_uri, &req->to);
	if (!e)
		e = set_nameaddr(&d->remote_uri, &req->from);
	if (!e)
		e = set_str(&d->local_contact, local_contact ? local_contact : "", local_contact ? strlen(local_contact) : 0);
	if (!e)
		e = routes_take(d, req, false);
	if (!e) {
		e = target_take(d, req);
		if (e == ENOENT)
			e = EINVAL;
	}
	if (e) {
		mem_deref(d);
		return e;
	}
	d->rseq = req->cseq.num;
	d->rseq_set = true;
	d->confirmed = true;
	*dp = d;
	return 0;
}

int sip_dialog_uac_alloc(struct sip_dialog **dp, const char *callid, const char *local_uri, const char *local_tag,
			 const char *remote_uri, const char *target, uint32_t cseq, const char *local_contact)
{
	if (!callid || !local_uri || !local_tag || !*local_tag || !remote_uri || !target)
		return EINVAL;
	struct sip_dialog *d = mem_zalloc(sizeof(*d), dialog_destroy);
	if (!d)
		return ENOMEM;
	const char *v[] = { callid, local_tag, "", local_uri, remote_uri, target, local_contact ? local_contact : "" };
	char **s[] = { &d->callid, &d->local_tag, &d->remote_tag, &d->local_uri, &d->remote_uri, &d->remote_target,
		       &d->local_contact };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (set_str(s[i], v[i], strlen(v[i]))) {
			mem_deref(d);
			return ENOMEM;
		}
	}
	d->lseq = cseq;
	*dp = d;
	return 0;
}

int sip_dialog_uac_update(struct sip_dialog *d, const struct sip_msg *resp)
{
	if (resp->req || !resp->to.tag.l || resp->scode < 101 || resp->scode >= 300)
		return EINVAL;
	if (d->remote_tag[0] && !pl_eq_str(&resp->to.tag, d->remote_tag))
		return EALREADY;
	bool ok2xx = resp->scode >= 200;
	if (d->confirmed) {
		/* A 2xx to a re-INVITE may refresh the target; the route set stays. */
		int e = ok2xx ? target_take(d, resp) : 0;
		return e == ENOENT ? 0 : e;
	}
	int e = target_take(d, resp);
	if (e == ENOENT)
		e = ok2xx ? EINVAL : 0; /* an early dialog keeps the Request-URI until a Contact comes */
	if (!e)
		e = routes_take(d, resp, true);
	if (!e && !d->remote_tag[0])
		e = set_pl(&d->remote_tag, &resp->to.tag);
	if (!e && ok2xx)
		d->confirmed = true;
	return e;
}

bool sip_dialog_match(const struct sip_dialog *d, const struct sip_msg *req)
{
	return pl_eq_str(&req->callid, d->callid) && pl_eq_str(&req->to.tag, d->local_tag) &&
	       pl_eq_str(&req->from.tag, d->remote_tag);
}

/* Methods whose requests refresh the remote target when they carry a Contact
 * (RFC 3261 §12.2.2 for re-INVITE; RFC 3311 UPDATE, RFC 6665, RFC 3515). */
static bool target_refresh(enum sip_method m)
{
	return m == SIP_INVITE || m == SIP_UPDATE || m == SIP_SUBSCRIBE || m == SIP_NOTIFY || m == SIP_REFER;
}

int sip_dialog_request_received(struct sip_dialog *d, const struct sip_msg *req)
{
	if (req->mid == SIP_ACK || req->mid == SIP_CANCEL)
		return 0; /* they repeat the INVITE's CSeq */
	if (d->rseq_set && req->cseq.num <= d->rseq)
		return EPROTO;
	d->rseq = req->cseq.num;
	d->rseq_set = true;
	if (target_refresh(req->mid)) {
		int e = target_take(d, req);
		if (e && e != ENOENT)
			return e;
	}
	return 0;
}

int sip_dialog_request_print(struct mbuf *mb, struct sip_dialog *d, const char *method, const char *via_transport,
			     const char *via_sentby, const char *branch, uint32_t cseq_override, const char *extra,
			     const char *ctype, const struct pl *body)
{
	bool contact = d->local_contact[0] && strcmp(method, "ACK") != 0 && strcmp(method, "CANCEL") != 0 &&
		       strcmp(method, "BYE") != 0;
	uint32_t cseq = cseq_override ? cseq_override : ++d->lseq;
	struct sip_req_spec r = { .method = method, .ruri = d->remote_target, .via_transport = via_transport,
				  .via_sentby = via_sentby, .branch = branch, .from = d->local_uri,
				  .from_tag = d->local_tag, .to = d->remote_uri,
				  .to_tag = d->remote_tag[0] ? d->remote_tag : NULL, .callid = d->callid, .cseq = cseq,
				  .max_forwards = d->max_forwards,
				  .routes = (const char *const *)d->routes, .nroutes = d->nroutes,
				  .contact = contact ? d->local_contact : NULL, .extra = extra, .ctype = ctype,
				  .body = body ? *body : (struct pl){ NULL, 0 } };
	return sip_print_request(mb, &r);
}

void sip_dialog_max_forwards_set(struct sip_dialog *d, int n)
{
	d->max_forwards = n > 0 && n <= 255 ? n : 0;
}

const char *sip_dialog_callid(const struct sip_dialog *d) { return d->callid; }
const char *sip_dialog_local_tag(const struct sip_dialog *d) { return d->local_tag; }
const char *sip_dialog_remote_tag(const struct sip_dialog *d) { return d->remote_tag; }
const char *sip_dialog_remote_target(const struct sip_dialog *d) { return d->remote_target; }
size_t sip_dialog_route_count(const struct sip_dialog *d) { return d->nroutes; }
const char *sip_dialog_route(const struct sip_dialog *d, size_t i) { return i < d->nroutes ? d->routes[i] : NULL; }
uint32_t sip_dialog_local_cseq(const struct sip_dialog *d) { return d->lseq; }
uint32_t sip_dialog_remote_cseq(const struct sip_dialog *d) { return d->rseq; }
bool sip_dialog_confirmed(const struct sip_dialog *d) { return d->confirmed; }
