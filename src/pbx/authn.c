/* Digest authentication of a request as an extension (see authn.h). */
#include "pbx/authn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"

/* Verified against when the extension is unknown or may not register, so that
 * such a request costs what a wrong password costs. */
static const char dummy_password[] = "pbxd-no-such-extension-0000000000";

/* Challenges are stateless (RFC 3261 §8.2.7 allows it): a request that has not
 * proved anything costs pbxd no memory and earns its sender one datagram, about
 * the request's size: the first algorithm always, the others only while the
 * answer stays within twice the request (a phone's REGISTER gets them all, a
 * minimal probe from a forged source only the first). */
static void challenge(struct authn *a, struct sip_stack *s, const struct sip_msg *req, const struct pl *realm,
		      bool proxy, bool stale)
{
	uint16_t code = proxy ? 407 : 401;
	size_t room;
	/* The budget first: a flood from a forged source costs a lookup, not nonces. */
	if (sip_stack_reply_begin(s, req, code, &room))
		return;
	struct mbuf *mb = mbuf_alloc(512, 4096);
	if (!mb || sip_auth_challenge_print_lean(mb, a->auth, proxy, realm, stale, (uint64_t)time(NULL), room) ||
	    mbuf_write_mem(mb, "", 1)) {
		sip_stack_reply_begun(s, req, 500, NULL, NULL);
		mem_deref(mb);
		return;
	}
	sip_stack_reply_begun(s, req, code, NULL, (const char *)mb->buf);
	mem_deref(mb);
}

/* The credentials of req for realm: the Authorization (Proxy-Authorization)
 * header whose realm is ours; a request may carry several, for other realms.
 * 0, ENOENT (none for us) or EBADMSG (one is malformed). */
static int creds_find(const struct sip_msg *req, bool proxy, const struct pl *realm, struct sip_auth_cred *out)
{
	enum sip_hdr_id id = proxy ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION;
	for (const struct sip_hdr *h = sip_msg_hdr(req, id); h; h = sip_msg_hdr_next(req, h)) {
		struct sip_auth_cred c;
		int err = sip_auth_cred_parse(&c, &h->val);
		if (err == EBADMSG)
			return EBADMSG;
		if (err)
			continue; /* another scheme */
		char buf[SIP_AUTH_MAX_FIELD];
		struct pl r;
		if (sip_auth_unquote(&c.realm, buf, sizeof(buf), &r) == 0 && pl_caseeq(&r, realm)) {
			*out = c;
			return 0;
		}
	}
	return ENOENT;
}

static void refuse(struct authn *a, struct sip_stack *s, const struct sip_msg *req, const struct pl *realm,
		   const struct pl *user)
{
	char who[128];
	snprintf(who, sizeof(who), "%.*s@%.*s", (int)(user->l < 40 ? user->l : 40), user->p,
		 (int)(realm->l < 80 ? realm->l : 80), realm->p);
	log_info("SIP %s for %s from %s refused: wrong credentials", sip_method_name(req->mid), who,
		 sa_str(&req->src.addr, (char[64]){ 0 }, 64));
	security_auth_failed(a->sec, &req->src.addr, who);
	/* One answer for an unknown extension, a disabled one and a wrong password. */
	sip_stack_reply_stateless(s, req, 403, NULL, NULL);
}

struct dir_ext *authn_request(struct authn *a, struct sip_stack *s, struct sip_msg *req, struct dir_tenant *t,
			      const struct pl *realm, const struct pl *user, bool proxy)
{
	struct sip_auth_cred c;
	int err = creds_find(req, proxy, realm, &c);
	if (err == EBADMSG) {
		sip_stack_reply_stateless(s, req, 400, proxy ? "Malformed Proxy-Authorization header"
							     : "Malformed Authorization header", NULL);
		return NULL;
	}
	if (err) {
		challenge(a, s, req, realm, proxy, false);
		return NULL;
	}
	char ubuf[SIP_AUTH_MAX_FIELD];
	struct pl name, webid = PL_INIT;
	struct dir_ext *x = NULL;
	if (sip_auth_unquote(&c.username, ubuf, sizeof(ubuf), &name) == 0 && t) {
		/* "101~id": extension 101 through a browser phone credential */
		const char *tilde = name.l ? memchr(name.p, '~', name.l) : NULL;
		if (tilde) {
			webid = pl_from(tilde + 1, name.l - (size_t)(tilde + 1 - name.p));
			name.l = (size_t)(tilde - name.p);
		}
		x = directory_ext(t, &name);
	}
	/* The credentials must be the address-of-record's own: extension 101 cannot
	 * register (or call as) 102 with its own password. */
	bool own = x && pl_eq(&name, user) && directory_usable(x);
	const char *password = own ? x->password : dummy_password;
	if (own && webid.p) {
		password = dummy_password;
		own = false;
		int64_t now = (int64_t)time(NULL) * 1000;
		for (size_t i = 0; i < DIR_WEBCRED_MAX; i++) {
			const struct dir_webcred *w = &x->webcred[i];
			if (w->expires_ms > now && pl_eq_str(&webid, w->id)) {
				password = w->secret;
				own = true;
				break;
			}
		}
	}
	enum sip_auth_result r = sip_auth_verify(a->auth, &c, &req->method, realm, password, (uint64_t)time(NULL));
	if (r == SIP_AUTH_BAD_NONCE) {
		challenge(a, s, req, realm, proxy, false);
		return NULL;
	}
	if (r == SIP_AUTH_STALE && own) {
		challenge(a, s, req, realm, proxy, true);
		return NULL;
	}
	if (r != SIP_AUTH_OK || !own) {
		refuse(a, s, req, realm, user);
		return NULL;
	}
	return x;
}
