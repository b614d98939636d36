/* Unit tests of security (src/pbx/security.c) on an injected monotonic clock:
 * failed authentications counted within a window and answered by a ban, bans that
 * expire, trusted CIDRs never banned, IPv6 sources per /64, the list of bans,
 * lifting a ban, and the SIP filter (banned sources, blocked User-Agents, the
 * per-source rate). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/mem.h"
#include "pbx/security.h"

struct fx {
	struct conf conf;
	struct security *s;
	uint64_t now; /* the injected monotonic clock, ms */
};

static uint64_t clock_now(void *arg)
{
	struct fx *f = arg;
	return f->now;
}

static int64_t wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(struct fx *f, const char *name, const char *value)
{
	char err[256] = "";
	int e = conf_set(&f->conf, name, value, err, sizeof(err));
	if (e)
		fail_msg("conf_set %s=%s: %s", name, value, err);
}

/* The options every test starts from: 3 failures within 60 s ban for 300 s; no
 * rate limit unless a test sets one. */
static int setup(void **state)
{
	log_set_level(LOG_ERROR);
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || conf_init(&f->conf, security_opts, security_opts_count))
		return -1;
	f->now = 1000000;
	set(f, "auth-max-failures", "3");
	set(f, "auth-window", "60");
	set(f, "auth-ban-time", "300");
	set(f, "sip-source-rate", "0");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	mem_deref(f->s);
	conf_close(&f->conf);
	free(f);
	return 0;
}

/* Builds the security object from the options set so far. */
static void start(struct fx *f)
{
	f->s = mem_deref(f->s);
	assert_int_equal(security_alloc(&f->s, &f->conf, clock_now, f), 0);
}

static struct sa addr(const char *text)
{
	struct sa a;
	if (sa_set(&a, text, 5060))
		fail_msg("bad address %s", text);
	return a;
}

static bool fail_from(struct fx *f, const char *text)
{
	struct sa a = addr(text);
	return security_auth_failed(f->s, &a, "100@acme.example");
}

static bool banned(struct fx *f, const char *text)
{
	struct sa a = addr(text);
	return security_banned(f->s, &a);
}

/* N failures within the window ban, and the N-th says so; fewer do not. */
static void test_ban_after_failures(void **state)
{
	struct fx *f = *state;
	start(f);
	assert_false(fail_from(f, "198.51.100.7"));
	f->now += 1000;
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(banned(f, "198.51.100.7"));
	f->now += 1000;
	assert_true(fail_from(f, "198.51.100.7"));
	assert_true(banned(f, "198.51.100.7"));
	/* More failures while banned: no second "banned now". */
	assert_false(fail_from(f, "198.51.100.7"));
	assert_true(banned(f, "198.51.100.7"));
	/* Others are not affected, whatever port. */
	assert_false(banned(f, "198.51.100.8"));
	struct sa other_port;
	assert_int_equal(sa_set(&other_port, "198.51.100.7", 40000), 0);
	assert_true(security_banned(f->s, &other_port));
	/* Two from another: not banned. */
	assert_false(fail_from(f, "203.0.113.1"));
	assert_false(fail_from(f, "203.0.113.1"));
	assert_false(banned(f, "203.0.113.1"));
	/* With a limit of one, the first failure bans. */
	set(f, "auth-max-failures", "1");
	start(f);
	assert_true(fail_from(f, "203.0.113.1"));
	assert_true(banned(f, "203.0.113.1"));
}

/* Failures older than the window do not count. */
static void test_window_resets(void **state)
{
	struct fx *f = *state;
	start(f);
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(fail_from(f, "198.51.100.7"));
	f->now += 60000; /* the window is over: the count starts again */
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(banned(f, "198.51.100.7"));
	assert_true(fail_from(f, "198.51.100.7"));
	assert_true(banned(f, "198.51.100.7"));

	/* Within the window to the last millisecond: they count. */
	assert_false(fail_from(f, "198.51.100.9"));
	f->now += 59999;
	assert_false(fail_from(f, "198.51.100.9"));
	assert_true(fail_from(f, "198.51.100.9"));
}

/* A ban lasts auth-ban-time on the injected clock, then the source is free and
 * counts afresh. */
static void test_ban_expires(void **state)
{
	struct fx *f = *state;
	start(f);
	for (int i = 0; i < 2; i++)
		assert_false(fail_from(f, "198.51.100.7"));
	assert_true(fail_from(f, "198.51.100.7"));
	f->now += 299999;
	assert_true(banned(f, "198.51.100.7"));
	struct security_ban b[4];
	assert_int_equal(security_bans(f->s, b, 4), 1);
	f->now += 1;
	assert_false(banned(f, "198.51.100.7"));
	assert_int_equal(security_bans(f->s, b, 4), 0);
	assert_int_equal(security_unban(f->s, "198.51.100.7"), ENOENT);
	/* Free again: it takes the full count to be banned again. */
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(banned(f, "198.51.100.7"));
	assert_true(fail_from(f, "198.51.100.7"));
	assert_true(banned(f, "198.51.100.7"));
}

/* Trusted CIDRs are never banned: IPv4 and IPv6 prefixes (on and off octet
 * boundaries), single addresses, and IPv4 sources seen as v4-mapped IPv6. */
static void test_trusted(void **state)
{
	struct fx *f = *state;
	set(f, "trusted-addresses", " 10.0.0.0/8, 172.16.0.0/12 ,192.0.2.5,2001:db8:1::/48, 2001:db8:ff00::/40,2001:db9:8000::/33");
	start(f);
	const char *trusted[] = { "10.1.2.3", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.0.2.5",
				  "::ffff:10.9.9.9", "::ffff:192.0.2.5", "2001:db8:1::1", "2001:db8:1:ffff::1",
				  "2001:db8:ff12:3456::1", "2001:db9:8000::1", "2001:db9:ffff:ffff::1" };
	const char *untrusted[] = { "11.0.0.1", "9.255.255.255", "172.32.0.1", "172.15.255.255", "192.0.2.6",
				    "::ffff:11.0.0.1", "2001:db8:2::1", "2001:db8:0:1::1", "2001:db8:fe00::1",
				    "2001:db9:1::1", "2001:db9:7fff:ffff::1" };
	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++) {
		struct sa a = addr(trusted[i]);
		if (!security_trusted(f->s, &a))
			fail_msg("%s should be trusted", trusted[i]);
		for (int k = 0; k < 10; k++)
			assert_false(security_auth_failed(f->s, &a, "x"));
		assert_false(security_banned(f->s, &a));
		assert_int_equal(security_ban(f->s, trusted[i]), EINVAL);
		assert_false(security_banned(f->s, &a));
	}
	for (size_t i = 0; i < sizeof(untrusted) / sizeof(untrusted[0]); i++) {
		struct sa a = addr(untrusted[i]);
		if (security_trusted(f->s, &a))
			fail_msg("%s should not be trusted", untrusted[i]);
	}
	struct security_ban b[4];
	assert_int_equal(security_bans(f->s, b, 4), 0);
	/* An untrusted one is banned all the same. */
	assert_int_equal(security_ban(f->s, "11.0.0.1"), 0);
	assert_true(banned(f, "11.0.0.1"));
	assert_true(banned(f, "::ffff:11.0.0.1")); /* one source */
}

/* A CIDR that is not one is refused at start. */
static void test_trusted_bad(void **state)
{
	struct fx *f = *state;
	const char *bad[] = { "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "2001:db8::/129", "example.com", "10.0.0/8",
			      "10.0.0.0/-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set(f, "trusted-addresses", bad[i]);
		struct security *s = NULL;
		if (security_alloc(&s, &f->conf, clock_now, f) != EINVAL)
			fail_msg("trusted-addresses=%s accepted", bad[i]);
		assert_null(s);
	}
	set(f, "trusted-addresses", "0.0.0.0/0");
	start(f);
	struct sa a = addr("203.0.113.200"), a6 = addr("2001:db8::1");
	assert_true(security_trusted(f->s, &a));
	assert_false(security_trusted(f->s, &a6));
}

/* A trusted CIDR written in v4-mapped IPv6 form (::ffff:a.b.c.d/n, as some tools
 * print IPv4 ranges) is accepted at start, so it must match the IPv4 sources it
 * names: sources are compared as IPv4 once unmapped, and so should the CIDR be. */
static void test_trusted_v4mapped_cidr(void **state)
{
	struct fx *f = *state;
	set(f, "trusted-addresses", "::ffff:203.0.113.0/120");
	start(f);
	struct sa native = addr("203.0.113.9"), mapped = addr("::ffff:203.0.113.9");
	assert_true(security_trusted(f->s, &mapped));
	assert_true(security_trusted(f->s, &native));
}

/* IPv6 addresses count per /64: one host controls the whole /64. */
static void test_ipv6_per_64(void **state)
{
	struct fx *f = *state;
	start(f);
	assert_false(fail_from(f, "2001:db8:a:b::1"));
	assert_false(fail_from(f, "2001:db8:a:b:ffff:ffff:ffff:fffe"));
	assert_false(fail_from(f, "2001:db8:a:c::1")); /* another /64 */
	assert_false(banned(f, "2001:db8:a:b::1"));
	assert_true(fail_from(f, "2001:db8:a:b:1234::5"));
	assert_true(banned(f, "2001:db8:a:b::1"));
	assert_true(banned(f, "2001:db8:a:b:9::9"));
	assert_false(banned(f, "2001:db8:a:c::1"));
	assert_false(banned(f, "2001:db8:a:a:ffff:ffff:ffff:ffff"));
	struct security_ban b[4];
	assert_int_equal(security_bans(f->s, b, 4), 1);
	assert_string_equal(b[0].address, "2001:db8:a:b::");
	assert_int_equal(b[0].prefix, 64);
	assert_int_equal(b[0].failures, 3);

	/* An IPv4 source and its v4-mapped form are one source. */
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(fail_from(f, "::ffff:198.51.100.7"));
	assert_true(fail_from(f, "198.51.100.7"));
	assert_true(banned(f, "::ffff:198.51.100.7"));
}

/* security_bans lists every current ban: address, prefix, failures, times. */
static void test_bans_list(void **state)
{
	struct fx *f = *state;
	start(f);
	struct security_ban b[4];
	memset(b, 0, sizeof(b));
	assert_int_equal(security_bans(f->s, b, 4), 0);
	int64_t w0 = wall_now();
	for (int i = 0; i < 3; i++)
		fail_from(f, "198.51.100.7");
	f->now += 100000;
	for (int i = 0; i < 3; i++)
		fail_from(f, "2001:db8:5:6:7::8");
	fail_from(f, "192.0.2.77"); /* failures, no ban: not listed */
	int64_t w1 = wall_now();
	assert_int_equal(security_bans(f->s, b, 4), 2);
	bool seen4 = false, seen6 = false;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(b[i].failures, 3);
		assert_true(b[i].banned_at >= w0 - 5 && b[i].banned_at <= w1 + 5);
		if (strcmp(b[i].address, "198.51.100.7") == 0) {
			seen4 = true;
			assert_int_equal(b[i].prefix, 32);
			/* 200 s of its 300 s ban left */
			assert_true(b[i].until >= w0 + 200000 - 5 && b[i].until <= w1 + 200000 + 5);
		} else {
			assert_string_equal(b[i].address, "2001:db8:5:6::");
			seen6 = true;
			assert_int_equal(b[i].prefix, 64);
			assert_true(b[i].until >= w0 + 300000 - 5 && b[i].until <= w1 + 300000 + 5);
		}
	}
	assert_true(seen4 && seen6);
	/* Room for one: the count is still every ban, one is copied. */
	struct security_ban one[2];
	memset(one, 0xaa, sizeof(one));
	assert_int_equal(security_bans(f->s, one, 1), 2);
	assert_true(one[0].prefix == 32 || one[0].prefix == 64);
	assert_int_equal(one[1].prefix, (int)0xaaaaaaaa);
	assert_int_equal(security_bans(f->s, NULL, 0), 2);
}

/* security_unban lifts a ban and forgets the failures; ENOENT when not banned,
 * EINVAL for what is not an address. security_ban bans at once. */
static void test_unban(void **state)
{
	struct fx *f = *state;
	start(f);
	assert_int_equal(security_unban(f->s, "198.51.100.7"), ENOENT);
	assert_false(fail_from(f, "198.51.100.7"));
	assert_int_equal(security_unban(f->s, "198.51.100.7"), ENOENT); /* failures, no ban */
	assert_int_equal(security_unban(f->s, "not-an-address"), EINVAL);
	assert_int_equal(security_unban(f->s, ""), EINVAL);
	assert_int_equal(security_unban(f->s, NULL), EINVAL);
	assert_int_equal(security_unban(f->s, "198.51.100.7/32"), EINVAL);
	assert_int_equal(security_unban(f->s, "300.1.1.1"), EINVAL);

	assert_false(fail_from(f, "198.51.100.7"));
	assert_true(fail_from(f, "198.51.100.7"));
	assert_int_equal(security_unban(f->s, "198.51.100.7"), 0);
	assert_false(banned(f, "198.51.100.7"));
	struct security_ban b[2];
	assert_int_equal(security_bans(f->s, b, 2), 0);
	assert_int_equal(security_unban(f->s, "198.51.100.7"), ENOENT);
	/* Failures forgotten: two more do not ban it. */
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(fail_from(f, "198.51.100.7"));
	assert_false(banned(f, "198.51.100.7"));

	/* An IPv6 ban is lifted by any address of its /64, and the listed one. */
	assert_int_equal(security_ban(f->s, "2001:db8:a:b::1"), 0);
	assert_true(banned(f, "2001:db8:a:b::77"));
	assert_int_equal(security_unban(f->s, "2001:db8:a:b:ffff::1"), 0);
	assert_false(banned(f, "2001:db8:a:b::1"));
	assert_int_equal(security_ban(f->s, "2001:db8:a:b::1"), 0);
	assert_int_equal(security_bans(f->s, b, 2), 1);
	assert_int_equal(security_unban(f->s, b[0].address), 0);
	assert_false(banned(f, "2001:db8:a:b::1"));
	/* A v4 ban lifted by its v4-mapped form. */
	assert_int_equal(security_ban(f->s, "203.0.113.4"), 0);
	assert_int_equal(security_unban(f->s, "::ffff:203.0.113.4"), 0);
	assert_false(banned(f, "203.0.113.4"));

	assert_int_equal(security_ban(f->s, "garbage"), EINVAL);
	assert_int_equal(security_bans(f->s, b, 2), 0);
}

static struct sip_msg *request(const char *src, const char *user_agent)
{
	char text[1024];
	int n = snprintf(text, sizeof(text),
			 "REGISTER sip:acme.example SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-unit1\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:100@acme.example>;tag=a1\r\n"
			 "To: <sip:100@acme.example>\r\n"
			 "Call-ID: unit-call-1\r\n"
			 "CSeq: 1 REGISTER\r\n"
			 "Contact: <sip:100@198.51.100.7:5060>\r\n"
			 "%s%s%s"
			 "Content-Length: 0\r\n\r\n",
			 user_agent ? "User-Agent: " : "", user_agent ? user_agent : "", user_agent ? "\r\n" : "");
	assert_true(n > 0 && (size_t)n < sizeof(text));
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	memset(&perr, 0, sizeof(perr));
	assert_int_equal(sip_msg_parse(&m, text, (size_t)n, 0, &perr), 0);
	assert_non_null(m);
	m->src.tp = SIP_TP_UDP;
	m->src.fd = -1;
	assert_int_equal(sa_set(&m->src.addr, src, 5060), 0);
	return m;
}

static bool filter(struct fx *f, const char *src, const char *ua)
{
	struct sip_msg *m = request(src, ua);
	bool ok = security_filter(m, f->s);
	mem_deref(m);
	return ok;
}

/* The filter drops banned sources and blocked User-Agents (a case-insensitive
 * substring of the default list), and passes the rest. */
static void test_filter(void **state)
{
	struct fx *f = *state;
	set(f, "trusted-addresses", "192.0.2.0/24");
	start(f);
	assert_true(filter(f, "198.51.100.7", "Yealink SIP-T46S 66.86.0.15"));
	assert_true(filter(f, "198.51.100.7", NULL));
	assert_false(filter(f, "198.51.100.7", "friendly-scanner"));
	assert_false(filter(f, "198.51.100.7", "Friendly-Scanner"));
	assert_false(filter(f, "198.51.100.7", "my SIPVicious 0.3.4"));
	assert_false(filter(f, "2001:db8::9", "sipcli/v1.8"));
	assert_true(filter(f, "198.51.100.7", "sipvicio"));
	/* Trusted: never filtered. */
	assert_true(filter(f, "192.0.2.10", "friendly-scanner"));

	/* Banned: dropped whatever its User-Agent; others pass. */
	assert_int_equal(security_ban(f->s, "198.51.100.7"), 0);
	assert_false(filter(f, "198.51.100.7", "Yealink SIP-T46S"));
	assert_false(filter(f, "198.51.100.7", NULL));
	assert_true(filter(f, "198.51.100.8", "Yealink SIP-T46S"));
	/* Until the ban ends. */
	f->now += 300000;
	assert_true(filter(f, "198.51.100.7", "Yealink SIP-T46S"));

	/* A list of our own, spaces trimmed; the defaults no longer apply. */
	set(f, "blocked-user-agents", " EvilBot , scanMe");
	start(f);
	assert_false(filter(f, "198.51.100.7", "the evilbot 2"));
	assert_false(filter(f, "198.51.100.7", "SCANME"));
	assert_true(filter(f, "198.51.100.7", "friendly-scanner"));
	assert_true(filter(f, "198.51.100.7", "Evil Bot"));
	/* None. */
	set(f, "blocked-user-agents", "");
	start(f);
	assert_true(filter(f, "198.51.100.7", "friendly-scanner"));
}

/* The per-source rate: burst requests at once, then rate per second; others and
 * trusted sources are not affected. */
static void test_rate(void **state)
{
	struct fx *f = *state;
	set(f, "sip-source-rate", "2");
	set(f, "sip-source-burst", "5");
	set(f, "trusted-addresses", "192.0.2.1");
	start(f);
	for (int i = 0; i < 5; i++)
		assert_true(filter(f, "198.51.100.7", NULL));
	assert_false(filter(f, "198.51.100.7", NULL));
	assert_false(filter(f, "198.51.100.7", NULL));
	/* The same /64 for IPv6; another source has its own budget. */
	for (int i = 0; i < 5; i++)
		assert_true(filter(f, i % 2 ? "2001:db8::1" : "2001:db8::2", NULL));
	assert_false(filter(f, "2001:db8::3", NULL));
	assert_true(filter(f, "2001:db8:0:1::3", NULL));
	assert_true(filter(f, "198.51.100.8", NULL));
	for (int i = 0; i < 100; i++)
		assert_true(filter(f, "192.0.2.1", NULL));
	/* Half a second refills one. */
	f->now += 500;
	assert_true(filter(f, "198.51.100.7", NULL));
	assert_false(filter(f, "198.51.100.7", NULL));
	/* Ten seconds refill the burst, not more. */
	f->now += 10000;
	for (int i = 0; i < 5; i++)
		assert_true(filter(f, "198.51.100.7", NULL));
	assert_false(filter(f, "198.51.100.7", NULL));

	/* Rate 0: no limit. */
	set(f, "sip-source-rate", "0");
	start(f);
	for (int i = 0; i < 1000; i++)
		assert_true(filter(f, "198.51.100.7", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ban_after_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ban_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted_v4mapped_cidr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_per_64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bans_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unban, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
