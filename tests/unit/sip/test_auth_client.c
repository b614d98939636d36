/* Unit tests for the client side of SIP digest authentication (src/sip/auth.c):
 * pbxd answering the challenges of the trunks it registers with and calls through.
 * Round trips against pbxd's own server side (its challenges parsed, answered,
 * and the answer verified), the RFC worked examples reproduced exactly, the
 * challenge texts other servers (Kamailio, Asterisk) write, the choice among
 * several challenges of a 401/407, and malformed or unusable challenges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/auth.h"
#include "sip/msg.h"

enum { LIFETIME = 300, T0 = 1700000000 };

static const struct pl method_reg = PL("REGISTER");

/* The value of the n-th line of text (after "Name: ", without CRLF) into out. */
static void line_value(const char *text, size_t n, char *out, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		text = strstr(text, "\r\n");
		assert_non_null(text);
		text += 2;
	}
	const char *colon = strstr(text, ": "), *eol = strstr(text, "\r\n");
	assert_non_null(colon);
	assert_non_null(eol);
	assert_true(colon < eol);
	size_t l = (size_t)(eol - colon - 2);
	assert_true(l < size);
	memcpy(out, colon + 2, l);
	out[l] = '\0';
}

static int chal_parse_str(struct sip_auth_chal *ch, const char *s)
{
	struct pl v = pl_cstr(s);
	return sip_auth_chal_parse(ch, &v);
}

/* Answers ch; out gets the whole line, NUL-terminated, after checking that it is
 * one line with the right header name. */
static void answer(const struct sip_auth_chal *ch, bool proxy, const char *method, const char *uri,
		   const char *user, const char *pass, uint32_t nc, const char *cnonce, char *out,
		   size_t size)
{
	struct mbuf *mb = mbuf_alloc(256, 8192);
	assert_non_null(mb);
	struct pl m = pl_cstr(method);
	assert_int_equal(sip_auth_cred_print(mb, proxy, ch, &m, uri, user, pass, nc, cnonce), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	const char *s = (const char *)mb->buf;
	const char *name = proxy ? "Proxy-Authorization: Digest " : "Authorization: Digest ";
	assert_memory_equal(s, name, strlen(name));
	const char *eol = strstr(s, "\r\n");
	assert_non_null(eol);
	assert_int_equal(eol[2], '\0');
	assert_true(strlen(s) < size);
	strcpy(out, s);
	mem_deref(mb);
}

/* The quoted or token value of name in a printed answer (escapes kept). */
static bool param_of(const char *line, const char *name, char *out, size_t size)
{
	char key[40];
	snprintf(key, sizeof(key), " %s=", name);
	const char *p = strstr(line, key);
	if (!p)
		return false;
	p += strlen(key);
	bool q = *p == '"';
	size_t n = 0;
	for (p += q; *p && (q ? *p != '"' : (*p != ',' && *p != '\r')); p++) {
		if (q && *p == '\\' && p[1])
			out[n++] = *p++;
		assert_true(n + 1 < size);
		out[n++] = *p;
	}
	out[n] = '\0';
	return true;
}

/* ---- against pbxd's own server ---- */

enum variant { AS_OFFERED, NO_QOP, SESS, SESS_NO_QOP };

static void roundtrip_one(enum sip_auth_alg alg, bool proxy, bool stale, bool lean, enum variant v)
{
	struct sip_auth *a = NULL;
	assert_int_equal(sip_auth_alloc(&a, LIFETIME), 0);
	assert_int_equal(sip_auth_offer_set(a, &alg, 1), 0);
	struct mbuf *mb = mbuf_alloc(512, 4096);
	assert_non_null(mb);
	const struct pl realm = PL("trunk \"A\" \\ example.com");
	int err = lean ? sip_auth_challenge_print_lean(mb, a, proxy, &realm, stale, T0, 4096)
		       : sip_auth_challenge_print(mb, a, proxy, &realm, stale, T0);
	assert_int_equal(err, 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	char hv[1024];
	line_value((const char *)mb->buf, 0, hv, sizeof(hv));

	struct sip_auth_chal ch;
	assert_int_equal(chal_parse_str(&ch, hv), 0);
	assert_int_equal(ch.alg, alg);
	assert_true(pl_eq_str(&ch.algorithm, sip_auth_alg_name(alg)));
	assert_int_equal(ch.stale, stale);
	assert_true(ch.qop_auth);
	assert_true(pl_eq_str(&ch.qop, "auth"));
	assert_int_equal(pl_isset(&ch.opaque), !lean);
	char rb[300];
	struct pl r;
	assert_int_equal(sip_auth_unquote(&ch.realm, rb, sizeof(rb), &r), 0);
	assert_true(pl_eq(&r, &realm));

	if (v == NO_QOP || v == SESS_NO_QOP) { /* as an RFC 2069 server would have */
		ch.qop = (struct pl)PL_INIT;
		ch.qop_auth = false;
	}
	if (v == SESS || v == SESS_NO_QOP) /* the server checks any algorithm it knows */
		ch.alg = alg == SIP_AUTH_MD5 ? SIP_AUTH_MD5_SESS
		       : alg == SIP_AUTH_SHA256 ? SIP_AUTH_SHA256_SESS : SIP_AUTH_SHA512_256_SESS;

	const char *user = "trunk\"user\\1";
	char line[2048], val[2048];
	for (uint32_t nc = 1; nc <= 2; nc++) {
		answer(&ch, proxy, "REGISTER", "sip:carrier.example.net;transport=tls", user, "s3cr\"et", nc,
		       "c/n\"once\\", line, sizeof(line));
		line_value(line, 0, val, sizeof(val));
		struct sip_auth_cred c;
		struct pl hv2 = pl_cstr(val);
		assert_int_equal(sip_auth_cred_parse(&c, &hv2), 0);
		assert_int_equal(c.alg, ch.alg);
		char ub[300];
		struct pl u;
		assert_int_equal(sip_auth_unquote(&c.username, ub, sizeof(ub), &u), 0);
		assert_true(pl_eq_str(&u, user));
		assert_int_equal(pl_isset(&c.opaque), !lean);
		assert_int_equal(pl_isset(&c.qop), v == AS_OFFERED || v == SESS);
		assert_int_equal(pl_isset(&c.cnonce), v != NO_QOP);
		enum sip_auth_result res = sip_auth_verify(a, &c, &method_reg, &realm, "s3cr\"et", T0 + 1);
		/* Without qop a nonce is good once (RFC 2069); the second use is stale. */
		bool once = v == NO_QOP || v == SESS_NO_QOP;
		assert_int_equal(res, nc == 2 && once ? SIP_AUTH_STALE : SIP_AUTH_OK);
		/* The same nc again is a replay: the client must count. */
		if (!once)
			assert_int_equal(sip_auth_verify(a, &c, &method_reg, &realm, "s3cr\"et", T0 + 1),
					 SIP_AUTH_FAIL);
	}
	/* A wrong password is no match. */
	answer(&ch, proxy, "REGISTER", "sip:carrier.example.net", user, "wrong", 3, "abc", line, sizeof(line));
	line_value(line, 0, val, sizeof(val));
	struct sip_auth_cred c;
	struct pl hv3 = pl_cstr(val);
	assert_int_equal(sip_auth_cred_parse(&c, &hv3), 0);
	assert_int_equal(sip_auth_verify(a, &c, &method_reg, &realm, "s3cr\"et", T0 + 1), SIP_AUTH_FAIL);
	mem_deref(mb);
	mem_deref(a);
}

static void test_roundtrip_own_server(void **state)
{
	(void)state;
	static const enum sip_auth_alg algs[] = { SIP_AUTH_MD5, SIP_AUTH_SHA256, SIP_AUTH_SHA512_256 };
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		for (int v = AS_OFFERED; v <= SESS_NO_QOP; v++) {
			for (int flags = 0; flags < 8; flags++)
				roundtrip_one(algs[i], flags & 1, flags & 2, flags & 4, (enum variant)v);
		}
	}
}

/* The whole challenge set of a 401 and a 407 built by pbxd, through sip_auth_chal_pick. */
static struct sip_msg *parse_msg(const char *text)
{
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	if (sip_msg_parse(&m, text, strlen(text), 0, &perr))
		fail_msg("parse: %s\n%s", perr.reason ? perr.reason : "?", text);
	return m;
}

static struct sip_msg *response(int code, const char *reason, const char *hdrs)
{
	char text[8192];
	int n = snprintf(text, sizeof(text),
			 "SIP/2.0 %d %s\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtrunk1\r\n"
			 "From: <sip:pbx@carrier.example.net>;tag=f1\r\n"
			 "To: <sip:pbx@carrier.example.net>;tag=t1\r\n"
			 "Call-ID: reg-1@192.0.2.1\r\n"
			 "CSeq: 1 REGISTER\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 code, reason, hdrs);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	return parse_msg(text);
}

static void test_pick_own_challenges(void **state)
{
	(void)state;
	struct sip_auth *a = NULL;
	assert_int_equal(sip_auth_alloc(&a, LIFETIME), 0);
	const enum sip_auth_alg offer[] = { SIP_AUTH_SHA512_256, SIP_AUTH_SHA256, SIP_AUTH_MD5 };
	assert_int_equal(sip_auth_offer_set(a, offer, 3), 0);
	const struct pl realm = PL("pbx.example.com");
	for (int proxy = 0; proxy < 2; proxy++) {
		struct mbuf *mb = mbuf_alloc(512, 4096);
		assert_non_null(mb);
		assert_int_equal(sip_auth_challenge_print(mb, a, proxy, &realm, false, T0), 0);
		assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
		struct sip_msg *m = response(proxy ? 407 : 401, proxy ? "Proxy Authentication Required" : "Unauthorized",
					     (const char *)mb->buf);
		struct sip_auth_chal ch;
		bool px = !proxy;
		assert_int_equal(sip_auth_chal_pick(m, &ch, &px), 0);
		assert_int_equal(px, proxy);
		assert_int_equal(ch.alg, SIP_AUTH_SHA512_256); /* the server's first */

		char line[2048], val[2048];
		answer(&ch, px, "INVITE", "sip:+15551234567@carrier.example.net", "pbx", "pw", 1, "0a4f113b",
		       line, sizeof(line));
		line_value(line, 0, val, sizeof(val));
		struct sip_auth_cred c;
		struct pl hv = pl_cstr(val);
		assert_int_equal(sip_auth_cred_parse(&c, &hv), 0);
		const struct pl inv = PL("INVITE");
		assert_int_equal(sip_auth_verify(a, &c, &inv, &realm, "pw", T0), SIP_AUTH_OK);
		mem_deref(m);
		mem_deref(mb);
	}
	mem_deref(a);
}

/* ---- RFC worked examples, reproduced exactly ---- */

/* RFC 7616 §3.9.1: the server's two challenges (SHA-256 preferred, MD5), folded
 * as printed in the RFC, and the answers of its example. */
static const char rfc7616_hdrs[] =
	"WWW-Authenticate: Digest\r\n"
	"    realm=\"http-auth@example.org\",\r\n"
	"    qop=\"auth, auth-int\",\r\n"
	"    algorithm=SHA-256,\r\n"
	"    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
	"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"\r\n"
	"WWW-Authenticate: Digest\r\n"
	"    realm=\"http-auth@example.org\",\r\n"
	"    qop=\"auth, auth-int\",\r\n"
	"    algorithm=MD5,\r\n"
	"    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
	"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"\r\n";

static void test_rfc7616_example(void **state)
{
	(void)state;
	static const char cnonce[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	struct sip_msg *m = response(401, "Unauthorized", rfc7616_hdrs);
	struct sip_auth_chal ch;
	bool proxy = true;
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), 0);
	assert_false(proxy);
	assert_int_equal(ch.alg, SIP_AUTH_SHA256);
	assert_true(ch.qop_auth);
	assert_false(ch.stale);
	assert_true(pl_eq_str(&ch.qop, "auth, auth-int"));
	assert_true(pl_eq_str(&ch.realm, "http-auth@example.org"));
	assert_true(pl_eq_str(&ch.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"));
	assert_true(pl_eq_str(&ch.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"));

	char line[2048];
	answer(&ch, false, "GET", "/dir/index.html", "Mufasa", "Circle of Life", 1, cnonce, line, sizeof(line));
	assert_string_equal(line,
			    "Authorization: Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
			    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", uri=\"/dir/index.html\", "
			    "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
			    "algorithm=SHA-256, opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", "
			    "qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\"\r\n");

	/* The second challenge, MD5. */
	const struct sip_hdr *h = sip_msg_hdr_next(m, sip_msg_hdr(m, SIP_HDR_WWW_AUTHENTICATE));
	assert_non_null(h);
	assert_int_equal(sip_auth_chal_parse(&ch, &h->val), 0);
	assert_int_equal(ch.alg, SIP_AUTH_MD5);
	answer(&ch, false, "GET", "/dir/index.html", "Mufasa", "Circle of Life", 1, cnonce, line, sizeof(line));
	char resp[80];
	assert_true(param_of(line, "response", resp, sizeof(resp)));
	assert_string_equal(resp, "8ca523f5e9506fed4657c9700eebdbec");
	assert_true(param_of(line, "algorithm", resp, sizeof(resp)));
	assert_string_equal(resp, "MD5");
	mem_deref(m);
}

/* RFC 2617 §3.5 (qop=auth, MD5), RFC 2069 (no qop), and the -sess and SHA-512-256
 * values test_auth.c checks the server with (from Python's hashlib). */
static void test_rfc2617_example(void **state)
{
	(void)state;
	static const struct {
		const char *alg; /* NULL: absent */
		bool qop;
		const char *expect;
	} v[] = {
		{ NULL, true, "6629fae49393a05397450978507c4ef1" },
		{ NULL, false, "670fd8c2df070c60b045671b8b24ff02" },
		{ "MD5-sess", true, "8e3825c57e897f5a0dec6c2d4e5059d0" },
		{ "SHA-256-sess", true, "b8822e12417cb7750f4e2b8515f0dcf25b7dd26993e80bee1426201446a7f59b" },
		{ "SHA-512-256", true, "f23c08ec7334a881f8286e68450ddbd9f0cd91c41481f0e1433604da8113c6dc" },
		{ "sha-512-256-SESS", true, "0d21f0db3ec5cda5b850c0afa3bc29b4a3c5a6191959ff1baf511d4b38eb6b1e" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char hv[512], line[2048], resp[80];
		snprintf(hv, sizeof(hv),
			 "Digest realm=\"testrealm@host.com\", %s nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
			 "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"%s%s",
			 v[i].qop ? "qop=\"auth,auth-int\"," : "", v[i].alg ? ", algorithm=" : "",
			 v[i].alg ? v[i].alg : "");
		struct sip_auth_chal ch;
		assert_int_equal(chal_parse_str(&ch, hv), 0);
		answer(&ch, false, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", 1, "0a4f113b", line,
		       sizeof(line));
		assert_true(param_of(line, "response", resp, sizeof(resp)));
		assert_string_equal(resp, v[i].expect);
		assert_int_equal(strstr(line, "qop=auth, nc=00000001, cnonce=\"0a4f113b\"") != NULL, v[i].qop);
		assert_non_null(strstr(line, "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
	}
}

/* ---- what other servers write ---- */

static void test_kamailio_asterisk_texts(void **state)
{
	(void)state;
	struct sip_auth_chal ch;
	/* Kamailio auth module: qop offering both, algorithm absent or a token. */
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"sip.example.com\", "
					     "nonce=\"ZVqE0WVahb2m3K3oZ9b2J1wZ9nL1tL7G\", qop=\"auth,auth-int\""),
			 0);
	assert_int_equal(ch.alg, SIP_AUTH_MD5);
	assert_false(pl_isset(&ch.algorithm));
	assert_true(ch.qop_auth);
	assert_true(pl_eq_str(&ch.qop, "auth,auth-int"));
	assert_false(pl_isset(&ch.opaque));
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"sip.example.com\", nonce=\"Zb1x\", "
					     "qop=\"auth-int, auth\", algorithm=SHA-256, stale=true"),
			 0);
	assert_int_equal(ch.alg, SIP_AUTH_SHA256);
	assert_true(ch.stale);
	assert_true(ch.qop_auth);
	/* Asterisk (chan_pjsip): no spaces, lowercase algorithm. */
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"asterisk\",nonce=\"1700000000/0123456789abcdef\","
					     "opaque=\"5f3e2d1c0b0a0908\",algorithm=md5,qop=\"auth\""),
			 0);
	assert_int_equal(ch.alg, SIP_AUTH_MD5);
	assert_true(pl_eq_str(&ch.nonce, "1700000000/0123456789abcdef"));
	assert_true(pl_eq_str(&ch.opaque, "5f3e2d1c0b0a0908"));
	/* Asterisk (chan_sip): algorithm first, no qop. */
	assert_int_equal(chal_parse_str(&ch, "Digest algorithm=MD5, realm=\"asterisk\", nonce=\"4d7f3a2b\""), 0);
	assert_false(ch.qop_auth);
	assert_false(pl_isset(&ch.qop));
	char line[1024];
	answer(&ch, false, "REGISTER", "sip:asterisk", "100", "pw", 1, NULL, line, sizeof(line));
	assert_null(strstr(line, "qop="));
	assert_null(strstr(line, "nc="));
	assert_null(strstr(line, "cnonce="));
	assert_null(strstr(line, "opaque="));
	/* A quoted algorithm, a quoted stale, unquoted qop, unknown parameters. */
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", algorithm=\"SHA-512-256\", "
					     "stale=\"TRUE\", qop=auth, domain=\"sip:a.example.com sip:b.example.com\", "
					     "charset=UTF-8, userhash=false, x-vendor=\"anything, at all\""),
			 0);
	assert_int_equal(ch.alg, SIP_AUTH_SHA512_256);
	assert_true(ch.stale);
	assert_true(ch.qop_auth);
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", stale=FALSE"), 0);
	assert_false(ch.stale);
	/* Whitespace, tabs and folds anywhere LWS may be; the scheme in any case. */
	assert_int_equal(chal_parse_str(&ch, "  dIgEsT\trealm = \"folded\r\n realm\" ,\r\n\tnonce\t=\t\"abc\"\r\n"
					     "  , qop=\"auth,\r\n auth-int\" , opaque=\"o\"  "),
			 0);
	assert_true(ch.qop_auth);
	char rb[64];
	struct pl r;
	assert_int_equal(sip_auth_unquote(&ch.realm, rb, sizeof(rb), &r), 0);
	assert_true(pl_eq_str(&r, "folded realm"));
	answer(&ch, false, "REGISTER", "sip:x", "u", "p", 1, "c", line, sizeof(line));
	assert_non_null(strstr(line, " realm=\"folded realm\", "));
	/* Escapes in a challenge are undone for the hash and redone in the answer. */
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"a\\\"b\\\\c\\d\", nonce=\"n\\\"1\""), 0);
	answer(&ch, true, "INVITE", "sip:x", "u", "p", 1, "c", line, sizeof(line));
	assert_non_null(strstr(line, " realm=\"a\\\"b\\\\cd\", nonce=\"n\\\"1\", "));
}

/* Several challenges in one response: the first this code can answer. */
static void test_pick_among_several(void **state)
{
	(void)state;
	struct sip_auth_chal ch;
	bool proxy = false;
	/* An IMS AKA challenge first, Basic, auth-int only, malformed, then MD5. */
	struct sip_msg *m = response(401, "Unauthorized",
				     "WWW-Authenticate: Digest realm=\"ims.example.net\", nonce=\"aka1\", "
				     "algorithm=AKAv1-MD5, qop=\"auth\"\r\n"
				     "WWW-Authenticate: Basic realm=\"ims.example.net\"\r\n"
				     "WWW-Authenticate: Digest realm=\"ims.example.net\", nonce=\"i1\", qop=\"auth-int\"\r\n"
				     "WWW-Authenticate: Digest realm=\"ims.example.net\"\r\n"
				     "Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"p1\"\r\n"
				     "WWW-Authenticate: Digest realm=\"ims.example.net\", nonce=\"md5-1\", algorithm=MD5\r\n");
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), 0);
	assert_false(proxy);
	assert_true(pl_eq_str(&ch.nonce, "md5-1"));
	mem_deref(m);

	/* A 407 reads only Proxy-Authenticate. */
	m = response(407, "Proxy Authentication Required",
		     "WWW-Authenticate: Digest realm=\"www\", nonce=\"w1\"\r\n"
		     "Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"p1\", algorithm=SHA-256\r\n");
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), 0);
	assert_true(proxy);
	assert_true(pl_eq_str(&ch.realm, "proxy"));
	mem_deref(m);

	/* Nothing usable, or nothing to read. */
	m = response(401, "Unauthorized",
		     "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=AKAv2-SHA-256\r\n"
		     "Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"p1\"\r\n");
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), ENOENT);
	assert_false(pl_isset(&ch.nonce));
	mem_deref(m);
	m = response(200, "OK", "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n");
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), ENOENT);
	mem_deref(m);
	m = response(401, "Unauthorized", "");
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), ENOENT);
	mem_deref(m);
	m = parse_msg("REGISTER sip:example.com SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr1\r\n"
		      "Max-Forwards: 70\r\n"
		      "From: <sip:a@example.com>;tag=1\r\n"
		      "To: <sip:a@example.com>\r\n"
		      "Call-ID: r1\r\n"
		      "CSeq: 1 REGISTER\r\n"
		      "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
		      "Content-Length: 0\r\n\r\n");
	assert_int_equal(sip_auth_chal_pick(m, &ch, &proxy), ENOENT);
	mem_deref(m);
}

/* ---- malformed and unusable challenges ---- */

static void test_chal_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"Digest",
		"Digest ",
		"Digest realm=\"r\"",                              /* no nonce */
		"Digest nonce=\"n\"",                              /* no realm */
		"Digest realm=\"r\", nonce=\"\"",                  /* empty nonce */
		"Digest realm=\"r\", nonce=\"n\", Realm=\"s\"",    /* duplicate, any case */
		"Digest realm=\"r\", nonce=\"n\", nonce=\"n\"",
		"Digest realm=\"r\", nonce=\"n\", x=1, x=2",       /* duplicate unknown */
		"Digest realm=\"r, nonce=\"n\"",                   /* unterminated quote (odd count) */
		"Digest realm=\"r\", nonce=\"n",                   /* unterminated quote */
		"Digest realm=\"r\", nonce=\"n\\\"",               /* the last quote escaped */
		"Digest realm=\"r\", nonce=\"n\",",                /* trailing comma */
		"Digest realm=\"r\" nonce=\"n\"",                  /* no comma */
		"Digest realm, nonce=\"n\"",
		"Digest realm=, nonce=\"n\"",
		"Digest realm=\"r\", nonce=\"n\", qop=\"\"",       /* no option */
		"Digest realm=\"r\", nonce=\"n\", qop=\" , \"",
		"Digest realm=\"r\"\r\nnonce=\"n\"",               /* a line break that is not a fold */
		"Digest realm=\"r\", nonce=\"n\r\nX\"",
		"Digest realm=\"a\x01\", nonce=\"n\"",             /* control character */
		"Digest realm=\"r\", nonce=\"\\\x7f\"",
		"Digest\"realm=\"r\", nonce=\"n\"",                /* scheme not followed by LWS */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_auth_chal ch;
		memset(&ch, 0xa5, sizeof(ch));
		int err = chal_parse_str(&ch, bad[i]);
		if (err != EBADMSG)
			fail_msg("\"%s\": %d, want EBADMSG", bad[i], err);
		assert_false(pl_isset(&ch.realm)); /* zeroed on error */
	}
	struct sip_auth_chal ch;
	struct pl nul = { NULL, 0 };
	assert_int_equal(sip_auth_chal_parse(&ch, &nul), EBADMSG);
	assert_int_equal(sip_auth_chal_parse(NULL, &nul), EINVAL);
}

static void test_chal_limits(void **state)
{
	(void)state;
	static char big[SIP_AUTH_MAX_HVAL + 512];
	struct sip_auth_chal ch;
	char val[SIP_AUTH_MAX_URI + 2];

	/* A field at its limit is fine, one more is not. */
	memset(val, 'r', SIP_AUTH_MAX_FIELD);
	val[SIP_AUTH_MAX_FIELD] = '\0';
	snprintf(big, sizeof(big), "Digest realm=\"%s\", nonce=\"n\"", val);
	assert_int_equal(chal_parse_str(&ch, big), 0);
	snprintf(big, sizeof(big), "Digest realm=\"r\", nonce=\"%sn\"", val);
	assert_int_equal(chal_parse_str(&ch, big), EBADMSG);
	snprintf(big, sizeof(big), "Digest realm=\"r\", nonce=\"n\", opaque=%sx", val);
	assert_int_equal(chal_parse_str(&ch, big), EBADMSG);
	snprintf(big, sizeof(big), "Digest realm=\"r\", nonce=\"n\", x-unknown=\"%sx\"", val);
	assert_int_equal(chal_parse_str(&ch, big), EBADMSG);
	/* domain may be as long as a URI. */
	memset(val, 'd', SIP_AUTH_MAX_URI);
	val[SIP_AUTH_MAX_URI] = '\0';
	snprintf(big, sizeof(big), "Digest realm=\"r\", nonce=\"n\", domain=\"%s\"", val);
	assert_int_equal(chal_parse_str(&ch, big), 0);
	snprintf(big, sizeof(big), "Digest realm=\"r\", nonce=\"n\", domain=\"%sd\"", val);
	assert_int_equal(chal_parse_str(&ch, big), EBADMSG);

	/* Too many parameters. */
	size_t n = (size_t)snprintf(big, sizeof(big), "Digest realm=\"r\", nonce=\"n\"");
	for (int i = 0; i < SIP_AUTH_MAX_PARAMS - 2; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, ", p%d=1", i);
	assert_int_equal(chal_parse_str(&ch, big), 0);
	snprintf(big + n, sizeof(big) - n, ", one=more");
	assert_int_equal(chal_parse_str(&ch, big), EBADMSG);

	/* The whole value over the limit, though every parameter is small: LWS. */
	n = (size_t)snprintf(big, sizeof(big), "Digest realm=\"r\",");
	while (n < SIP_AUTH_MAX_HVAL - 20)
		big[n++] = ' ';
	snprintf(big + n, sizeof(big) - n, "nonce=\"n\"");
	assert_int_equal(chal_parse_str(&ch, big), 0);
	memset(big + n, ' ', 20);
	snprintf(big + n + 20, sizeof(big) - n - 20, "nonce=\"n\"");
	assert_int_equal(chal_parse_str(&ch, big), EBADMSG);
}

static void test_chal_unsupported(void **state)
{
	(void)state;
	struct sip_auth_chal ch;
	assert_int_equal(chal_parse_str(&ch, "Basic realm=\"carrier\""), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "Bearer abc.def"), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "DigestX realm=\"r\", nonce=\"n\""), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5"), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1"), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", algorithm=\"\""), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""), ENOTSUP);
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", qop=\"authx, auth-int\""), ENOTSUP);
	assert_false(pl_isset(&ch.nonce));
}

/* ---- the answer's own errors ---- */

static void test_cred_print_errors(void **state)
{
	(void)state;
	struct sip_auth_chal ch, sess;
	assert_int_equal(chal_parse_str(&ch, "Digest realm=\"r\", nonce=\"n\", qop=\"auth\", opaque=\"o\""), 0);
	assert_int_equal(chal_parse_str(&sess, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess"), 0);
	struct mbuf *mb = mbuf_alloc(64, 4096);
	assert_non_null(mb);
	const struct pl m = PL("REGISTER"), empty = PL("");
	assert_int_equal(mbuf_write_str(mb, "keep"), 0);

	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", "p", 1, ""), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", "p", 1, NULL), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &sess, &m, "sip:x", "u", "p", 1, ""), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", "p", 0, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u\r\nX: y", "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", "p\n", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x\r\n", "u", "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", "p", 1, "c\x01"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "", "u", "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "", "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &empty, "sip:x", "u", "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, NULL, &m, "sip:x", "u", "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", NULL, 1, "c"), EINVAL);
	static char longv[SIP_AUTH_MAX_URI + 2];
	memset(longv, 'a', SIP_AUTH_MAX_URI + 1);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, longv, "u", "p", 1, "c"), EINVAL);
	longv[SIP_AUTH_MAX_FIELD + 1] = '\0';
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", longv, "p", 1, "c"), EINVAL);
	assert_int_equal(sip_auth_cred_print(mb, false, &ch, &m, "sip:x", "u", "p", 1, longv), EINVAL);
	/* A hand-made challenge holding a line break is refused, not printed. */
	struct sip_auth_chal bad = ch;
	bad.opaque = PL("o\x01");
	assert_int_equal(sip_auth_cred_print(mb, false, &bad, &m, "sip:x", "u", "p", 1, "c"), EINVAL);
	bad = ch;
	bad.alg = (enum sip_auth_alg)99;
	assert_int_equal(sip_auth_cred_print(mb, false, &bad, &m, "sip:x", "u", "p", 1, "c"), EINVAL);
	assert_int_equal(mb->end, 4); /* nothing appended by any of them */

	/* The password may be empty, and without qop nor -sess cnonce is not needed. */
	struct sip_auth_chal plain;
	assert_int_equal(chal_parse_str(&plain, "Digest realm=\"r\", nonce=\"n\""), 0);
	assert_int_equal(sip_auth_cred_print(mb, false, &plain, &m, "sip:x", "u", "", 0, NULL), 0);

	/* No room: nothing half-written. */
	struct mbuf *small = mbuf_alloc(16, 64);
	assert_non_null(small);
	assert_int_equal(mbuf_write_str(small, "keep"), 0);
	assert_int_equal(sip_auth_cred_print(small, false, &ch, &m, "sip:x", "u", "p", 1, "c"), EMSGSIZE);
	assert_int_equal(small->end, 4);
	mem_deref(small);
	mem_deref(mb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_own_server),
		cmocka_unit_test(test_pick_own_challenges),
		cmocka_unit_test(test_rfc7616_example),
		cmocka_unit_test(test_rfc2617_example),
		cmocka_unit_test(test_kamailio_asterisk_texts),
		cmocka_unit_test(test_pick_among_several),
		cmocka_unit_test(test_chal_malformed),
		cmocka_unit_test(test_chal_limits),
		cmocka_unit_test(test_chal_unsupported),
		cmocka_unit_test(test_cred_print_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
