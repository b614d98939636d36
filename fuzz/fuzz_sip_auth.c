/* libFuzzer target for digest credentials (src/sip/auth.c): the Authorization
 * header value parser, the unquoting of its fields, and verification of what
 * parsed against an authenticator made once for the process, both with a
 * password and with a stored HA1. A verification that succeeds on fuzzer input
 * would mean a forged nonce was accepted, so it aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!auth && sip_auth_alloc(&auth, 300))
		abort();
	struct pl in = pl_from((const char *)data, size);
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
