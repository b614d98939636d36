/* REGISTER processing, RFC 3261 §10.3 in its order: the domain, authentication,
 * the Contacts and their expiries, the Call-ID/CSeq ordering of each binding, the
 * update, and a 200 listing every current binding. */
#include "pbx/registrar/registrar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/print.h"
#include "sip/uri.h"

const struct conf_opt registrar_opts[] = {
	{ "register-min-expires", CONF_INT, "60", 1, 86400, NULL,
	  "seconds: a registration asking for less is refused (423 with Min-Expires)" },
	{ "register-max-expires", CONF_INT, "3600", 1, 604800, NULL,
	  "seconds: a registration asking for more gets this" },
	{ "register-default-expires", CONF_INT, "3600", 1, 604800, NULL,
	  "seconds a registration lasts when it names no expiry (kept between the min and the max)" },
	{ "register-max-contacts", CONF_INT, "10", 1, 100, NULL,
	  "devices one extension may have registered; when one more registers, the least recently"
	  " refreshed is dropped" },
	{ "register-rate", CONF_INT, "2000", 0, 1000000, NULL,
	  "authenticated REGISTERs handled per second (0: no limit); beyond, 503 with a Retry-After"
	  " spread over --register-retry-spread seconds, so that phones coming back together do not"
	  " return together" },
	{ "register-retry-spread", CONF_INT, "60", 2, 3600, NULL,
	  "seconds over which the Retry-After of a REGISTER refused for load is spread" },
};
const size_t registrar_opts_count = sizeof(registrar_opts) / sizeof(registrar_opts[0]);

#define MAX_CONTACTS_PER_REQUEST 16

struct registrar {
	struct sip_stack *sip;
	struct directory *dir;
	struct location *loc;
	struct authn *authn;
	uint32_t min_expires, max_expires, default_expires, max_contacts;
	uint32_t rate, spread;
	uint64_t tokens_ms;  /* admission bucket, in ms of allowance at `rate` */
	uint64_t bucket_last;
	uint64_t rng;
};

/* One Contact of the request. */
struct contact {
	struct sip_addr a;
	uint32_t expires;
	bool has_expires;
	int q;
	struct pl instance;
	uint32_t reg_id;
};

struct reg_req {
	struct contact c[MAX_CONTACTS_PER_REQUEST];
	size_t n;
	bool star;
};

static uint64_t rng_next(struct registrar *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

/* A token bucket of one second's worth: refills at `rate` per second. */
static bool admit(struct registrar *r)
{
	if (!r->rate)
		return true;
	uint64_t now = loop_clock_ms(), cap = 1000; /* one second of allowance, in ms */
	uint64_t dt = now - r->bucket_last;
	r->bucket_last = now;
	r->tokens_ms = r->tokens_ms + dt * r->rate > cap * r->rate ? cap * r->rate : r->tokens_ms + dt * r->rate;
	if (r->tokens_ms < 1000)
		return false;
	r->tokens_ms -= 1000;
	return true;
}

static void refuse_busy(struct registrar *r, const struct sip_msg *req)
{
	/* Between a sixth of the spread and all of it: a few seconds at least, and
	 * the phones of one outage scattered over the whole window. */
	uint32_t lo = r->spread / 6 ? r->spread / 6 : 1;
	uint32_t after = lo + (uint32_t)(rng_next(r) % (r->spread - lo + 1));
	char extra[40];
	snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", after);
	sip_stack_reply_stateless(r->sip, req, 503, "Registrations Overloaded", extra);
}

/* Delta-seconds (RFC 3261 §25.1): digits; more than 2^32-1 means that much. */
static int parse_u32(const struct pl *v, uint32_t *out)
{
	if (!v->l)
		return EINVAL;
	uint64_t n = 0;
	for (size_t i = 0; i < v->l; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return EINVAL;
		if (n <= UINT32_MAX)
			n = n * 10 + (uint64_t)(v->p[i] - '0');
	}
	*out = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return 0;
}

/* "0.5" -> 500; EINVAL unless 0..1 with at most three decimals (RFC 3261 §25.1). */
static int parse_q(const struct pl *v, int *q)
{
	if (!v->l || v->l > 5 || (v->p[0] != '0' && v->p[0] != '1'))
		return EINVAL;
	int n = (v->p[0] - '0') * 1000, scale = 100;
	if (v->l > 1) {
		if (v->p[1] != '.')
			return EINVAL;
		for (size_t i = 2; i < v->l; i++, scale /= 10) {
			if (v->p[i] < '0' || v->p[i] > '9')
				return EINVAL;
			n += (v->p[i] - '0') * scale;
		}
	}
	if (n > 1000)
		return EINVAL;
	*q = n;
	return 0;
}

struct parse_ctx {
	struct reg_req *rr;
	int err;
	const char *why;
};

static int contact_one(const struct pl *val, void *arg)
{
	struct parse_ctx *p = arg;
	struct reg_req *rr = p->rr;
	if (rr->n == MAX_CONTACTS_PER_REQUEST) {
		p->why = "Too many Contacts";
		return p->err = EINVAL;
	}
	struct contact *c = &rr->c[rr->n];
	memset(c, 0, sizeof(*c));
	if (sip_addr_parse(&c->a, val, true)) {
		p->why = "Bad Contact";
		return p->err = EINVAL;
	}
	if (c->a.star) {
		rr->star = true;
		rr->n++;
		return 0;
	}
	if (c->a.uri.scheme_id != SIP_SCHEME_SIP && c->a.uri.scheme_id != SIP_SCHEME_SIPS) {
		p->why = "Contact must be a sip: or sips: URI";
		return p->err = EINVAL;
	}
	c->q = -1;
	struct pl v;
	if (sip_param_get(&c->a.params, "expires", &v) == 0) {
		if (parse_u32(&v, &c->expires)) {
			p->why = "Bad expires parameter";
			return p->err = EINVAL;
		}
		c->has_expires = true;
	}
	if (sip_param_get(&c->a.params, "q", &v) == 0 && parse_q(&v, &c->q)) {
		p->why = "Bad q parameter";
		return p->err = EINVAL;
	}
	sip_param_get(&c->a.params, "+sip.instance", &c->instance);
	if (sip_param_get(&c->a.params, "reg-id", &v) == 0 && (parse_u32(&v, &c->reg_id) || !c->reg_id)) {
		p->why = "Bad reg-id parameter";
		return p->err = EINVAL;
	}
	rr->n++;
	return 0;
}

/* Reads the Contacts and gives each its expiry (the parameter, else the Expires
 * header, else the default; then at most the maximum). 0, or the status to
 * answer with *why (400, or 423 for an expiry too brief). */
static uint16_t contacts_read(struct registrar *r, const struct sip_msg *req, struct reg_req *rr, const char **why)
{
	struct parse_ctx p = { rr, 0, NULL };
	memset(rr, 0, sizeof(*rr));
	sip_msg_hdr_apply(req, SIP_HDR_CONTACT, contact_one, &p);
	if (p.err) {
		*why = p.why;
		return 400;
	}
	uint32_t hdr_exp = 0;
	const struct sip_hdr *eh = sip_msg_hdr(req, SIP_HDR_EXPIRES);
	if (eh) {
		struct pl v = pl_trim(eh->val);
		if (parse_u32(&v, &hdr_exp)) {
			*why = "Bad Expires";
			return 400;
		}
	}
	if (rr->star) {
		/* RFC 3261 §10.3 step 6: "*" only alone, and only with Expires: 0. */
		if (rr->n != 1 || !eh || hdr_exp != 0) {
			*why = "Contact * needs Expires: 0 and no other Contact";
			return 400;
		}
		return 0;
	}
	for (size_t i = 0; i < rr->n; i++) {
		struct contact *c = &rr->c[i];
		if (!c->has_expires)
			c->expires = eh ? hdr_exp : r->default_expires;
		if (c->expires && c->expires < r->min_expires)
			return 423;
		if (c->expires > r->max_expires)
			c->expires = r->max_expires;
	}
	return 0;
}

/* The header values of every Path header, comma-joined (RFC 3327). */
static void path_join(const struct sip_msg *req, char *buf, size_t size, struct pl *out)
{
	size_t n = 0;
	buf[0] = '\0';
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_PATH); h && n < size; h = sip_msg_hdr_next(req, h))
		n += (size_t)snprintf(buf + n, size - n, "%s%.*s", n ? "," : "", (int)h->val.l, h->val.p);
	*out = (struct pl){ buf, n < size ? n : size - 1 };
}

static void spec_from(struct loc_spec *s, const struct dir_ext *x, const struct contact *c, const struct sip_msg *req,
		      const struct pl *path, int64_t now)
{
	const struct sip_hdr *ua = sip_msg_hdr(req, SIP_HDR_USER_AGENT);
	*s = (struct loc_spec){
		.tenant_id = x->tenant->id, .user_id = x->user_id, .contact = c->a.auri, .instance = c->instance,
		.path = *path, .user_agent = ua ? ua->val : (struct pl){ "", 0 }, .call_id = req->callid,
		.cseq = req->cseq.num, .reg_id = c->instance.l ? c->reg_id : 0, .q = c->q,
		.expires_at = now + (int64_t)c->expires * 1000, .peer = &req->src,
	};
	if (s->user_agent.l >= STORE_UA_SZ)
		s->user_agent.l = STORE_UA_SZ - 1; /* an over-long User-Agent is cut, not refused */
}

/* RFC 3261 §10.3 step 7: a binding is changed only by a request with a later
 * CSeq in the same Call-ID (or any CSeq in another Call-ID). */
static bool out_of_order(const struct loc_binding *b, const struct sip_msg *req)
{
	return b && strlen(b->call_id) == req->callid.l && memcmp(b->call_id, req->callid.p, req->callid.l) == 0 &&
	       req->cseq.num <= b->cseq;
}

/* Drops the least recently refreshed bindings beyond the maximum. */
static void trim(struct registrar *r, uint64_t user_id)
{
	while (location_aor_count(r->loc, user_id) > r->max_contacts) {
		struct loc_binding *oldest = NULL;
		LIST_FOREACH(location_aor(r->loc, user_id), le) {
			struct loc_binding *b = le->data;
			if (!oldest || b->updated_at < oldest->updated_at)
				oldest = b;
		}
		location_unbind(r->loc, oldest, LOC_REPLACED);
	}
}

/* The 200's Contacts: every current binding with the time it has left. */
static int contacts_print(struct registrar *r, struct mbuf *mb, uint64_t user_id, int64_t now)
{
	const struct list *l = location_aor(r->loc, user_id);
	if (!l)
		return 0;
	int err = 0;
	LIST_FOREACH(l, le) {
		const struct loc_binding *b = le->data;
		int64_t left = (b->expires_at - now + 999) / 1000;
		err |= mbuf_printf(mb, "Contact: <%s>;expires=%lld", b->contact, (long long)(left > 0 ? left : 0));
		if (b->q >= 0)
			err |= mbuf_printf(mb, ";q=%d.%03d", b->q / 1000, b->q % 1000);
		if (b->instance[0])
			err |= mbuf_printf(mb, ";+sip.instance=%s", b->instance);
		if (b->reg_id)
			err |= mbuf_printf(mb, ";reg-id=%u", b->reg_id);
		err |= mbuf_write_str(mb, "\r\n");
	}
	return err ? ENOMEM : 0;
}

static void reply_ok(struct registrar *r, struct sip_msg *req, const struct dir_ext *x, const struct pl *path,
		     bool outbound, int64_t now)
{
	struct mbuf *mb = mbuf_alloc(1024, SIP_MSG_MAX_SIZE / 2);
	char date[64];
	time_t t = (time_t)(now / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int err = !mb;
	if (!err)
		err = contacts_print(r, mb, x->user_id, now);
	if (!err && path->l)
		err = mbuf_printf(mb, "Path: %.*s\r\n", (int)path->l, path->p);
	if (!err && outbound)
		err = mbuf_write_str(mb, "Require: outbound\r\n");
	if (!err)
		err = mbuf_printf(mb, "Date: %s\r\n", date);
	if (!err)
		err = mbuf_write_mem(mb, "", 1);
	struct sip_stsx *tx;
	if (err) {
		sip_stack_reply_stateless(r->sip, req, 500, NULL, NULL);
	} else if (sip_stack_stsx(r->sip, req, &tx) == 0) {
		sip_stsx_reply(tx, 200, NULL, (const char *)mb->buf, NULL, NULL);
	}
	mem_deref(mb);
}

static bool has_credentials(const struct sip_msg *req)
{
	return sip_msg_hdr(req, SIP_HDR_AUTHORIZATION) != NULL;
}

static bool on_register(struct sip_stack *s, struct sip_msg *req, void *arg)
{
	struct registrar *r = arg;
	if (req->ruri.scheme_id != SIP_SCHEME_SIP && req->ruri.scheme_id != SIP_SCHEME_SIPS) {
		sip_stack_reply_stateless(s, req, 416, NULL, NULL);
		return true;
	}
	/* The address-of-record is the To URI; its domain names the tenant (the
	 * Request-URI's when a phone addresses the registrar by IP and puts the
	 * domain only in To, and the other way round). */
	const struct sip_uri *aor = &req->to.uri;
	if (aor->scheme_id != SIP_SCHEME_SIP && aor->scheme_id != SIP_SCHEME_SIPS) {
		sip_stack_reply_stateless(s, req, 404, "Not a SIP address-of-record", NULL);
		return true;
	}
	struct dir_tenant *t = directory_tenant_by_domain(r->dir, &aor->host);
	if (!t)
		t = directory_tenant_by_domain(r->dir, &req->ruri.host);
	struct pl realm = t ? pl_cstr(t->domain) : aor->host;
	if (has_credentials(req) && !admit(r)) {
		refuse_busy(r, req);
		return true;
	}
	struct dir_ext *x = authn_request(r->authn, s, req, t, &realm, &aor->user, false);
	if (!x)
		return true;

	struct reg_req rr;
	const char *why = NULL;
	uint16_t code = contacts_read(r, req, &rr, &why);
	if (code == 423) {
		char extra[40];
		snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n", r->min_expires);
		sip_stack_reply_stateless(s, req, 423, NULL, extra);
		return true;
	}
	if (code) {
		sip_stack_reply_stateless(s, req, code, why, NULL);
		return true;
	}
	int64_t now = store_now_ms();
	if (rr.star) {
		/* Removing every binding: still ordered against each of them. */
		const struct list *all = location_aor(r->loc, x->user_id);
		for (struct le *le = all ? all->head : NULL; le; le = le->next) {
			if (out_of_order(le->data, req)) {
				sip_stack_reply_stateless(s, req, 400, "CSeq out of order", NULL);
				return true;
			}
		}
		location_unbind_aor(r->loc, x->user_id, LOC_UNREGISTERED);
		struct pl nopath = { "", 0 };
		reply_ok(r, req, x, &nopath, false, now);
		return true;
	}
	char pbuf[STORE_CONTACT_SZ];
	struct pl path;
	path_join(req, pbuf, sizeof(pbuf), &path);
	struct loc_spec specs[MAX_CONTACTS_PER_REQUEST];
	struct loc_binding *match[MAX_CONTACTS_PER_REQUEST];
	bool outbound = false;
	for (size_t i = 0; i < rr.n; i++) {
		spec_from(&specs[i], x, &rr.c[i], req, &path, now);
		match[i] = location_match(r->loc, &specs[i]);
		if (out_of_order(match[i], req)) {
			sip_stack_reply_stateless(s, req, 400, "CSeq out of order", NULL);
			return true;
		}
		outbound |= specs[i].reg_id != 0;
	}
	/* Two Contacts of one request naming one binding would leave the second's
	 * match dangling once the first is applied. */
	for (size_t i = 0; i < rr.n; i++) {
		for (size_t j = i + 1; j < rr.n; j++) {
			if (match[i] && match[i] == match[j]) {
				sip_stack_reply_stateless(s, req, 400, "Duplicate Contact", NULL);
				return true;
			}
		}
	}
	for (size_t i = 0; i < rr.n; i++) {
		if (!rr.c[i].expires) {
			if (match[i])
				location_unbind(r->loc, match[i], LOC_UNREGISTERED);
			continue;
		}
		if (location_bind(r->loc, match[i], &specs[i], NULL)) {
			sip_stack_reply_stateless(s, req, 400, "Contact too long", NULL);
			return true;
		}
	}
	trim(r, x->user_id);
	reply_ok(r, req, x, &path, outbound && sip_msg_hdr_has_token(req, SIP_HDR_SUPPORTED, "outbound"), now);
	return true;
}

int registrar_alloc(struct registrar **rp, struct sip_stack *sip, const struct conf *conf, struct directory *dir,
		    struct location *loc, struct authn *authn)
{
	struct registrar *r = mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return ENOMEM;
	r->sip = sip;
	r->dir = dir;
	r->loc = loc;
	r->authn = authn;
	r->min_expires = (uint32_t)conf_int(conf, "register-min-expires");
	r->max_expires = (uint32_t)conf_int(conf, "register-max-expires");
	r->default_expires = (uint32_t)conf_int(conf, "register-default-expires");
	r->max_contacts = (uint32_t)conf_int(conf, "register-max-contacts");
	r->rate = (uint32_t)conf_int(conf, "register-rate");
	r->spread = (uint32_t)conf_int(conf, "register-retry-spread");
	r->rng = loop_clock_ms() * 0x9e3779b97f4a7c15ull | 1;
	r->bucket_last = loop_clock_ms();
	r->tokens_ms = (uint64_t)r->rate * 1000;
	if (r->max_expires < r->min_expires) {
		log_error("register-max-expires (%u) is below register-min-expires (%u)", r->max_expires,
			  r->min_expires);
		mem_deref(r);
		return EINVAL;
	}
	if (r->default_expires < r->min_expires)
		r->default_expires = r->min_expires;
	if (r->default_expires > r->max_expires)
		r->default_expires = r->max_expires;
	struct sip_listener l = { .methods = SIP_METHOD_BIT(SIP_REGISTER), .h = on_register, .arg = r };
	int err = sip_stack_listen(sip, &l);
	if (err) {
		mem_deref(r);
		return err;
	}
	*rp = r;
	return 0;
}
