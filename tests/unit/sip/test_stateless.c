/* Unit tests for what keeps pbxd a poor reflector (issue 17, item 9): the
 * per-source budget of stateless answers (sip_stack_limit_*, on a virtual clock:
 * burst, refill at the rate, one source apart from another, IPv6 counted per /64,
 * a held-back source not forgotten under a flood of spoofed ones), the compact
 * stateless response (sip_print_response_compact), the room a stateless answer
 * may fill (sip_stack_reply_room) and the lean digest challenge that fills it
 * (sip_auth_challenge_print_lean). */
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
#include "core/sa.h"
#include "sip/auth.h"
#include "sip/msg.h"
#include "sip/print.h"
#include "sip/stack.h"

enum { RATE = 50, BURST = 100, T0 = 1000000 };

static struct sa addr(const char *s)
{
	struct sa sa;
	assert_int_equal(sa_set(&sa, s, 5060), 0);
	return sa;
}

/* How many of n answers in a row at now_ms src gets. */
static unsigned takes(struct sip_stack_limit *l, const char *src, unsigned n, uint64_t now_ms)
{
	struct sa sa = addr(src);
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++)
		ok += sip_stack_limit_take(l, &sa, now_ms, NULL);
	return ok;
}

/* ---- the budget ---- */

static void test_burst_then_silence(void **state)
{
	(void)state;
	struct sip_stack_limit *l = NULL;
	assert_int_equal(sip_stack_limit_alloc(&l, RATE, BURST), 0);
	assert_int_equal(takes(l, "192.0.2.1", 2000, T0), BURST);
	/* another source has its own budget */
	assert_int_equal(takes(l, "192.0.2.2", 10, T0), 10);
	sip_stack_limit_free(l);
}

static void test_refill_at_rate(void **state)
{
	(void)state;
	struct sip_stack_limit *l = NULL;
	assert_int_equal(sip_stack_limit_alloc(&l, RATE, BURST), 0);
	assert_int_equal(takes(l, "192.0.2.1", BURST, T0), BURST);
	assert_int_equal(takes(l, "192.0.2.1", 1, T0 + 19), 0); /* 0.95 of an answer */
	assert_int_equal(takes(l, "192.0.2.1", 5, T0 + 20), 1); /* one per 20 ms */
	assert_int_equal(takes(l, "192.0.2.1", 100, T0 + 1020), RATE);
	/* a second of silence buys a second's worth, a long one the burst, no more */
	assert_int_equal(takes(l, "192.0.2.1", 1000, T0 + 3600000), BURST);
	/* a clock that steps back refills nothing and breaks nothing */
	assert_int_equal(takes(l, "192.0.2.1", 10, T0), 0);
	sip_stack_limit_free(l);
}

static void test_newly_once(void **state)
{
	(void)state;
	struct sip_stack_limit *l = NULL;
	assert_int_equal(sip_stack_limit_alloc(&l, RATE, 2), 0);
	struct sa sa = addr("198.51.100.7");
	bool newly = true;
	assert_true(sip_stack_limit_take(l, &sa, T0, &newly));
	assert_false(newly);
	assert_true(sip_stack_limit_take(l, &sa, T0, &newly));
	assert_false(sip_stack_limit_take(l, &sa, T0, &newly));
	assert_true(newly); /* the first refusal is worth a log line */
	assert_false(sip_stack_limit_take(l, &sa, T0, &newly));
	assert_false(newly); /* the rest are not */
	assert_true(sip_stack_limit_take(l, &sa, T0 + 20, &newly));
	assert_false(sip_stack_limit_take(l, &sa, T0 + 20, &newly));
	assert_true(newly); /* answered in between: a new episode */
	sip_stack_limit_free(l);
}

static void test_ipv6_per_64(void **state)
{
	(void)state;
	struct sip_stack_limit *l = NULL;
	assert_int_equal(sip_stack_limit_alloc(&l, RATE, BURST), 0);
	/* one subscriber's /64 is one source, whatever its low 64 bits */
	char a[64];
	unsigned ok = 0;
	for (unsigned i = 0; i < 300; i++) {
		snprintf(a, sizeof(a), "2001:db8:1:2:%x::%x", i, i + 1);
		ok += takes(l, a, 1, T0);
	}
	assert_int_equal(ok, BURST);
	assert_int_equal(takes(l, "2001:db8:1:3::1", 5, T0), 5); /* the next /64 */
	/* an IPv4-mapped address is that IPv4 source */
	assert_int_equal(takes(l, "203.0.113.9", BURST, T0), BURST);
	assert_int_equal(takes(l, "::ffff:203.0.113.9", 1, T0), 0);
	sip_stack_limit_free(l);
}

static void test_flood_does_not_flush(void **state)
{
	(void)state;
	struct sip_stack_limit *l = NULL;
	assert_int_equal(sip_stack_limit_alloc(&l, RATE, BURST), 0);
	assert_int_equal(takes(l, "192.0.2.1", BURST, T0), BURST);
	/* 200,000 spoofed sources, far more than the table holds: each takes its
	 * answer, none grows the table, and the drained victim is not forgotten
	 * (forgetting it would hand it a fresh burst) */
	char a[32];
	unsigned ok = 0;
	for (unsigned i = 0; i < 200000; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		ok += takes(l, a, 1, T0 + i / 1000);
	}
	assert_int_equal(ok, 200000);
	assert_int_equal(takes(l, "192.0.2.1", 10, T0 + 199), 9); /* refilled for 199 ms only */
	sip_stack_limit_free(l);
}

static void test_limit_alloc_errors(void **state)
{
	(void)state;
	struct sip_stack_limit *l = NULL;
	assert_int_equal(sip_stack_limit_alloc(&l, RATE, 0), EINVAL);
	assert_int_equal(sip_stack_limit_alloc(&l, 1000001, 1), EINVAL);
	assert_int_equal(sip_stack_limit_alloc(NULL, 1, 1), EINVAL);
	assert_null(l);
	/* rate 0: the burst, then never again */
	assert_int_equal(sip_stack_limit_alloc(&l, 0, 3), 0);
	assert_int_equal(takes(l, "192.0.2.1", 10, T0), 3);
	assert_int_equal(takes(l, "192.0.2.1", 10, T0 + 86400000), 0);
	sip_stack_limit_free(l);
	sip_stack_limit_free(NULL);
}

/* ---- lean answers ---- */

/* The smallest REGISTER an attacker would send: compact names, short values. */
static const char probe[] =
	"REGISTER sip:a SIP/2.0\r\n"
	"v: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\n"
	"f: <sip:a@a>;tag=1\r\n"
	"t: <sip:a@a>\r\n"
	"i: 1\r\n"
	"CSeq: 1 REGISTER\r\n"
	"\r\n";

/* A phone's REGISTER. */
static const char phone[] =
	"REGISTER sip:pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:100@pbx.example.com>;tag=1928301774\r\n"
	"To: <sip:100@pbx.example.com>\r\n"
	"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
	"CSeq: 1 REGISTER\r\n"
	"Contact: <sip:100@192.0.2.10:5060;transport=udp>;expires=3600\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
	"Supported: replaces, path, gruu, outbound\r\n"
	"User-Agent: Yealink SIP-T46U 108.86.0.45\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static struct sip_msg *parse_from(const char *s, const char *src)
{
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&m, s, strlen(s), 0, &perr), 0);
	m->src.tp = SIP_TP_UDP;
	m->src.addr = addr(src);
	return m;
}

static void test_compact_response(void **state)
{
	(void)state;
	struct sip_msg *req = parse_from(phone, "203.0.113.50");
	struct mbuf *mb = mbuf_alloc(512, 8192);
	assert_int_equal(sip_print_response_compact(mb, req, 405, NULL, "0123abcd", "Allow: OPTIONS\r\n"), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	const char *s = (const char *)mb->buf;
	assert_non_null(strstr(s, "SIP/2.0 405 Method Not Allowed\r\nv: SIP/2.0/UDP 192.0.2.10:5060;"
				  "branch=z9hG4bK776asdhds;rport=5060;received=203.0.113.50\r\n"
				  "f: \"Alice\" <sip:100@pbx.example.com>;tag=1928301774\r\n"
				  "t: <sip:100@pbx.example.com>;tag=0123abcd\r\n"
				  "i: a84b4c76e66710@192.0.2.10\r\nCSeq: 1 REGISTER\r\n"
				  "Allow: OPTIONS\r\nl: 0\r\n\r\n"));
	assert_null(strstr(s, "Server"));
	/* and it reads back as the same dialog identifiers */
	struct sip_msg *resp = NULL;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&resp, s, mb->end - 1, SIP_PARSE_STREAM, &perr), 0);
	assert_int_equal(resp->scode, 405);
	assert_true(pl_eq(&resp->callid, &req->callid));
	assert_true(pl_eq(&resp->from.tag, &req->from.tag));
	assert_true(pl_eq_str(&resp->to.tag, "0123abcd"));
	mem_deref(resp);
	mem_deref(mb);
	mem_deref(req);
}

static unsigned count(const char *s, const char *what)
{
	unsigned n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* The whole 401 a registrar sends: the bare answer plus the lean challenge that
 * fits its room. */
static size_t challenge_answer(struct sip_auth *a, const struct sip_msg *req, struct mbuf *out)
{
	struct mbuf *ch = mbuf_alloc(512, 8192);
	size_t room = sip_stack_reply_room(req, 401);
	assert_int_equal(sip_auth_challenge_print_lean(ch, a, false, &req->ruri.host, false, T0, room), 0);
	assert_int_equal(mbuf_write_mem(ch, "", 1), 0);
	assert_int_equal(sip_print_response_compact(out, req, 401, NULL, "0123abcd", (const char *)ch->buf), 0);
	mem_deref(ch);
	return out->end;
}

static void test_challenge_fits_room(void **state)
{
	(void)state;
	struct sip_auth *a = NULL;
	assert_int_equal(sip_auth_alloc(&a, 300), 0);
	enum sip_auth_alg algs[] = { SIP_AUTH_MD5, SIP_AUTH_SHA256, SIP_AUTH_SHA512_256 };
	assert_int_equal(sip_auth_offer_set(a, algs, 3), 0);

	/* a phone's REGISTER gets every algorithm, within twice its size */
	struct sip_msg *req = parse_from(phone, "203.0.113.50");
	struct mbuf *mb = mbuf_alloc(512, 8192);
	size_t n = challenge_answer(a, req, mb);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	assert_int_equal(count((const char *)mb->buf, "WWW-Authenticate: Digest "), 3);
	assert_null(strstr((const char *)mb->buf, "opaque"));
	assert_true(n <= SIP_STACK_REPLY_MAX_RATIO * req->len);
	mem_deref(req);

	/* a minimal probe gets only the first, however little room is left */
	req = parse_from(probe, "255.255.255.254");
	mbuf_reset(mb);
	n = challenge_answer(a, req, mb);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	assert_int_equal(count((const char *)mb->buf, "WWW-Authenticate"), 1);
	assert_non_null(strstr((const char *)mb->buf, "algorithm=MD5"));
	/* the floor: one challenge over a copy of the request's dialog headers */
	assert_true(n * 100 <= 240 * req->len);
	mem_deref(req);
	mem_deref(mb);
	mem_deref(a);
}

static void test_reply_room(void **state)
{
	(void)state;
	struct sip_msg *req = parse_from(phone, "203.0.113.50");
	size_t room = sip_stack_reply_room(req, 200);
	assert_true(room > 0);
	/* exactly room bytes of extra lines reach twice the request, not a byte more */
	char extra[2048];
	assert_true(room < sizeof(extra));
	memset(extra, 'x', room);
	memcpy(extra, "X: ", 3);
	memcpy(extra + room - 2, "\r\n", 2);
	extra[room] = '\0';
	struct mbuf *mb = mbuf_alloc(512, 8192);
	assert_int_equal(sip_print_response_compact(mb, req, 200, NULL, "whatever", extra), 0);
	assert_int_equal(mb->end, SIP_STACK_REPLY_MAX_RATIO * req->len);
	mem_deref(mb);
	mem_deref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_silence),
		cmocka_unit_test(test_refill_at_rate),
		cmocka_unit_test(test_newly_once),
		cmocka_unit_test(test_ipv6_per_64),
		cmocka_unit_test(test_flood_does_not_flush),
		cmocka_unit_test(test_limit_alloc_errors),
		cmocka_unit_test(test_compact_response),
		cmocka_unit_test(test_challenge_fits_room),
		cmocka_unit_test(test_reply_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
