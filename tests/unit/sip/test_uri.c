/* Unit tests for SIP URIs and the small grammars around them (src/sip/uri.c,
 * hdr.c): sip_uri_parse over good and bad URIs, parameter lists, unescaping,
 * printing a parsed URI back, name-addr / addr-spec, Via values, and splitting a
 * header into its comma-separated values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/msg.h"
#include "sip/uri.h"

static void assert_pl(const struct pl *pl, const char *s)
{
	if (!pl->p && *s)
		fail_msg("slice unset, expected \"%s\"", s);
	if (pl->l != strlen(s) || (pl->l && memcmp(pl->p, s, pl->l) != 0))
		fail_msg("got \"%.*s\" (%zu), expected \"%s\"", (int)pl->l, pl->p ? pl->p : "", pl->l, s);
}

static int uri_parse(struct sip_uri *uri, const char *s)
{
	struct pl pl = pl_cstr(s);
	return sip_uri_parse(uri, &pl);
}

static void uri_ok(struct sip_uri *uri, const char *s)
{
	int err = uri_parse(uri, s);
	if (err)
		fail_msg("\"%s\": %d", s, err);
}

/* ---- sip_uri_parse ---- */

static void test_uri_parts(void **state)
{
	(void)state;
	struct sip_uri u;

	uri_ok(&u, "sip:alice@example.com");
	assert_int_equal(u.scheme_id, SIP_SCHEME_SIP);
	assert_pl(&u.scheme, "sip");
	assert_pl(&u.user, "alice");
	assert_null(u.password.p);
	assert_pl(&u.host, "example.com");
	assert_int_equal(u.af, 0);
	assert_int_equal(u.port, 0);
	assert_int_equal(u.params.l, 0);
	assert_null(u.headers.p);
	assert_null(u.opaque.p);

	uri_ok(&u, "sips:alice:secret@example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent");
	assert_int_equal(u.scheme_id, SIP_SCHEME_SIPS);
	assert_pl(&u.user, "alice");
	assert_pl(&u.password, "secret");
	assert_pl(&u.host, "example.com");
	assert_int_equal(u.port, 5061);
	assert_pl(&u.params, ";transport=tcp;lr");
	assert_pl(&u.headers, "subject=project%20x&priority=urgent");
	struct pl v;
	assert_int_equal(sip_param_get(&u.params, "transport", &v), 0);
	assert_pl(&v, "tcp");
	assert_true(sip_param_exists(&u.params, "lr"));

	/* scheme names are case-insensitive and kept as written */
	uri_ok(&u, "SIP:Alice@Example.COM");
	assert_int_equal(u.scheme_id, SIP_SCHEME_SIP);
	assert_pl(&u.scheme, "SIP");
	assert_pl(&u.host, "Example.COM");

	/* no user part */
	uri_ok(&u, "sip:registrar.example.com");
	assert_int_equal(u.user.l, 0);
	assert_pl(&u.host, "registrar.example.com");

	/* telephone-subscriber user with a password */
	uri_ok(&u, "sip:+1-212-555-1212:1234@gateway.com;user=phone");
	assert_pl(&u.user, "+1-212-555-1212");
	assert_pl(&u.password, "1234");
	assert_pl(&u.host, "gateway.com");
	assert_pl(&u.params, ";user=phone");

	/* user part with ';' (RFC 4475 §3.1.1.9): the user ends at '@' */
	uri_ok(&u, "sip:user;par=u%40example.net@example.com");
	assert_pl(&u.user, "user;par=u%40example.net");
	assert_pl(&u.host, "example.com");
	assert_int_equal(u.params.l, 0);

	/* params without a user */
	uri_ok(&u, "sip:atlanta.com;maddr=239.255.255.1;ttl=15");
	assert_pl(&u.host, "atlanta.com");
	assert_int_equal(sip_param_get(&u.params, "ttl", &v), 0);
	assert_pl(&v, "15");

	/* headers without params, and an empty headers part */
	uri_ok(&u, "sip:user@example.com?Route=%3Csip:sip.example.com%3E");
	assert_pl(&u.headers, "Route=%3Csip:sip.example.com%3E");
	assert_int_equal(u.params.l, 0);
	uri_ok(&u, "sip:user@example.com?");
	assert_non_null(u.headers.p);
	assert_int_equal(u.headers.l, 0);

	/* the port range ends */
	uri_ok(&u, "sip:example.com:1");
	assert_int_equal(u.port, 1);
	uri_ok(&u, "sip:example.com:65535");
	assert_int_equal(u.port, 65535);
}

static void test_uri_hosts(void **state)
{
	(void)state;
	struct sip_uri u;

	uri_ok(&u, "sip:192.0.2.4");
	assert_int_equal(u.af, AF_INET);
	assert_pl(&u.host, "192.0.2.4");

	uri_ok(&u, "sip:bob@192.0.2.4:5080");
	assert_int_equal(u.af, AF_INET);
	assert_int_equal(u.port, 5080);

	uri_ok(&u, "sip:[2001:db8::1]:5070");
	assert_int_equal(u.af, AF_INET6);
	assert_pl(&u.host, "2001:db8::1");
	assert_int_equal(u.port, 5070);

	/* RFC 5118 §4.3: everything inside the brackets is address */
	uri_ok(&u, "sip:[2001:db8::10:5070]");
	assert_int_equal(u.af, AF_INET6);
	assert_pl(&u.host, "2001:db8::10:5070");
	assert_int_equal(u.port, 0);

	uri_ok(&u, "sip:alice@[::ffff:192.0.2.10];transport=udp");
	assert_int_equal(u.af, AF_INET6);
	assert_pl(&u.host, "::ffff:192.0.2.10");
	assert_pl(&u.params, ";transport=udp");

	uri_ok(&u, "sip:[2001:db8::192.0.2.1]");
	assert_int_equal(u.af, AF_INET6);

	uri_ok(&u, "sip:host-1.sub.example.com");
	assert_int_equal(u.af, 0);
	uri_ok(&u, "sip:a.example.com.");
	assert_int_equal(u.af, 0);

	struct pl host;
	int af;
	uint16_t port;
	struct pl hp = PL("[::1]:5060");
	assert_int_equal(sip_hostport_parse(&hp, &host, &af, &port), 0);
	assert_pl(&host, "::1");
	assert_int_equal(af, AF_INET6);
	assert_int_equal(port, 5060);
	hp = PL("example.net");
	assert_int_equal(sip_hostport_parse(&hp, &host, &af, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(af, 0);
	struct pl h = PL("[::1]");
	assert_int_equal(sip_host_parse(&h, &host, &af), 0);
	assert_int_equal(af, AF_INET6);
	h = PL("::1");
	assert_int_equal(sip_host_parse(&h, &host, &af), EBADMSG);
}

static void test_uri_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"sip:",
		"sip",
		":alice@example.com",
		"1sip:alice@example.com",     /* scheme starts with a letter */
		"s_p:alice@example.com",
		"<sip:alice@example.com>",    /* RFC 4475 §3.1.2.7 */
		"sip:@example.com",           /* empty user */
		"sip:alice@",                 /* empty host */
		"sip:alice@example.com:0",    /* port 0 */
		"sip:alice@example.com:65536",
		"sip:alice@example.com:99999999999999999999",
		"sip:alice@example.com:",
		"sip:alice@example.com:50a",
		"sip:alice@exa mple.com",     /* LWS inside: RFC 4475 §3.1.2.8 */
		"sip:alice @example.com",
		"sip:alice@example.com ",
		"sip:alice@example.com;\tlr",
		"sip:alice@example.com\r\n",
		"sip:alice@exa\x01mple.com",
		"sip:2001:db8::1",            /* IPv6 without brackets (RFC 5118 §4.2) */
		"sip:[2001:db8::1",
		"sip:[2001:db8::1]x",
		"sip:[2001:db8::1]:",
		"sip:[2001:db8:::192.0.2.1]", /* three colons (RFC 5118 §4.10) */
		"sip:[192.0.2.1]",
		"sip:[]",
		"sip:256.1.1.1",
		"sip:1.2.3",
		"sip:-example.com",
		"sip:.example.com",
		"sip:exa!mple.com",
		"sip:a@b@example.com",
		"sip:al<ice@example.com",
		"sip:a%4@example.com",        /* truncated escape */
		"sip:a%zz@example.com",
		"sip:a:p%@example.com",
		"sip:alice@example.com;;lr",
		"sip:alice@example.com;lr;",
		"sip:alice@example.com;=x",
		"sip:alice@example.com;a=",
		"sip:alice@example.com;a=<b>",
		"sip:alice@example.com?a=<b>",
		"sip:alice@example.com?a=%2",
		"tel:",
		"nobody",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_uri u;
		int err = uri_parse(&u, bad[i]);
		if (err != EBADMSG)
			fail_msg("\"%s\" accepted (%d)", bad[i], err);
	}
	/* a NUL inside the slice is no terminator: it is rejected like any CTL */
	struct sip_uri u;
	struct pl nul = { "sip:a\0b@example.com", 19 };
	assert_int_equal(sip_uri_parse(&u, &nul), EBADMSG);
}

static void test_uri_escapes(void **state)
{
	(void)state;
	struct sip_uri u;
	char buf[64];
	size_t n;

	/* RFC 4475 §3.1.1.3 */
	uri_ok(&u, "sip:sips%3Auser%40example.com@example.net");
	assert_pl(&u.user, "sips%3Auser%40example.com");
	assert_pl(&u.host, "example.net");
	assert_int_equal(sip_uri_unescape(&u.user, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 21);
	assert_memory_equal(buf, "sips:user@example.com", n);

	/* RFC 4475 §3.1.1.4: %00 stays in the slice and unescapes to a NUL */
	uri_ok(&u, "sip:null-%00-null@example.com");
	assert_pl(&u.user, "null-%00-null");
	assert_int_equal(sip_uri_unescape(&u.user, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "null-\0-null", 11);

	uri_ok(&u, "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
	assert_pl(&u.params, ";%6C%72;n%61me=v%61lue%25%34%31");
	struct pl v;
	assert_int_equal(sip_param_get(&u.params, "n%61me", &v), 0);
	assert_int_equal(sip_uri_unescape(&v, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "value%41", 8);

	struct pl in = PL("%41%62c%6c%6C");
	assert_int_equal(sip_uri_unescape(&in, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "Abcll", 5);
	in = PL("%00%00");
	assert_int_equal(sip_uri_unescape(&in, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "\0\0", 2);
	in = PL("%ff");
	assert_int_equal(sip_uri_unescape(&in, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal((unsigned char)buf[0], 0xff);
	in = PL("");
	n = 99;
	assert_int_equal(sip_uri_unescape(&in, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 0);

	static const char *const bad[] = { "a%", "a%4", "%4", "%zz", "%4g", "100%" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = pl_cstr(bad[i]);
		if (sip_uri_unescape(&in, buf, sizeof(buf), &n) != EBADMSG)
			fail_msg("\"%s\" unescaped", bad[i]);
	}
	/* the output size is respected exactly */
	in = PL("ab%63");
	assert_int_equal(sip_uri_unescape(&in, buf, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(sip_uri_unescape(&in, buf, 2, &n), ENOSPC);
	assert_int_equal(sip_uri_unescape(&in, buf, 0, &n), ENOSPC);
}

static void test_uri_other_schemes(void **state)
{
	(void)state;
	struct sip_uri u;

	uri_ok(&u, "tel:+358-555-1234567;postd=pp22");
	assert_int_equal(u.scheme_id, SIP_SCHEME_TEL);
	assert_pl(&u.scheme, "tel");
	assert_pl(&u.opaque, "+358-555-1234567;postd=pp22");
	assert_int_equal(u.host.l, 0);
	assert_int_equal(u.user.l, 0);

	uri_ok(&u, "TEL:+1555");
	assert_int_equal(u.scheme_id, SIP_SCHEME_TEL);

	static const struct {
		const char *uri, *scheme, *opaque;
	} other[] = {
		{ "nobodyKnowsThisScheme:totallyopaquecontent", "nobodyKnowsThisScheme", "totallyopaquecontent" },
		{ "soap.beep://192.0.2.103:3002", "soap.beep", "//192.0.2.103:3002" },
		{ "im:user@example.com", "im", "user@example.com" },
		{ "mailto:x@example.com?subject=hi", "mailto", "x@example.com?subject=hi" },
		{ "urn:service:sos", "urn", "service:sos" },
		{ "isbn:2983792873", "isbn", "2983792873" },
		{ "a+b-c.d:x", "a+b-c.d", "x" },
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		uri_ok(&u, other[i].uri);
		assert_int_equal(u.scheme_id, SIP_SCHEME_OTHER);
		assert_pl(&u.scheme, other[i].scheme);
		assert_pl(&u.opaque, other[i].opaque);
	}
	/* opaque, but still no LWS */
	assert_int_equal(uri_parse(&u, "http://www.example.com/a b"), EBADMSG);
}

/* ---- parameter lists ---- */

static void test_params(void **state)
{
	(void)state;
	struct pl cur = PL(" ; a = b ;c;\r\n d\t=\r\n \"x;y=z\" ;e=\"q\\\"uote\";  F=G  "), n, v;
	static const char *const names[] = { "a", "c", "d", "e", "F" };
	static const char *const vals[] = { "b", "", "\"x;y=z\"", "\"q\\\"uote\"", "G" };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(sip_param_next(&cur, &n, &v), 0);
		assert_pl(&n, names[i]);
		assert_pl(&v, vals[i]);
	}
	assert_int_equal(sip_param_next(&cur, &n, &v), ENOENT);
	assert_int_equal(sip_param_next(&cur, &n, &v), ENOENT);

	struct pl params = PL(";transport=TCP;lr;Q=0.5;tag=\"a b\"");
	assert_int_equal(sip_param_get(&params, "TRANSPORT", &v), 0);
	assert_pl(&v, "TCP");
	assert_int_equal(sip_param_get(&params, "q", &v), 0);
	assert_pl(&v, "0.5");
	assert_int_equal(sip_param_get(&params, "lr", &v), 0);
	assert_int_equal(v.l, 0);
	assert_int_equal(sip_param_get(&params, "tag", &v), 0);
	assert_pl(&v, "\"a b\"");
	assert_int_equal(sip_param_get(&params, "l", &v), ENOENT);
	assert_int_equal(sip_param_get(&params, "transports", &v), ENOENT);
	assert_true(sip_param_exists(&params, "LR"));
	assert_false(sip_param_exists(&params, "maddr"));
	struct pl empty = PL("");
	assert_false(sip_param_exists(&empty, "lr"));
	assert_int_equal(sip_params_check(&empty), 0);
	assert_int_equal(sip_params_check(&params), 0);

	static const char *const bad[] = {
		";;", ";a;;b", ";", "; ", ";a;", "a", ";a b", ";a=b c", ";a=", ";a= ;b",
		";=b", ";a=\"open", ";a=\"esc\\\"", ";a=\"x\"y", ";a==b", "; a=b ,c",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl p = pl_cstr(bad[i]);
		if (sip_params_check(&p) != EBADMSG)
			fail_msg("\"%s\" passed", bad[i]);
	}
	/* a lookup stops at a malformed entry rather than guess past it */
	struct pl broken = PL(";a;;b=1");
	assert_int_equal(sip_param_get(&broken, "a", &v), 0);
	assert_int_equal(sip_param_get(&broken, "b", &v), ENOENT);
}

/* ---- printing a parsed URI ---- */

static void test_uri_print(void **state)
{
	(void)state;
	static const char *const uris[] = {
		"sip:alice@example.com",
		"sips:alice:secret@example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent",
		"sip:[2001:db8::1]:5070;maddr=[2001:db8::2]",
		"sip:bob@[::ffff:192.0.2.10]",
		"sip:192.0.2.4:5080",
		"sip:user;par=u%40example.net@example.com",
		"sip:null-%00-null@example.com",
		"sip:user:@example.com",
		"sip:user@example.com?",
		"SIP:UPPER@EXAMPLE.COM;LR",
		"tel:+358-555-1234567;postd=pp22",
		"nobodyKnowsThisScheme:totallyopaquecontent",
	};
	struct mbuf *mb = mbuf_alloc(256, 4096);
	assert_non_null(mb);
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		struct sip_uri u, u2;
		uri_ok(&u, uris[i]);
		mbuf_reset(mb);
		assert_int_equal(sip_uri_print(mb, &u), 0);
		struct pl out = pl_from((const char *)mb->buf, mb->end);
		if (!pl_eq_str(&out, uris[i]))
			fail_msg("printed \"%.*s\" for \"%s\"", (int)out.l, out.p, uris[i]);
		assert_int_equal(sip_uri_parse(&u2, &out), 0);
		assert_int_equal(u2.scheme_id, u.scheme_id);
		assert_true(pl_eq(&u2.user, &u.user));
		assert_true(pl_eq(&u2.password, &u.password));
		assert_true(pl_eq(&u2.host, &u.host));
		assert_int_equal(u2.af, u.af);
		assert_int_equal(u2.port, u.port);
		assert_true(pl_eq(&u2.params, &u.params));
		assert_true(pl_eq(&u2.headers, &u.headers));
		assert_true(pl_eq(&u2.opaque, &u.opaque));
	}
	/* a leading-zero port prints canonically and means the same */
	struct sip_uri u;
	uri_ok(&u, "sip:h.example.com:05060");
	mbuf_reset(mb);
	assert_int_equal(sip_uri_print(mb, &u), 0);
	assert_int_equal(mb->end, strlen("sip:h.example.com:5060"));
	assert_memory_equal(mb->buf, "sip:h.example.com:5060", mb->end);
	/* the writer's cap is reported, not overrun */
	struct mbuf *small = mbuf_alloc(8, 8);
	assert_non_null(small);
	uri_ok(&u, "sip:alice@example.com");
	assert_int_not_equal(sip_uri_print(small, &u), 0);
	assert_true(small->end <= 8);
	mem_deref(small);
	mem_deref(mb);
}

/* ---- name-addr / addr-spec ---- */

static void addr_ok(struct sip_addr *a, const char *s, bool star)
{
	struct pl pl = pl_cstr(s);
	int err = sip_addr_parse(a, &pl, star);
	if (err)
		fail_msg("\"%s\": %d", s, err);
}

static void test_addr(void **state)
{
	(void)state;
	struct sip_addr a;
	struct pl v;

	addr_ok(&a, "\"Alice Smith\" <sip:alice@example.com>;tag=88sja8x", false);
	assert_pl(&a.dname, "\"Alice Smith\"");
	assert_pl(&a.auri, "sip:alice@example.com");
	assert_pl(&a.uri.user, "alice");
	assert_pl(&a.tag, "88sja8x");
	assert_pl(&a.params, ";tag=88sja8x");
	assert_false(a.star);

	addr_ok(&a, "Alice Smith <sip:alice@example.com>", false);
	assert_pl(&a.dname, "Alice Smith");
	assert_int_equal(a.tag.l, 0);

	addr_ok(&a, "caller<sip:caller@example.com>;tag=323", false); /* RFC 4475 §3.1.1.6 */
	assert_pl(&a.dname, "caller");
	assert_pl(&a.tag, "323");

	addr_ok(&a, "<sip:alice@example.com;transport=tcp>;expires=60;q=0.5", true);
	assert_int_equal(a.dname.l, 0);
	assert_pl(&a.uri.params, ";transport=tcp");
	assert_int_equal(sip_param_get(&a.params, "expires", &v), 0);
	assert_pl(&v, "60");
	assert_int_equal(sip_param_get(&a.params, "q", &v), 0);
	assert_pl(&v, "0.5");

	/* addr-spec: parameters after the URI are the header's (RFC 3261 §20) */
	addr_ok(&a, "sip:alice@example.com;tag=1;user=phone", false);
	assert_pl(&a.auri, "sip:alice@example.com");
	assert_int_equal(a.uri.params.l, 0);
	assert_pl(&a.tag, "1");
	assert_true(sip_param_exists(&a.params, "user"));
	addr_ok(&a, "sip:alice@example.com ; tag = 2", false);
	assert_pl(&a.tag, "2");

	/* quotes, escapes, and a '<' inside the quotes */
	addr_ok(&a, "\"A \\\"quoted\\\" <name>\" <sip:a@example.com>", false);
	assert_pl(&a.dname, "\"A \\\"quoted\\\" <name>\"");
	assert_pl(&a.uri.user, "a");
	addr_ok(&a, "\"\" <sip:a@example.com>", false);
	assert_pl(&a.dname, "\"\"");

	/* LWS just inside the brackets (RFC 4475 §3.1.2.14, liberal) */
	addr_ok(&a, "< sip:a@example.com >", false);
	assert_pl(&a.auri, "sip:a@example.com");

	addr_ok(&a, "<tel:+15551234567>", false);
	assert_int_equal(a.uri.scheme_id, SIP_SCHEME_TEL);
	addr_ok(&a, "<http://www.example.com>;tag=3234233", false);
	assert_int_equal(a.uri.scheme_id, SIP_SCHEME_OTHER);
	assert_pl(&a.tag, "3234233");

	/* Contact: * */
	addr_ok(&a, "*", true);
	assert_true(a.star);
	addr_ok(&a, "  *  ", true);
	assert_true(a.star);

	static const char *const bad[] = {
		"",
		"   ",
		"*",                                             /* star not allowed here */
		"<sip:a@example.com",                            /* '<' without '>' */
		"\"Alice <sip:a@example.com>",                   /* unterminated quote */
		"\"Alice\\\" <sip:a@example.com>",
		"Bell, Alexander <sip:a.g.bell@bell-tel.com>",   /* RFC 4475 §3.1.2.15 */
		"Al@ice <sip:a@example.com>",
		"\"Alice\" Smith <sip:a@example.com>",
		"<sip:a@example.com> junk",
		"<sip:a@example.com>>",
		"<sip:a@example.com>;tag=",
		"<sip:a@example.com>;tag",
		"<sip:a@example.com>;;x",
		"<sip:a b@example.com>",
		"<>",
		"sip:a@example.com;tag=1 junk",
		"<sip:a@example.com:0>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl pl = pl_cstr(bad[i]);
		if (sip_addr_parse(&a, &pl, false) != EBADMSG)
			fail_msg("\"%s\" accepted", bad[i]);
	}
	struct pl pl = PL("**");
	assert_int_equal(sip_addr_parse(&a, &pl, true), EBADMSG);
}

/* ---- Via ---- */

static void via_ok(struct sip_via *via, const char *s)
{
	struct pl pl = pl_cstr(s);
	int err = sip_via_parse(via, &pl);
	if (err)
		fail_msg("\"%s\": %d", s, err);
	assert_true(via->val.p == pl.p && via->val.l == pl.l);
}

static void test_via(void **state)
{
	(void)state;
	struct sip_via via;

	via_ok(&via, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
	assert_pl(&via.transport, "UDP");
	assert_pl(&via.sentby, "pc33.atlanta.com");
	assert_pl(&via.host, "pc33.atlanta.com");
	assert_int_equal(via.af, 0);
	assert_int_equal(via.port, 0);
	assert_pl(&via.branch, "z9hG4bK776asdhds");
	assert_true(sip_branch_is_3261(&via.branch));
	assert_false(via.has_rport);
	assert_null(via.received.p);
	assert_pl(&via.params, ";branch=z9hG4bK776asdhds");

	/* LWS around '/' and ';', rport without a value */
	via_ok(&via, "SIP / 2.0 / TCP\r\n  host.example.com:5061 ; branch = z9hG4bKabc ; rport");
	assert_pl(&via.transport, "TCP");
	assert_pl(&via.sentby, "host.example.com:5061");
	assert_int_equal(via.port, 5061);
	assert_pl(&via.branch, "z9hG4bKabc");
	assert_true(via.has_rport);
	assert_int_equal(via.rport.l, 0);

	via_ok(&via, "SIP/2.0/UDP 192.0.2.1:5060;rport=5061;received=192.0.2.99;branch=z9hG4bK1;maddr=224.0.1.75;ttl=1");
	assert_int_equal(via.af, AF_INET);
	assert_true(via.has_rport);
	assert_pl(&via.rport, "5061");
	assert_pl(&via.received, "192.0.2.99");
	assert_pl(&via.maddr, "224.0.1.75");
	assert_pl(&via.branch, "z9hG4bK1");

	/* IPv6 sent-by, and received with and without brackets (RFC 5118 §4.5) */
	via_ok(&via, "SIP/2.0/UDP [2001:db8::9:1]:5060;received=[2001:db8::9:255];branch=z9hG4bKx");
	assert_int_equal(via.af, AF_INET6);
	assert_pl(&via.host, "2001:db8::9:1");
	assert_pl(&via.sentby, "[2001:db8::9:1]:5060");
	assert_int_equal(via.port, 5060);
	assert_pl(&via.received, "[2001:db8::9:255]");
	via_ok(&via, "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
	assert_int_equal(via.port, 0);
	assert_pl(&via.received, "2001:db8::9:255");

	/* any transport token, any case */
	via_ok(&via, "sip/2.0/wss df7jal23ls0d.invalid;branch=z9hG4bKhjhs8ass877");
	assert_pl(&via.transport, "wss");
	via_ok(&via, "SIP/2.0/UNKNOWN t4.example.com");
	assert_pl(&via.transport, "UNKNOWN");
	assert_int_equal(via.branch.l, 0);
	assert_int_equal(via.params.l, 0);

	static const char *const bad[] = {
		"",
		"SIP/2.0/UDP",
		"SIP/2.0/UDP ",
		"SIP/3.0/UDP h.example.com",       /* bad protocol version */
		"XIP/2.0/UDP h.example.com",       /* bad protocol name */
		"SIP/2.0 UDP h.example.com",
		"SIP/2.0//UDP h.example.com",
		"SIP//2.0/UDP h.example.com",
		"SIP/2.0/UDPh.example.com",
		"SIP/2.0/U@P h.example.com",
		"SIP/2.0/UDP h.example.com:0",
		"SIP/2.0/UDP h.example.com:65536",
		"SIP/2.0/UDP h.example.com:",
		"SIP/2.0/UDP 2001:db8::1",
		"SIP/2.0/UDP [2001:db8::1",
		"SIP/2.0/UDP [2001:db8::1]5060",
		"SIP/2.0/UDP h.example.com;branch=",
		"SIP/2.0/UDP h.example.com;branch",
		"SIP/2.0/UDP h.example.com;;branch=z9hG4bK1",
		"SIP/2.0/UDP h.example.com junk",
		"SIP/2.0/UDP h.example.com;branch=z9hG4bK1 junk",
		"SIP/2.0/UDP h!.example.com",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pl pl = pl_cstr(bad[i]);
		if (sip_via_parse(&via, &pl) != EBADMSG)
			fail_msg("\"%s\" accepted", bad[i]);
	}
	struct pl b = PL("z9hG4bK");
	assert_false(sip_branch_is_3261(&b));
	b = PL("z9hG4bKx");
	assert_true(sip_branch_is_3261(&b));
	b = PL("Z9HG4BKx"); /* the cookie is case-sensitive */
	assert_false(sip_branch_is_3261(&b));
}

/* ---- comma-separated header values ---- */

/* Splits s; returns the error that ended the walk and the values found. */
static int split(const char *s, char out[][64], size_t *n)
{
	struct pl cur = pl_cstr(s), v;
	int err;
	*n = 0;
	while ((err = sip_hdr_value_next(&cur, &v)) == 0) {
		assert_true(*n < 8);
		assert_true(v.l < 64);
		memcpy(out[*n], v.p, v.l);
		out[(*n)++][v.l] = '\0';
	}
	return err;
}

static void test_hdr_values(void **state)
{
	(void)state;
	char out[8][64];
	size_t n;

	assert_int_equal(split("\"Smith, John\" <sip:a@example.com>, <sip:c@d;x=1,2>,sip:e@f", out, &n), ENOENT);
	assert_int_equal(n, 3);
	assert_string_equal(out[0], "\"Smith, John\" <sip:a@example.com>");
	assert_string_equal(out[1], "<sip:c@d;x=1,2>");
	assert_string_equal(out[2], "sip:e@f");

	/* LWS and folds around commas are not part of the values */
	assert_int_equal(split("  a ,\tb\r\n , c  ", out, &n), ENOENT);
	assert_int_equal(n, 3);
	assert_string_equal(out[0], "a");
	assert_string_equal(out[1], "b");
	assert_string_equal(out[2], "c");

	/* an escaped quote does not end the quoted string */
	assert_int_equal(split("\"a\\\",b\", d", out, &n), ENOENT);
	assert_int_equal(n, 2);
	assert_string_equal(out[0], "\"a\\\",b\"");

	/* Via values with params */
	assert_int_equal(split("SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;received=\"x,y\"", out, &n), ENOENT);
	assert_int_equal(n, 2);
	assert_string_equal(out[1], "SIP/2.0/TCP b;received=\"x,y\"");

	assert_int_equal(split("single", out, &n), ENOENT);
	assert_int_equal(n, 1);
	assert_int_equal(split("", out, &n), ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(split(" \r\n ", out, &n), ENOENT);
	assert_int_equal(n, 0);

	/* empty values are malformed wherever they are */
	static const char *const bad[] = { ",a", "a,,b", "a,", "a, ", "a , ,b", "," };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (split(bad[i], out, &n) != EBADMSG)
			fail_msg("\"%s\" split cleanly", bad[i]);
	}
	/* the values before the bad one were still returned in order */
	assert_int_equal(split("a,,b", out, &n), EBADMSG);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_parts),
		cmocka_unit_test(test_uri_hosts),
		cmocka_unit_test(test_uri_bad),
		cmocka_unit_test(test_uri_escapes),
		cmocka_unit_test(test_uri_other_schemes),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_uri_print),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_via),
		cmocka_unit_test(test_hdr_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
