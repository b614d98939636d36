/* libFuzzer target for digest credentials (src/sip/auth.c): the Authorization
 * header value parser, the unquoting of its fields, and verification of what
 * parsed against an authenticator made once for the process, both with a
 * password and with a stored HA1. A verification that succeeds on fuzzer input
 * would mean a forged nonce was accepted, so it aborts.
 *
 * The same input is also read as a challenge (WWW-/Proxy-Authenticate, the
 * client side), and what parses is answered: the answer must parse back as
 * credentials carrying the challenge's realm and nonce and the response the
 * server side computes for them, else it aborts (client and server disagree). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "core/pl.h"
#include "sip/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;
static struct sip_auth *auth;

static void unquote(const struct pl *v)
{
	char buf[SIP_AUTH_MAX_URI];
	struct pl out;
	if (v->p && sip_auth_unquote(v, buf, sizeof(buf), &out) == 0)
		sink += out.l;
}

static bool unquoted_eq(const struct pl *a, const struct pl *b)
{
	char ba[SIP_AUTH_MAX_URI], bb[SIP_AUTH_MAX_URI];
	struct pl ua, ub;
	return !sip_auth_unquote(a, ba, sizeof(ba), &ua) && !sip_auth_unquote(b, bb, sizeof(bb), &ub) &&
	       pl_eq(&ua, &ub);
}

static void challenge(const struct pl *in)
{
	struct sip_auth_chal ch;
	if (sip_auth_chal_parse(&ch, in))
		return;
	sink += (size_t)ch.alg + ch.stale + ch.qop_auth;
	static struct mbuf *mb;
	if (!mb && !(mb = mbuf_alloc(1024, 16384)))
		abort();
	mbuf_reset(mb);
	const struct pl method = PL("INVITE");
	int err = sip_auth_cred_print(mb, ch.stale, &ch, &method, "sip:+15551234567@carrier.example.net",
				      "pbx\\\"user", "secretpw", 1, "0a4f113b");
	if (err == EINVAL)
		return; /* a tab or the like in a value: refused, not printed */
	if (err)
		abort();
	/* Strip "Name: " and CRLF, then read it back as the server would. */
	const char *line = (const char *)mb->buf;
	const char *colon = memchr(line, ':', mb->end);
	if (!colon || mb->end < 2 || line[mb->end - 2] != '\r')
		abort();
	struct pl hv = pl_from(colon + 2, (size_t)(line + mb->end - 2 - (colon + 2)));
	struct sip_auth_cred c;
	if (sip_auth_cred_parse(&c, &hv) || c.alg != ch.alg || !unquoted_eq(&c.realm, &ch.realm) ||
	    !unquoted_eq(&c.nonce, &ch.nonce) || (ch.opaque.p && !unquoted_eq(&c.opaque, &ch.opaque)))
		abort();
	char rb[SIP_AUTH_MAX_FIELD], ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];
	struct pl realm;
	const struct pl user = PL("pbx\\\"user");
	if (sip_auth_unquote(&c.realm, rb, sizeof(rb), &realm) ||
	    sip_auth_ha1_compute(ha1, sizeof(ha1), c.alg, &user, &realm, "secretpw") ||
	    sip_auth_response_compute(resp, sizeof(resp), &c, &method, ha1) ||
	    !pl_eq_str(&c.response, resp))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!auth && sip_auth_alloc(&auth, 300))
		abort();
	struct pl in = pl_from((const char *)data, size);
	challenge(&in);
	struct sip_auth_cred c;
	if (sip_auth_cred_parse(&c, &in))
		return 0;
	const struct pl *fields[] = { &c.username, &c.realm, &c.nonce, &c.uri, &c.response,
				      &c.cnonce, &c.opaque, &c.qop, &c.nc, &c.algorithm };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		unquote(fields[i]);
	sink += (size_t)sip_auth_alg_name(c.alg)[0];

	const struct pl method = PL("REGISTER");
	char ha1[SIP_AUTH_HEX_SIZE] = "", resp[SIP_AUTH_HEX_SIZE];
	bool have_ha1 = sip_auth_ha1_compute(ha1, sizeof(ha1), c.alg, &c.username, &c.realm, "secretpw") == 0;
	if (have_ha1 && sip_auth_response_compute(resp, sizeof(resp), &c, &method, ha1) == 0)
		sink += (size_t)resp[0];
	/* Our nonces carry an HMAC under a random key: nothing the fuzzer writes
	 * can be accepted. */
	if (sip_auth_verify(auth, &c, &method, &c.realm, "secretpw", 1000) == SIP_AUTH_OK)
		abort();
	if (have_ha1 && sip_auth_verify_ha1(auth, &c, &method, &c.realm, ha1, 1000) == SIP_AUTH_OK)
		abort();
	return 0;
}
