/* The registrar's front door: every REGISTER must prove itself with digest
 * credentials for the realm of the domain it registers in. Credentials are looked
 * up by extension in the tenant of that domain; until tenants and extensions are
 * wired into SIP (the registrar issue), no extension is known, so a request with
 * credentials is refused exactly as a wrong password is: 403, never a hint of
 * which extensions exist. */
#include "pbx/registrar.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/print.h"

struct registrar {
	struct sip_stack *sip;
	struct sip_auth *auth;
};

/* The realm is the domain registered in: the Request-URI host (RFC 3261 §10.3). */
static struct pl register_realm(const struct sip_msg *req)
{
	return req->ruri.host;
}

/* Challenges are stateless (RFC 3261 §8.2.7 allows it): a REGISTER that has not
 * proved anything costs pbxd no memory and earns its sender one datagram, about
 * the request's size: the first algorithm always, the others only while the
 * answer stays within twice the request (a phone's REGISTER gets them all, a
 * minimal probe from a forged source only the first). */
static void challenge(struct registrar *r, const struct sip_msg *req, bool stale)
{
	struct pl realm = register_realm(req);
	struct mbuf *mb = mbuf_alloc(512, 4096);
	size_t room = sip_stack_reply_room(req, 401);
	if (!mb || sip_auth_challenge_print_lean(mb, r->auth, false, &realm, stale, (uint64_t)time(NULL), room) ||
	    mbuf_write_mem(mb, "", 1)) {
		sip_stack_reply_stateless(r->sip, req, 500, NULL, NULL);
		mem_deref(mb);
		return;
	}
	sip_stack_reply_stateless(r->sip, req, 401, NULL, (const char *)mb->buf);
	mem_deref(mb);
}

static bool on_register(struct sip_stack *s, struct sip_msg *req, void *arg)
{
	struct registrar *r = arg;
	if (req->ruri.scheme_id != SIP_SCHEME_SIP && req->ruri.scheme_id != SIP_SCHEME_SIPS) {
		sip_stack_reply_stateless(s, req, 416, NULL, NULL);
		return true;
	}
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_AUTHORIZATION);
	struct sip_auth_cred cred;
	int err = h ? sip_auth_cred_parse(&cred, &h->val) : ENOENT;
	if (err == EBADMSG) {
		sip_stack_reply_stateless(s, req, 400, "Malformed Authorization header", NULL);
		return true;
	}
	struct pl realm = register_realm(req);
	/* No credentials for our realm, or another scheme: challenge (RFC 3261 §22.1). */
	if (err || !pl_caseeq(&cred.realm, &realm)) {
		challenge(r, req, false);
		return true;
	}
	/* No extension is known yet: identical to a wrong password. */
	log_debug("REGISTER for %.*s@%.*s refused: unknown credentials", (int)cred.username.l, cred.username.p,
		  (int)realm.l, realm.p);
	sip_stack_reply_stateless(s, req, 403, NULL, NULL);
	return true;
}

int registrar_alloc(struct registrar **rp, struct sip_stack *sip, struct sip_auth *auth)
{
	struct registrar *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->sip = sip;
	r->auth = auth;
	struct sip_listener l = { .methods = SIP_METHOD_BIT(SIP_REGISTER), .h = on_register, .arg = r };
	int err = sip_stack_listen(sip, &l);
	if (err) {
		free(r);
		return err;
	}
	*rp = r;
	return 0;
}

void registrar_free(struct registrar *r)
{
	free(r);
}
