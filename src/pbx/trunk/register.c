/* Registrations with register-based providers (RFC 3261 §10.2): REGISTER with
 * the trunk's account, the provider's 401/407 answered with its credentials,
 * refreshed before the registration ends, and retried after a failure with a
 * back-off that doubles from --trunk-retry-min to --trunk-retry-max (a 503's
 * Retry-After, or a 423's Min-Expires, are heeded). One Call-ID per
 * registration, CSeq rising. A provider that goes (deleted, disabled, changed)
 * is unregistered (Expires: 0) when it was registered. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "pbx/trunk/trunk_int.h"
#include "sip/auth.h"
#include "sip/print.h"

static int64_t now_ms(void)
{
	return store_now_ms();
}

struct trunk_reg *trunk_reg_find(struct trunks *t, uint64_t provider_id)
{
	for (struct le *le = t->regs.head; le; le = le->next) {
		struct trunk_reg *r = le->data;
		if (r->p.id == provider_id && !r->unregistering)
			return r;
	}
	return NULL;
}

static void reg_free(struct trunk_reg *r)
{
	tmr_cancel(&r->tmr);
	if (r->ct)
		sip_ctsx_abandon(r->ct);
	list_unlink(&r->le);
	free(r);
}

/* Our address towards dest: --public-address, else the listening address of the
 * transport, else (a wildcard listener) the source the kernel would pick. */
static int local_addr(struct trunks *t, const struct trunk_provider *p, struct sa *out)
{
	struct sa l;
	struct sip_transport *tp = sip_stack_transport(t->sip);
	/* A TLS connection we open needs no TLS listener: the TCP one's address serves. */
	if (sip_transport_laddr(tp, p->tp, sa_af(&p->dest), &l) &&
	    (p->tp != SIP_TP_TLS || sip_transport_laddr(tp, SIP_TP_TCP, sa_af(&p->dest), &l)))
		return EADDRNOTAVAIL;
	if (t->public_addr[0] && sa_set(out, t->public_addr, sa_port(&l)) == 0)
		return 0;
	if (sa_is_any(&l)) {
		int fd = socket(sa_af(&p->dest), SOCK_DGRAM, 0);
		struct sa s = { .len = sizeof(s.u) };
		bool ok = fd >= 0 && connect(fd, &p->dest.u.sa, p->dest.len) == 0 &&
			  getsockname(fd, &s.u.sa, &s.len) == 0;
		if (fd >= 0)
			close(fd);
		if (!ok)
			return EADDRNOTAVAIL;
		sa_set_port(&s, sa_port(&l));
		l = s;
	}
	*out = l;
	return 0;
}

static void on_resp(int err, const struct sip_msg *resp, void *arg);
static void send_register(struct trunk_reg *r, const struct sip_msg *challenge);

static void on_timer(void *arg)
{
	struct trunk_reg *r = arg;
	r->auth_tries = 0;
	send_register(r, NULL);
}

static void schedule(struct trunk_reg *r, int64_t in_ms)
{
	if (in_ms < 0)
		in_ms = 0;
	r->next_at = now_ms() + in_ms;
	tmr_start(loop_timers(r->t->loop), &r->tmr, (uint64_t)in_ms, on_timer, r);
}

static void failed(struct trunk_reg *r, uint16_t code, const char *why, uint32_t wait_s)
{
	r->state = REG_FAILED;
	r->last_code = code;
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	r->expires_at = 0;
	r->failures++;
	uint64_t back = r->t->retry_min_s;
	for (unsigned i = 1; i < r->failures && back < r->t->retry_max_s; i++)
		back *= 2;
	if (back > r->t->retry_max_s)
		back = r->t->retry_max_s;
	if (wait_s > back)
		back = wait_s;
	log_warn("trunk %s: registration failed (%s); again in %llu s", r->p.name, why, (unsigned long long)back);
	schedule(r, (int64_t)back * 1000);
}

/* Where s occurs in v, or NULL. */
static const char *pl_find(const struct pl *v, const char *s)
{
	return v->p ? memmem(v->p, v->l, s, strlen(s)) : NULL;
}

static uint32_t hdr_uint(const struct sip_msg *m, enum sip_hdr_id id, uint32_t dflt)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);
	if (!h || !h->val.l)
		return dflt;
	uint32_t v = 0;
	for (size_t i = 0; i < h->val.l && h->val.p[i] >= '0' && h->val.p[i] <= '9'; i++)
		v = v * 10 + (uint32_t)(h->val.p[i] - '0');
	return v;
}

/* The expiry the registrar granted: our Contact's expires parameter, else the
 * Expires header, else what we asked. */
static uint32_t granted(const struct trunk_reg *r, const struct sip_msg *ok)
{
	uint32_t exp = hdr_uint(ok, SIP_HDR_EXPIRES, r->p.expires);
	for (const struct sip_hdr *h = sip_msg_hdr(ok, SIP_HDR_CONTACT); h; h = sip_msg_hdr_next(ok, h)) {
		struct pl cur = h->val, v;
		while (sip_hdr_value_next(&cur, &v) == 0) {
			struct sip_addr a;
			if (sip_addr_parse(&a, &v, false) || !pl_find(&a.auri, r->call_id))
				continue;
			const char *e = pl_find(&a.params, "expires=");
			if (e) {
				exp = 0;
				for (e += 8; e < a.params.p + a.params.l && *e >= '0' && *e <= '9'; e++)
					exp = exp * 10 + (uint32_t)(*e - '0');
			}
		}
	}
	return exp;
}

static void on_resp(int err, const struct sip_msg *resp, void *arg)
{
	struct trunk_reg *r = arg;
	if (!err && resp->scode < 200)
		return;
	r->ct = NULL;
	if (r->unregistering) {
		/* An unregistration is challenged as a registration is. */
		struct sip_auth_chal ch;
		bool proxy;
		if (!err && (resp->scode == 401 || resp->scode == 407) && r->auth_tries == 0 &&
		    sip_auth_chal_pick(resp, &ch, &proxy) == 0) {
			r->auth_tries++;
			send_register(r, resp);
			return;
		}
		reg_free(r);
		return;
	}
	if (err) {
		failed(r, 0, err == ETIMEDOUT ? "no answer" : strerror(err), 0);
		return;
	}
	uint16_t code = resp->scode;
	if ((code == 401 || code == 407) && r->auth_tries < 2) {
		struct sip_auth_chal ch;
		bool proxy;
		if (sip_auth_chal_pick(resp, &ch, &proxy) == 0 && (r->auth_tries == 0 || ch.stale)) {
			r->auth_tries++;
			send_register(r, resp);
			return;
		}
	}
	if (code == 401 || code == 407 || code == 403) {
		failed(r, code, "authentication rejected", 0);
		return;
	}
	if (code == 423) {
		uint32_t min = hdr_uint(resp, SIP_HDR_MIN_EXPIRES, 0);
		if (min > r->p.expires && min <= 86400 && r->auth_tries < 4) {
			r->p.expires = min;
			r->auth_tries++;
			send_register(r, NULL);
			return;
		}
	}
	if (code >= 300) {
		char why[64];
		snprintf(why, sizeof(why), "%u %.*s", code, (int)resp->reason.l, resp->reason.p);
		failed(r, code, why, code == 503 ? hdr_uint(resp, SIP_HDR_RETRY_AFTER, 0) : 0);
		return;
	}
	uint32_t exp = granted(r, resp);
	if (!exp) {
		failed(r, code, "the registrar granted no time", 0);
		return;
	}
	if (r->state != REG_OK || !r->ever_ok)
		log_info("trunk %s: registered for %u s", r->p.name, exp);
	r->state = REG_OK;
	r->ever_ok = true;
	r->failures = 0;
	r->last_code = code;
	r->last_error[0] = '\0';
	r->expires_at = now_ms() + (int64_t)exp * 1000;
	/* Refresh with a margin: a tenth of the time, at least 5 s, at most 60 s. */
	int64_t margin = exp / 10 < 5 ? 5 : exp / 10 > 60 ? 60 : exp / 10;
	schedule(r, ((int64_t)exp - margin) * 1000 > 1000 ? ((int64_t)exp - margin) * 1000 : (int64_t)exp * 500);
}

/* The REGISTER, with credentials answering challenge when given. */
static void send_register(struct trunk_reg *r, const struct sip_msg *challenge)
{
	struct trunks *t = r->t;
	const struct trunk_provider *p = &r->p;
	tmr_cancel(&r->tmr);
	r->next_at = 0;
	struct sa local;
	if (local_addr(t, p, &local)) {
		failed(r, 0, "no local address for the provider's transport", 0);
		return;
	}
	char sentby[64], ruri[300], aor[400], contact[400], branch[48], extra[2048] = "";
	sa_str(&local, sentby, sizeof(sentby));
	char port[8] = "";
	if (p->port != 5060)
		snprintf(port, sizeof(port), ":%u", p->port);
	snprintf(ruri, sizeof(ruri), "sip:%s%s%s", p->host, port,
		 p->tp == SIP_TP_TCP ? ";transport=tcp" : p->tp == SIP_TP_TLS ? ";transport=tls" : "");
	snprintf(aor, sizeof(aor), "<sip:%s@%s>", p->username, p->host);
	/* The Call-ID in the Contact's user part tells our Contact from others'
	 * in the registrar's 200 (one account may be registered from several places). */
	snprintf(contact, sizeof(contact), "<sip:%s@%s;transport=%s;line=%s>", p->username, sentby,
		 sip_transport_uri_param(p->tp), r->call_id);
	int n = snprintf(extra, sizeof(extra), "Expires: %u\r\n", r->unregistering ? 0 : p->expires);
	if (challenge) {
		struct sip_auth_chal ch;
		bool proxy;
		struct mbuf *ab = mbuf_alloc(512, 4096);
		char cnonce[17];
		struct pl method = pl_cstr("REGISTER");
		int e = !ab ? ENOMEM : sip_auth_chal_pick(challenge, &ch, &proxy);
		if (!e)
			e = rand_chars(cnonce, sizeof(cnonce) - 1);
		if (!e)
			e = sip_auth_cred_print(ab, proxy, &ch, &method, ruri, p->auth_user, p->password, 1 /* a new nonce each time */, cnonce);
		if (!e && ab->end < sizeof(extra) - (size_t)n - 1) {
			memcpy(extra + n, ab->buf, ab->end);
			extra[n + (int)ab->end] = '\0';
		}
		mem_deref(ab);
		if (e) {
			failed(r, challenge->scode, "cannot answer the provider's challenge", 0);
			return;
		}
	}
	sip_branch_new(branch, sizeof(branch));
	struct sip_req_spec rq = { .method = "REGISTER", .ruri = ruri, .via_transport = sip_transport_name(p->tp),
				   .via_sentby = sentby, .branch = branch, .from = aor, .from_tag = r->tag, .to = aor,
				   .callid = r->call_id, .cseq = ++r->cseq, .contact = contact, .extra = extra };
	struct mbuf *mb = mbuf_alloc(1024, 8192);
	struct sip_peer dst = { .tp = p->tp, .addr = p->dest, .fd = -1 };
	int err = !mb ? ENOMEM : sip_print_request(mb, &rq);
	if (!err) {
		if (r->state != REG_OK)
			r->state = REG_SENDING;
		err = sip_ctsx_send(&r->ct, sip_stack_tsx(t->sip), &dst, mb, on_resp, r);
	}
	mem_deref(mb);
	if (err) {
		r->ct = NULL;
		if (r->unregistering)
			reg_free(r);
		else
			failed(r, 0, strerror(err), 0);
	}
}

static struct trunk_reg *reg_new(struct trunks *t, const struct trunk_provider *p)
{
	struct trunk_reg *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->t = t;
	r->p = *p;
	r->p.assignees = NULL;
	r->p.nassignees = 0;
	if (rand_chars(r->call_id, 24) || rand_chars(r->tag, 16)) {
		free(r);
		return NULL;
	}
	list_append(&t->regs, &r->le, r);
	return r;
}

/* Whether what a registration sends differs between a and b. */
static bool reg_changed(const struct trunk_provider *a, const struct trunk_provider *b)
{
	return strcmp(a->host, b->host) || a->port != b->port || a->tp != b->tp || strcmp(a->username, b->username) ||
	       strcmp(a->auth_user, b->auth_user) || strcmp(a->password, b->password) || a->expires != b->expires ||
	       !sa_eq(&a->dest, &b->dest);
}

static void unregister(struct trunk_reg *r)
{
	bool was = r->state == REG_OK;
	if (r->ct) {
		sip_ctsx_abandon(r->ct);
		r->ct = NULL;
	}
	tmr_cancel(&r->tmr);
	r->unregistering = true;
	if (!was) {
		reg_free(r);
		return;
	}
	log_info("trunk %s: unregistering", r->p.name);
	r->auth_tries = 0;
	send_register(r, NULL);
}

void trunk_regs_reconcile(struct trunks *t)
{
	const struct trunk_conf *c = t->conf;
	/* Those that go, or change. */
	for (struct le *le = t->regs.head, *next; le; le = next) {
		next = le->next;
		struct trunk_reg *r = le->data;
		if (r->unregistering)
			continue;
		const struct trunk_provider *p = trunks_provider(t, r->p.id);
		if (!p || !p->reg || !p->enabled || reg_changed(&r->p, p))
			unregister(r);
		else
			snprintf(r->p.name, sizeof(r->p.name), "%s", p->name);
	}
	/* Those that come. */
	for (size_t i = 0; c && i < c->nprov; i++) {
		const struct trunk_provider *p = &c->prov[i];
		if (!p->reg || !p->enabled || trunk_reg_find(t, p->id))
			continue;
		struct trunk_reg *r = reg_new(t, p);
		if (!r) {
			log_error("trunk %s: out of memory", p->name);
			continue;
		}
		if (!sa_af(&p->dest)) {
			failed(r, 0, p->dest_err[0] ? p->dest_err : "no address", 0);
			continue;
		}
		send_register(r, NULL);
	}
}

void trunk_regs_free(struct trunks *t)
{
	while (t->regs.head)
		reg_free(t->regs.head->data);
}

int trunks_status(struct trunks *t, uint64_t provider_id, struct pbx_provider_status *out)
{
	const struct trunk_provider *p = trunks_provider(t, provider_id);
	if (!p)
		return ENOENT;
	memset(out, 0, sizeof(*out));
	if (sa_af(&p->dest))
		sa_str(&p->dest, out->address, sizeof(out->address));
	const struct trunk_count *c = trunk_count_get(t, provider_id, false);
	out->calls = c ? c->conc : 0;
	if (!p->enabled) {
		snprintf(out->state, sizeof(out->state), "disabled");
		return 0;
	}
	if (!p->reg) {
		snprintf(out->state, sizeof(out->state), "ip");
		snprintf(out->last_error, sizeof(out->last_error), "%s", p->dest_err);
		return 0;
	}
	const struct trunk_reg *r = trunk_reg_find(t, provider_id);
	if (!r) {
		snprintf(out->state, sizeof(out->state), "unregistered");
		return 0;
	}
	bool ok = r->state == REG_OK && r->expires_at > now_ms();
	out->registered = ok;
	snprintf(out->state, sizeof(out->state), "%s",
		 ok ? "registered" : r->state == REG_FAILED ? "failed" : r->state == REG_SENDING ? "registering"
												   : "unregistered");
	out->last_code = r->last_code;
	snprintf(out->last_error, sizeof(out->last_error), "%s", r->last_error);
	out->expires_at = ok ? r->expires_at : 0;
	out->next_attempt_at = r->next_at;
	return 0;
}
