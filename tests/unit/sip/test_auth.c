/* Unit tests for SIP digest authentication (src/sip/auth.c): the RFC worked
 * examples, challenge/response round trips with an independent client built on
 * OpenSSL directly, stale and forged nonces, nonce-count replays, and the parser's
 * handling of malformed and non-Digest credentials. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/auth.h"

enum { LIFETIME = 300, T0 = 1700000000 };

static const char *const realm_s = "pbx.example.com";

/* ---- an independent client: hashes with EVP directly, not through auth.c ---- */

static void th(const EVP_MD *md, char out[SIP_AUTH_HEX_SIZE], const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void th(const EVP_MD *md, char out[SIP_AUTH_HEX_SIZE], const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	assert_int_equal(EVP_Digest(buf, (size_t)n, d, &dl, md, NULL), 1);
	for (unsigned i = 0; i < dl; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

struct chal {
	char nonce[128];
	char opaque[64];
	char realm[300];
	char alg[32];
	char qop[32];
	bool stale;
};

/* Copies the value of name= from one challenge line (quotes stripped). */
static bool chal_param(const char *line, const char *name, char *out, size_t size)
{
	char key[40];
	snprintf(key, sizeof(key), " %s=", name);
	const char *p = strstr(line, key);
	const char *eol = strstr(line, "\r\n");
	if (!p || (eol && p > eol))
		return false;
	p += strlen(key);
	size_t n = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\')
				p++;
			if (n + 1 < size)
				out[n++] = *p;
		}
	} else {
		for (; *p && *p != ',' && *p != '\r'; p++) {
			if (n + 1 < size)
				out[n++] = *p;
		}
	}
	out[n] = '\0';
	return true;
}

static void chal_read(const char *line, struct chal *ch)
{
	char st[16];
	memset(ch, 0, sizeof(*ch));
	assert_true(chal_param(line, "nonce", ch->nonce, sizeof(ch->nonce)));
	assert_true(chal_param(line, "opaque", ch->opaque, sizeof(ch->opaque)));
	assert_true(chal_param(line, "realm", ch->realm, sizeof(ch->realm)));
	assert_true(chal_param(line, "algorithm", ch->alg, sizeof(ch->alg)));
	assert_true(chal_param(line, "qop", ch->qop, sizeof(ch->qop)));
	ch->stale = chal_param(line, "stale", st, sizeof(st)) && strcmp(st, "true") == 0;
}

/* Issues a challenge and reads back line 0 (SHA-256) or 1 (MD5). */
static void issue(struct sip_auth *a, const char *realm, uint64_t now, int line, struct chal *ch)
{
	struct mbuf *mb = mbuf_alloc(512, 4096);
	assert_non_null(mb);
	struct pl r = pl_cstr(realm);
	assert_int_equal(sip_auth_challenge_print(mb, a, false, &r, false, now), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	const char *s = (const char *)mb->buf;
	if (line == 1)
		s = strstr(s, "\r\n") + 2;
	chal_read(s, ch);
	mem_deref(mb);
}

struct resp {
	const char *user, *pass, *method, *uri, *cnonce, *qop;
	unsigned nc;
	bool no_opaque;
};

/* Builds an Authorization value the way a UA would (RFC 7616 §3.4.1). */
static void answer(char *hv, size_t size, const struct chal *ch, const struct resp *r)
{
	const EVP_MD *md = strcmp(ch->alg, "SHA-256") == 0 ? EVP_sha256() : EVP_md5();
	const char *qop = r->qop ? r->qop : "auth";
	char ha1[SIP_AUTH_HEX_SIZE], ha2[SIP_AUTH_HEX_SIZE], rs[SIP_AUTH_HEX_SIZE];
	th(md, ha1, "%s:%s:%s", r->user, ch->realm, r->pass);
	th(md, ha2, "%s:%s", r->method, r->uri);
	th(md, rs, "%s:%s:%08x:%s:%s:%s", ha1, ch->nonce, r->nc, r->cnonce, qop, ha2);
	char realm[2 * sizeof(ch->realm)];
	size_t rn = 0;
	for (const char *q = ch->realm; *q; q++) {
		if (*q == '"' || *q == '\\')
			realm[rn++] = '\\';
		realm[rn++] = *q;
	}
	realm[rn] = '\0';
	char opq[100] = "";
	if (!r->no_opaque)
		snprintf(opq, sizeof(opq), ", opaque=\"%s\"", ch->opaque);
	int n = snprintf(hv, size,
			 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
			 "response=\"%s\", algorithm=%s, cnonce=\"%s\", qop=%s, nc=%08x%s",
			 r->user, realm, ch->nonce, r->uri, rs, ch->alg, r->cnonce, qop, r->nc,
			 opq);
	assert_true(n > 0 && (size_t)n < size);
}

static enum sip_auth_result check(struct sip_auth *a, const char *hv, const char *method,
				  const char *realm, const char *pass, uint64_t now)
{
	struct sip_auth_cred c;
	struct pl h = pl_cstr(hv), m = pl_cstr(method), r = pl_cstr(realm);
	assert_int_equal(sip_auth_cred_parse(&c, &h), 0);
	return sip_auth_verify(a, &c, &m, &r, pass, now);
}

static struct sip_auth *auth_new(void)
{
	struct sip_auth *a = NULL;
	assert_int_equal(sip_auth_alloc(&a, LIFETIME), 0);
	assert_non_null(a);
	return a;
}

static const struct resp alice = { "alice", "s3cret", "REGISTER", "sip:pbx.example.com",
				   "c0ffee", NULL, 1, false };

/* ---- RFC worked examples ---- */

static void compute_expect(const char *hv, const char *method, const char *user,
			   const char *realm, const char *pass, const char *expect)
{
	struct sip_auth_cred c;
	struct pl h = pl_cstr(hv), m = pl_cstr(method), u = pl_cstr(user), r = pl_cstr(realm);
	assert_int_equal(sip_auth_cred_parse(&c, &h), 0);
	char ha1[SIP_AUTH_HEX_SIZE], out[SIP_AUTH_HEX_SIZE];
	assert_int_equal(sip_auth_ha1_compute(ha1, sizeof(ha1), c.alg, &u, &r, pass), 0);
	assert_int_equal(sip_auth_response_compute(out, sizeof(out), &c, &m, ha1), 0);
	assert_string_equal(out, expect);
}

static const char rfc2617_hv[] =
	"Digest username=\"Mufasa\",\r\n"
	"                 realm=\"testrealm@host.com\",\r\n"
	"                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n"
	"                 uri=\"/dir/index.html\",\r\n"
	"                 qop=auth,\r\n"
	"                 nc=00000001,\r\n"
	"                 cnonce=\"0a4f113b\",\r\n"
	"                 response=\"6629fae49393a05397450978507c4ef1\",\r\n"
	"                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

static void test_rfc2617_example(void **state)
{
	(void)state;
	struct sip_auth_cred c;
	struct pl h = pl_cstr(rfc2617_hv);
	assert_int_equal(sip_auth_cred_parse(&c, &h), 0);
	assert_true(pl_eq_str(&c.scheme, "Digest"));
	assert_true(pl_eq_str(&c.username, "Mufasa"));
	assert_true(pl_eq_str(&c.realm, "testrealm@host.com"));
	assert_true(pl_eq_str(&c.uri, "/dir/index.html"));
	assert_true(pl_eq_str(&c.qop, "auth"));
	assert_true(pl_eq_str(&c.cnonce, "0a4f113b"));
	assert_true(pl_eq_str(&c.opaque, "5ccc069c403ebaf9f0171e9517f40e41"));
	assert_false(pl_isset(&c.algorithm));
	assert_int_equal(c.alg, SIP_AUTH_MD5);
	assert_int_equal(c.ncv, 1);
	compute_expect(rfc2617_hv, "GET", "Mufasa", "testrealm@host.com", "Circle Of Life",
		       "6629fae49393a05397450978507c4ef1");
}

/* RFC 7616 §3.9.1, both the SHA-256 and the MD5 answer. */
static void test_rfc7616_examples(void **state)
{
	(void)state;
	static const char sha[] =
		"Digest username=\"Mufasa\",\r\n"
		"       realm=\"http-auth@example.org\",\r\n"
		"       uri=\"/dir/index.html\",\r\n"
		"       algorithm=SHA-256,\r\n"
		"       nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
		"       nc=00000001,\r\n"
		"       cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
		"       qop=auth,\r\n"
		"       response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n"
		"       opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	static const char md5[] =
		"Digest username=\"Mufasa\",\r\n"
		"       realm=\"http-auth@example.org\",\r\n"
		"       uri=\"/dir/index.html\",\r\n"
		"       algorithm=MD5,\r\n"
		"       nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
		"       nc=00000001,\r\n"
		"       cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
		"       qop=auth,\r\n"
		"       response=\"8ca523f5e9506fed4657c9700eebdbec\",\r\n"
		"       opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	compute_expect(sha, "GET", "Mufasa", "http-auth@example.org", "Circle of Life",
		       "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	compute_expect(md5, "GET", "Mufasa", "http-auth@example.org", "Circle of Life",
		       "8ca523f5e9506fed4657c9700eebdbec");
}

/* The other algorithms and RFC 2069, on RFC 2617's inputs; expected values from
 * Python's hashlib. */
static void test_other_algorithms(void **state)
{
	(void)state;
	static const struct {
		const char *alg, *expect;
	} v[] = {
		{ "MD5-sess", "8e3825c57e897f5a0dec6c2d4e5059d0" },
		{ "SHA-256-sess", "b8822e12417cb7750f4e2b8515f0dcf25b7dd26993e80bee1426201446a7f59b" },
		{ "SHA-512-256", "f23c08ec7334a881f8286e68450ddbd9f0cd91c41481f0e1433604da8113c6dc" },
		{ "sha-512-256-SESS", "0d21f0db3ec5cda5b850c0afa3bc29b4a3c5a6191959ff1baf511d4b38eb6b1e" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char hv[600];
		snprintf(hv, sizeof(hv),
			 "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
			 "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
			 "qop=auth, nc=00000001, cnonce=\"0a4f113b\", algorithm=%s, response=\"%s\"",
			 v[i].alg, v[i].expect);
		compute_expect(hv, "GET", "Mufasa", "testrealm@host.com", "Circle Of Life", v[i].expect);
	}
	compute_expect("Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
		       "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
		       "response=\"670fd8c2df070c60b045671b8b24ff02\"",
		       "GET", "Mufasa", "testrealm@host.com", "Circle Of Life",
		       "670fd8c2df070c60b045671b8b24ff02");
	assert_string_equal(sip_auth_alg_name(SIP_AUTH_SHA256), "SHA-256");
}

/* ---- challenges ---- */

static void test_challenge_print(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct mbuf *mb = mbuf_alloc(256, 4096);
	struct pl r = PL("tenant \"a\\b\"");
	assert_int_equal(sip_auth_challenge_print(mb, a, false, &r, false, T0), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	const char *s = (const char *)mb->buf;
	const char *l2 = strstr(s, "\r\n") + 2;
	assert_int_equal(strncmp(s, "WWW-Authenticate: Digest ", 25), 0);
	assert_int_equal(strncmp(l2, "WWW-Authenticate: Digest ", 25), 0);
	assert_non_null(strstr(s, "realm=\"tenant \\\"a\\\\b\\\"\""));
	assert_string_equal(l2 + strlen(l2) - 2, "\r\n");
	assert_null(strstr(strstr(l2, "\r\n") + 2, "Authenticate")); /* exactly two lines */

	struct chal c1, c2;
	chal_read(s, &c1);
	chal_read(l2, &c2);
	assert_string_equal(c1.alg, "SHA-256");
	assert_string_equal(c2.alg, "MD5");
	assert_string_equal(c1.realm, "tenant \"a\\b\"");
	assert_string_equal(c1.qop, "auth");
	assert_string_equal(c2.qop, "auth");
	assert_false(c1.stale);
	assert_string_equal(c1.opaque, c2.opaque);
	assert_true(strlen(c1.opaque) > 0);
	assert_int_equal(strlen(c1.nonce), 43);
	assert_int_equal(strspn(c1.nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789-_"), 43);
	assert_string_not_equal(c1.nonce, c2.nonce);

	/* the printed nonce answers to a client that computes on its own */
	char hv[1024];
	answer(hv, sizeof(hv), &c1, &alice);
	assert_int_equal(check(a, hv, "REGISTER", c1.realm, "s3cret", T0 + 1), SIP_AUTH_OK);
	answer(hv, sizeof(hv), &c2, &alice);
	assert_int_equal(check(a, hv, "REGISTER", c2.realm, "s3cret", T0 + 1), SIP_AUTH_OK);

	mbuf_reset(mb);
	r = pl_cstr(realm_s);
	assert_int_equal(sip_auth_challenge_print(mb, a, true, &r, true, T0), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	s = (const char *)mb->buf;
	l2 = strstr(s, "\r\n") + 2;
	assert_int_equal(strncmp(s, "Proxy-Authenticate: Digest ", 27), 0);
	assert_int_equal(strncmp(l2, "Proxy-Authenticate: Digest ", 27), 0);
	chal_read(s, &c1);
	chal_read(l2, &c2);
	assert_true(c1.stale);
	assert_true(c2.stale);
	mem_deref(mb);
	mem_deref(a);
}

static void test_challenge_print_errors(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct mbuf *mb = mbuf_alloc(64, 100);
	struct pl bad[] = { PL(""), PL("evil\r\nX-Injected: 1"), PL("tab\tin") };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sip_auth_challenge_print(mb, a, false, &bad[i], false, T0), EINVAL);
	char longr[SIP_AUTH_MAX_FIELD + 2];
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	struct pl lr = pl_cstr(longr);
	assert_int_equal(sip_auth_challenge_print(mb, a, false, &lr, false, T0), EINVAL);

	/* too small a buffer: error, and nothing half-written is left behind */
	assert_int_equal(mbuf_write_str(mb, "SIP/2.0 401\r\n"), 0);
	struct pl r = pl_cstr(realm_s);
	assert_int_equal(sip_auth_challenge_print(mb, a, false, &r, false, T0), EMSGSIZE);
	assert_int_equal(mb->end, 13);
	mem_deref(mb);
	assert_int_equal(sip_auth_challenge_print(NULL, a, false, &r, false, T0), EINVAL);
	mem_deref(a);

	struct sip_auth *z = NULL;
	assert_int_equal(sip_auth_alloc(&z, 0), EINVAL);
	assert_null(z);
}

/* ---- verification ---- */

static void test_roundtrip(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct pl m = PL("INVITE"), r = pl_cstr(realm_s), u = PL("alice");
	for (int line = 0; line < 2; line++) {
		struct chal ch;
		char hv[1024];
		issue(a, realm_s, T0, line, &ch);
		struct resp rr = alice;
		rr.method = "INVITE";
		answer(hv, sizeof(hv), &ch, &rr);
		assert_int_equal(check(a, hv, "INVITE", realm_s, "s3cret", T0), SIP_AUTH_OK);

		/* the stored-HA1 path, on the next request with the same nonce */
		struct sip_auth_cred c;
		rr.nc = 2;
		answer(hv, sizeof(hv), &ch, &rr);
		struct pl h = pl_cstr(hv);
		assert_int_equal(sip_auth_cred_parse(&c, &h), 0);
		assert_int_equal(c.alg, line ? SIP_AUTH_MD5 : SIP_AUTH_SHA256);
		char ha1[SIP_AUTH_HEX_SIZE];
		assert_int_equal(sip_auth_ha1_compute(ha1, sizeof(ha1), c.alg, &u, &r, "s3cret"), 0);
		assert_int_equal(strlen(ha1), line ? 32 : 64);
		/* an HA1 for the other algorithm cannot match */
		char other[SIP_AUTH_HEX_SIZE];
		assert_int_equal(sip_auth_ha1_compute(other, sizeof(other),
						      line ? SIP_AUTH_SHA256 : SIP_AUTH_MD5, &u, &r,
						      "s3cret"), 0);
		assert_int_equal(sip_auth_verify_ha1(a, &c, &m, &r, other, T0), SIP_AUTH_FAIL);
		assert_int_equal(sip_auth_verify_ha1(a, &c, &m, &r, ha1, T0), SIP_AUTH_OK);

		/* digest over another method (request altered in flight) */
		rr.nc = 3;
		answer(hv, sizeof(hv), &ch, &rr);
		assert_int_equal(check(a, hv, "BYE", realm_s, "s3cret", T0), SIP_AUTH_FAIL);
	}
	mem_deref(a);
}

static void test_wrong_password_and_realm(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct chal ch;
	char hv[1024];
	issue(a, realm_s, T0, 0, &ch);
	answer(hv, sizeof(hv), &ch, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "wrong", T0), SIP_AUTH_FAIL);
	/* a nonce issued for one tenant is not one for another */
	assert_int_equal(check(a, hv, "REGISTER", "other.example.com", "s3cret", T0),
			 SIP_AUTH_BAD_NONCE);

	/* our nonce for this realm, but the client put another realm in its credentials */
	struct chal ch2 = ch;
	strcpy(ch2.realm, "other.example.com");
	answer(hv, sizeof(hv), &ch2, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_FAIL);

	/* hashed with the right realm, but claiming another one in the header */
	answer(hv, sizeof(hv), &ch, &alice);
	char *rq = strstr(hv, realm_s);
	assert_non_null(rq);
	memcpy(rq, "qbx", 3);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_FAIL);

	/* the failures above recorded nothing: nc=1 is still good */
	answer(hv, sizeof(hv), &ch, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_OK);
	mem_deref(a);
}

static void test_stale_nonce(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct chal ch;
	char hv[1024];

	issue(a, realm_s, T0, 0, &ch);
	answer(hv, sizeof(hv), &ch, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + LIFETIME), SIP_AUTH_OK);

	issue(a, realm_s, T0, 1, &ch);
	answer(hv, sizeof(hv), &ch, &alice);
	/* a wrong password is a failure, not an invitation to retry silently */
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "wrong", T0 + LIFETIME + 1),
			 SIP_AUTH_FAIL);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + LIFETIME + 1),
			 SIP_AUTH_STALE);
	/* stale did not consume nc=1 */
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 10), SIP_AUTH_OK);

	/* issued "in the future": the clock went back; authentic but unusable */
	issue(a, realm_s, T0 + 100, 0, &ch);
	answer(hv, sizeof(hv), &ch, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 99), SIP_AUTH_STALE);
	mem_deref(a);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Rewrites the issue time in a nonce, keeping its MAC: what an attacker who wants
 * to extend a captured nonce's life would try. */
static void nonce_retime(char *nonce, uint64_t t)
{
	uint8_t raw[32];
	size_t n = strlen(nonce), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 6) | (uint32_t)(strchr(b64, nonce[i]) - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (uint8_t)(acc >> bits);
		}
	}
	assert_int_equal(o, 32);
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(t >> (56 - 8 * i));
	o = 0;
	acc = 0;
	bits = 0;
	for (size_t i = 0; i < 32; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			nonce[o++] = b64[(acc >> bits) & 63];
		}
	}
	nonce[o++] = b64[(acc << (6 - bits)) & 63];
	nonce[o] = '\0';
}

static void test_forged_nonce(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new(), *b = auth_new();
	struct chal ch, f;
	char hv[1024];
	issue(a, realm_s, T0, 0, &ch);

	/* one character changed in the MAC */
	f = ch;
	f.nonce[30] = f.nonce[30] == 'A' ? 'B' : 'A';
	answer(hv, sizeof(hv), &f, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_BAD_NONCE);

	/* the time moved forward to dodge expiry */
	f = ch;
	nonce_retime(f.nonce, T0 + 1000);
	assert_string_not_equal(f.nonce, ch.nonce);
	answer(hv, sizeof(hv), &f, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 1000 + 5),
			 SIP_AUTH_BAD_NONCE);
	/* control: re-encoding the true time gives back a valid nonce */
	f = ch;
	nonce_retime(f.nonce, T0);
	assert_string_equal(f.nonce, ch.nonce);

	/* a nonce of the right form from another server (another key) */
	issue(b, realm_s, T0, 0, &f);
	answer(hv, sizeof(hv), &f, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_BAD_NONCE);

	/* the wrong shape altogether */
	static const char *const shapes[] = { "", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
					      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		f = ch;
		strcpy(f.nonce, shapes[i]);
		answer(hv, sizeof(hv), &f, &alice);
		assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0),
				 SIP_AUTH_BAD_NONCE);
	}
	/* nonzero spare bits in the last character: a second spelling of the nonce */
	f = ch;
	char *last = &f.nonce[42];
	*last = b64[(strchr(b64, *last) - b64) | 1];
	answer(hv, sizeof(hv), &f, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_BAD_NONCE);

	/* opaque that is not ours; then no opaque at all, which some UAs do */
	f = ch;
	strcpy(f.opaque, "0123456789abcdef");
	answer(hv, sizeof(hv), &f, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_BAD_NONCE);
	struct resp nop = alice;
	nop.no_opaque = true;
	answer(hv, sizeof(hv), &ch, &nop);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_OK);
	mem_deref(b);
	mem_deref(a);
}

static void test_replayed_nc(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct chal ch, ch2;
	char hv[1024];
	struct resp rr = alice;
	issue(a, realm_s, T0, 0, &ch);
	issue(a, realm_s, T0, 0, &ch2); /* same second, same realm: still its own nonce */
	assert_string_not_equal(ch.nonce, ch2.nonce);

	static const struct {
		unsigned nc;
		enum sip_auth_result want;
	} seq[] = {
		{ 1, SIP_AUTH_OK }, { 1, SIP_AUTH_FAIL }, { 2, SIP_AUTH_OK }, { 1, SIP_AUTH_FAIL },
		{ 5, SIP_AUTH_OK }, { 3, SIP_AUTH_FAIL }, { 5, SIP_AUTH_FAIL }, { 6, SIP_AUTH_OK },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		rr.nc = seq[i].nc;
		answer(hv, sizeof(hv), &ch, &rr);
		assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 1), seq[i].want);
	}
	/* counts are per nonce */
	rr.nc = 1;
	answer(hv, sizeof(hv), &ch2, &rr);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 1), SIP_AUTH_OK);

	/* RFC 2069 (no qop, no nc): one request per nonce; reuse gets a new one */
	struct chal c3;
	issue(a, realm_s, T0, 1, &c3);
	char ha1[SIP_AUTH_HEX_SIZE], ha2[SIP_AUTH_HEX_SIZE], rs[SIP_AUTH_HEX_SIZE];
	th(EVP_md5(), ha1, "alice:%s:s3cret", realm_s);
	th(EVP_md5(), ha2, "REGISTER:sip:pbx.example.com");
	th(EVP_md5(), rs, "%s:%s:%s", ha1, c3.nonce, ha2);
	snprintf(hv, sizeof(hv),
		 "Digest username=\"alice\", realm=\"%s\", nonce=\"%s\", "
		 "uri=\"sip:pbx.example.com\", response=\"%s\"", realm_s, c3.nonce, rs);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 1), SIP_AUTH_OK);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 1), SIP_AUTH_STALE);
	mem_deref(a);
}

/* Overflowing the bounded nc table must not reopen replays of forgotten nonces. */
static void test_replay_table_overflow(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct chal victim, fill, later;
	char hv[1024];
	issue(a, realm_s, T0, 1, &victim);
	answer(hv, sizeof(hv), &victim, &alice);
	char replay[1024];
	strcpy(replay, hv);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_OK);

	issue(a, realm_s, T0 + 5, 1, &later); /* issued after anything that gets forgotten */
	for (int i = 0; i < 4096; i++) {
		issue(a, realm_s, T0 + 1, 1, &fill);
		answer(hv, sizeof(hv), &fill, &alice);
		assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 2), SIP_AUTH_OK);
	}
	/* the victim's entry is gone; its replay must still not pass */
	assert_int_equal(check(a, replay, "REGISTER", realm_s, "s3cret", T0 + 3), SIP_AUTH_STALE);
	/* nonces newer than anything forgotten are unaffected */
	answer(hv, sizeof(hv), &later, &alice);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0 + 6), SIP_AUTH_OK);
	mem_deref(a);
}

static void test_verify_rejects(void **state)
{
	(void)state;
	struct sip_auth *a = auth_new();
	struct chal ch;
	char hv[1024];
	issue(a, realm_s, T0, 0, &ch);

	/* qop=auth-int was never offered */
	struct resp rr = alice;
	rr.qop = "auth-int";
	answer(hv, sizeof(hv), &ch, &rr);
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_FAIL);

	/* hex case in the response does not matter */
	answer(hv, sizeof(hv), &ch, &alice);
	char *resp = strstr(hv, "response=\"") + 10;
	for (int i = 0; i < 64; i++)
		resp[i] = (resp[i] >= 'a' && resp[i] <= 'f') ? (char)(resp[i] - 32) : resp[i];
	assert_int_equal(check(a, hv, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_OK);

	/* bad HA1 input */
	struct sip_auth_cred c;
	struct pl h = pl_cstr(hv), m = PL("REGISTER"), r = pl_cstr(realm_s);
	assert_int_equal(sip_auth_cred_parse(&c, &h), 0);
	assert_int_equal(sip_auth_verify_ha1(a, &c, &m, &r, "xyz", T0), SIP_AUTH_FAIL);
	assert_int_equal(sip_auth_verify_ha1(a, &c, &m, &r, NULL, T0), SIP_AUTH_FAIL);
	assert_int_equal(sip_auth_verify(a, &c, &m, &r, NULL, T0), SIP_AUTH_FAIL);
	char out[SIP_AUTH_HEX_SIZE];
	assert_int_equal(sip_auth_response_compute(out, sizeof(out), &c, &m, "12"), EINVAL);
	char ha1[SIP_AUTH_HEX_SIZE];
	struct pl u = PL("alice");
	assert_int_equal(sip_auth_ha1_compute(ha1, 40, SIP_AUTH_SHA256, &u, &r, "x"), ENOSPC);
	mem_deref(a);
}

/* ---- parsing ---- */

static int parse(const char *s)
{
	struct sip_auth_cred c;
	struct pl h = pl_cstr(s);
	return sip_auth_cred_parse(&c, &h);
}

#define BASE "username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\""
#define R32 "response=\"0123456789abcdef0123456789abcdef\""
#define R64 "response=\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""
#define QOP "qop=auth, nc=00000001, cnonce=\"c\""

static void test_parse_malformed(void **state)
{
	(void)state;
	/* sanity: the base the cases below break is itself fine */
	assert_int_equal(parse("Digest " BASE ", " R32), 0);
	assert_int_equal(parse("Digest " BASE ", " R32 ", " QOP), 0);
	assert_int_equal(parse("digest " BASE ", algorithm=sha-256, " R64), 0);

	static const char *const bad[] = {
		/* unterminated quoted string, and a final backslash eating the quote */
		"Digest " BASE ", " R32 ", cnonce=\"abc",
		"Digest " BASE ", " R32 ", cnonce=\"abc\\\"",
		/* missing '=' or value */
		"Digest " BASE ", " R32 ", stale",
		"Digest " BASE ", " R32 ", stale=",
		"Digest username \"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", " R32,
		/* duplicates, known and unknown, case-insensitively */
		"Digest " BASE ", " R32 ", Username=\"b\"",
		"Digest " BASE ", " R32 ", foo=1, FOO=2",
		/* each required field missing */
		"Digest realm=\"r\", nonce=\"n\", uri=\"sip:x\", " R32,
		"Digest username=\"a\", nonce=\"n\", uri=\"sip:x\", " R32,
		"Digest username=\"a\", realm=\"r\", uri=\"sip:x\", " R32,
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", " R32,
		"Digest " BASE,
		/* nc not 8 hex digits, or zero; qop without nc or cnonce */
		"Digest " BASE ", " R32 ", qop=auth, nc=0000001, cnonce=\"c\"",
		"Digest " BASE ", " R32 ", qop=auth, nc=000000001, cnonce=\"c\"",
		"Digest " BASE ", " R32 ", qop=auth, nc=0000000g, cnonce=\"c\"",
		"Digest " BASE ", " R32 ", qop=auth, nc=00000000, cnonce=\"c\"",
		"Digest " BASE ", " R32 ", qop=auth, cnonce=\"c\"",
		"Digest " BASE ", " R32 ", qop=auth, nc=00000001",
		"Digest " BASE ", " R32 ", qop=\"\", nc=00000001, cnonce=\"c\"",
		/* unknown algorithm; response not hex of the algorithm's length */
		"Digest " BASE ", " R32 ", algorithm=SHA-1",
		"Digest " BASE ", " R32 ", algorithm=SHA-256",
		"Digest " BASE ", response=\"0123456789abcdef0123456789abcdeg\"",
		"Digest " BASE ", response=\"0123\"",
		/* list syntax */
		"Digest " BASE ", " R32 ",",
		"Digest " BASE ",, " R32,
		"Digest " BASE " " R32,
		"Digest ",
		"Digest",
		"Digest, " BASE ", " R32,
		"",
		"   ",
		/* unquoted value that is not a token */
		"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=sip:x, " R32,
		/* line breaks that are not folds; control characters */
		"Digest " BASE ",\r\n" R32,
		"Digest " BASE ", " R32 "\r\n",
		"Digest " BASE ", " R32 ", cnonce=\"a\r\nb\"",
		"Digest " BASE ", " R32 ", cnonce=\"a\x01b\"",
		"Digest " BASE ", " R32 ", cnonce=\"a\\\x01b\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = parse(bad[i]);
		if (err != EBADMSG)
			fail_msg("case %zu: \"%s\" gave %d", i, bad[i], err);
	}
}

static void test_parse_limits(void **state)
{
	(void)state;
	char hv[SIP_AUTH_MAX_HVAL + 64], big[SIP_AUTH_MAX_URI + 2];

	memset(big, 'u', SIP_AUTH_MAX_FIELD);
	big[SIP_AUTH_MAX_FIELD] = '\0';
	snprintf(hv, sizeof(hv), "Digest username=\"%s\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", " R32, big);
	assert_int_equal(parse(hv), 0);
	strcat(big, "u");
	snprintf(hv, sizeof(hv), "Digest username=\"%s\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", " R32, big);
	assert_int_equal(parse(hv), EBADMSG);
	snprintf(hv, sizeof(hv), "Digest " BASE ", " R32 ", x-ext=\"%s\"", big);
	assert_int_equal(parse(hv), EBADMSG);

	memset(big, 'p', SIP_AUTH_MAX_URI);
	big[SIP_AUTH_MAX_URI] = '\0';
	snprintf(hv, sizeof(hv), "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"%s\", " R32, big);
	assert_int_equal(parse(hv), 0);
	strcat(big, "p");
	snprintf(hv, sizeof(hv), "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"%s\", " R32, big);
	assert_int_equal(parse(hv), EBADMSG);

	/* parameter count: 5 known plus extensions up to the limit */
	int n = snprintf(hv, sizeof(hv), "Digest " BASE ", " R32);
	for (int i = 0; i < SIP_AUTH_MAX_PARAMS - 5; i++)
		n += snprintf(hv + n, sizeof(hv) - (size_t)n, ", x%d=1", i);
	assert_int_equal(parse(hv), 0);
	snprintf(hv + n, sizeof(hv) - (size_t)n, ", y=1");
	assert_int_equal(parse(hv), EBADMSG);

	/* the whole value */
	n = snprintf(hv, sizeof(hv), "Digest " BASE ", " R32);
	memset(hv + n, ' ', SIP_AUTH_MAX_HVAL - (size_t)n);
	hv[SIP_AUTH_MAX_HVAL] = '\0';
	assert_int_equal(parse(hv), 0);
	hv[SIP_AUTH_MAX_HVAL] = ' ';
	hv[SIP_AUTH_MAX_HVAL + 1] = '\0';
	assert_int_equal(parse(hv), EBADMSG);
}

static void test_parse_not_digest(void **state)
{
	(void)state;
	/* RFC 4475 regaut01 (unknown authorization scheme) */
	assert_int_equal(parse("NoOneKnowsThisScheme opaque-data=here"), ENOTSUP);
	assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), ENOTSUP);
	assert_int_equal(parse("  Bearer\r\n\tabc"), ENOTSUP);
	assert_int_equal(parse("DigestX " BASE ", " R32), ENOTSUP);
	/* not a scheme at all */
	assert_int_equal(parse("\"Digest\" " BASE), EBADMSG);
	assert_int_equal(parse("Digest=" BASE), EBADMSG);
}

static void test_parse_lws_and_escapes(void **state)
{
	(void)state;
	static const char hv[] =
		" \tDigest\r\n username\t=\r\n \"al\\\"ice\\\\\" ,realm = \"r\" ,\r\n\tnonce="
		"\"n\",uri=\"sip:a\r\n  b\",  " R32 " , QOP=auth,NC=0000000A,CNonce = \"c\"\t ";
	struct sip_auth_cred c;
	struct pl h = pl_cstr(hv);
	assert_int_equal(sip_auth_cred_parse(&c, &h), 0);
	assert_true(pl_eq_str(&c.realm, "r"));
	assert_true(pl_eq_str(&c.nonce, "n"));
	assert_true(pl_eq_str(&c.cnonce, "c"));
	assert_true(pl_eq_str(&c.qop, "auth"));
	assert_int_equal(c.ncv, 10);
	assert_true(pl_eq_str(&c.username, "al\\\"ice\\\\"));

	char buf[64];
	struct pl out;
	assert_int_equal(sip_auth_unquote(&c.username, buf, sizeof(buf), &out), 0);
	assert_true(pl_eq_str(&out, "al\"ice\\"));
	assert_int_equal(sip_auth_unquote(&c.uri, buf, sizeof(buf), &out), 0);
	assert_true(pl_eq_str(&out, "sip:a b"));
	struct pl fold = PL("x \t\r\n \ty\n\tz");
	assert_int_equal(sip_auth_unquote(&fold, buf, sizeof(buf), &out), 0);
	assert_true(pl_eq_str(&out, "x y z"));
	assert_int_equal(sip_auth_unquote(&c.username, buf, 6, &out), ENOSPC);
	assert_int_equal(sip_auth_unquote(&c.username, buf, 7, &out), 0);

	/* an escaped username is hashed unescaped, as the client hashes it */
	struct sip_auth *a = auth_new();
	struct chal ch;
	char hv2[1024];
	issue(a, realm_s, T0, 1, &ch);
	struct resp rr = alice;
	rr.user = "al\"ice";
	char ha1[SIP_AUTH_HEX_SIZE], ha2[SIP_AUTH_HEX_SIZE], rs[SIP_AUTH_HEX_SIZE];
	th(EVP_md5(), ha1, "al\"ice:%s:s3cret", realm_s);
	th(EVP_md5(), ha2, "REGISTER:%s", rr.uri);
	th(EVP_md5(), rs, "%s:%s:00000001:c0ffee:auth:%s", ha1, ch.nonce, ha2);
	snprintf(hv2, sizeof(hv2),
		 "Digest username=\"al\\\"ice\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		 "response=\"%s\", cnonce=\"c0ffee\", qop=\"auth\", nc=00000001", realm_s,
		 ch.nonce, rr.uri, rs);
	assert_int_equal(check(a, hv2, "REGISTER", realm_s, "s3cret", T0), SIP_AUTH_OK);
	mem_deref(a);
}

/* The challenged algorithms and their order are configurable: MD5 first for
 * phones that answer only the first challenge, or SHA-256 alone. */
static void test_offer_order(void **state)
{
	(void)state;
	struct sip_auth *a = NULL;
	assert_int_equal(sip_auth_alloc(&a, 300), 0);
	enum sip_auth_alg algs[4];
	size_t n = 0;
	assert_int_equal(sip_auth_offer_parse("MD5, SHA-256", algs, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(algs[0], SIP_AUTH_MD5);
	assert_int_equal(algs[1], SIP_AUTH_SHA256);
	assert_int_equal(sip_auth_offer_set(a, algs, n), 0);
	struct pl realm = PL("pbx.example");
	struct mbuf *mb = mbuf_alloc(256, 8192);
	assert_int_equal(sip_auth_challenge_print(mb, a, false, &realm, false, 1000), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	const char *md5 = strstr((const char *)mb->buf, "algorithm=MD5");
	const char *sha = strstr((const char *)mb->buf, "algorithm=SHA-256");
	assert_non_null(md5);
	assert_non_null(sha);
	assert_true(md5 < sha);

	assert_int_equal(sip_auth_offer_parse("sha-256", algs, 4, &n), 0);
	assert_int_equal(sip_auth_offer_set(a, algs, n), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_auth_challenge_print(mb, a, false, &realm, false, 1000), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	assert_null(strstr((const char *)mb->buf, "algorithm=MD5"));
	assert_non_null(strstr((const char *)mb->buf, "algorithm=SHA-256"));

	assert_int_equal(sip_auth_offer_parse("MD5-sess", algs, 4, &n), EINVAL);
	assert_int_equal(sip_auth_offer_parse("SHA-1", algs, 4, &n), EINVAL);
	assert_int_equal(sip_auth_offer_parse("", algs, 4, &n), EINVAL);
	assert_int_equal(sip_auth_offer_parse("MD5,MD5,MD5,MD5,MD5", algs, 4, &n), EINVAL);
	assert_int_equal(sip_auth_offer_set(a, algs, 0), EINVAL);
	mem_deref(mb);
	mem_deref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617_example),
		cmocka_unit_test(test_rfc7616_examples),
		cmocka_unit_test(test_other_algorithms),
		cmocka_unit_test(test_challenge_print),
		cmocka_unit_test(test_challenge_print_errors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_wrong_password_and_realm),
		cmocka_unit_test(test_stale_nonce),
		cmocka_unit_test(test_forged_nonce),
		cmocka_unit_test(test_replayed_nc),
		cmocka_unit_test(test_replay_table_overflow),
		cmocka_unit_test(test_verify_rejects),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_not_digest),
		cmocka_unit_test(test_parse_lws_and_escapes),
		cmocka_unit_test(test_offer_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
