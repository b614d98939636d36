/* Unit tests for the SIP printers (src/sip/print.c): parse -> sip_msg_print ->
 * parse gives the same message, for every torture message that parses (read at
 * run time from $SIP_TORTURE_DIR) and for everyday REGISTER/INVITE/200/ACK/BYE
 * traffic; responses built from a request (Vias, received/rport, To tag,
 * Content-Length); and new requests with the ACK and CANCEL derived from them. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "core/sa.h"
#include "sip/msg.h"
#include "sip/print.h"

/* ---- helpers ---- */

static void assert_pl(const struct pl *pl, const char *s)
{
	if (!pl->p && *s)
		fail_msg("slice unset, expected \"%s\"", s);
	if (pl->l != strlen(s) || (pl->l && memcmp(pl->p, s, pl->l) != 0))
		fail_msg("got \"%.*s\" (%zu), expected \"%s\"", (int)pl->l, pl->p ? pl->p : "", pl->l, s);
}

static void assert_pl_eq(const char *what, const struct pl *a, const struct pl *b)
{
	if (!pl_eq(a, b))
		fail_msg("%s: \"%.*s\" != \"%.*s\"", what, (int)a->l, a->p ? a->p : "", (int)b->l, b->p ? b->p : "");
}

static struct sip_msg *parse_buf(const void *data, size_t len, int flags)
{
	struct sip_msg *msg = NULL;
	struct sip_perr perr;
	int err = sip_msg_parse(&msg, data, len, flags, &perr);
	if (err)
		fail_msg("parse failed: %d %u %s\n%.*s", err, perr.scode, perr.reason ? perr.reason : "",
			 (int)len, (const char *)data);
	assert_non_null(msg);
	return msg;
}

static struct sip_msg *parse_str(const char *s)
{
	return parse_buf(s, strlen(s), 0);
}

static struct sip_msg *parse_mb(const struct mbuf *mb)
{
	/* printed messages carry Content-Length: they must frame on a stream too */
	return parse_buf(mb->buf, mb->end, SIP_PARSE_STREAM);
}

static struct mbuf *mb_new(void)
{
	struct mbuf *mb = mbuf_alloc(1024, SIP_MSG_MAX_SIZE);
	assert_non_null(mb);
	return mb;
}

/* The same message: start line, every header (id, name, value), body. */
static void assert_same_msg(const char *what, const struct sip_msg *a, const struct sip_msg *b)
{
	if (a->req != b->req)
		fail_msg("%s: request/response differs", what);
	if (a->req) {
		assert_pl_eq(what, &a->method, &b->method);
		assert_int_equal(a->mid, b->mid);
		assert_pl_eq(what, &a->ruri_raw, &b->ruri_raw);
		assert_int_equal(a->ruri.scheme_id, b->ruri.scheme_id);
		assert_pl_eq(what, &a->ruri.host, &b->ruri.host);
	} else {
		assert_int_equal(a->scode, b->scode);
		assert_pl_eq(what, &a->reason, &b->reason);
	}
	if (a->hdrc != b->hdrc)
		fail_msg("%s: %zu headers, then %zu", what, a->hdrc, b->hdrc);
	for (size_t i = 0; i < a->hdrc; i++) {
		if (a->hdrs[i].id != b->hdrs[i].id)
			fail_msg("%s: header %zu id %d != %d", what, i, a->hdrs[i].id, b->hdrs[i].id);
		assert_pl_eq(what, &a->hdrs[i].name, &b->hdrs[i].name);
		assert_pl_eq(what, &a->hdrs[i].val, &b->hdrs[i].val);
	}
	if (a->body.l != b->body.l || (a->body.l && memcmp(a->body.p, b->body.p, a->body.l)))
		fail_msg("%s: body differs (%zu, %zu bytes)", what, a->body.l, b->body.l);
	/* and so the same decoded fields */
	assert_pl_eq(what, &a->callid, &b->callid);
	assert_int_equal(a->cseq.num, b->cseq.num);
	assert_pl_eq(what, &a->cseq.method, &b->cseq.method);
	assert_int_equal(a->nvia, b->nvia);
	assert_pl_eq(what, &a->via.val, &b->via.val);
	assert_pl_eq(what, &a->via.branch, &b->via.branch);
	assert_pl_eq(what, &a->from.tag, &b->from.tag);
	assert_pl_eq(what, &a->to.tag, &b->to.tag);
	assert_pl_eq(what, &a->from.auri, &b->from.auri);
	assert_pl_eq(what, &a->to.auri, &b->to.auri);
	assert_int_equal(a->maxfwd, b->maxfwd);
	assert_int_equal(a->has_clen, b->has_clen);
	assert_pl_eq(what, &a->ctype, &b->ctype);
}

/* parse -> print -> parse, and printing the reparsed message gives the same bytes. */
static void roundtrip(const char *what, const char *data, size_t len)
{
	struct sip_msg *m1 = parse_buf(data, len, 0);
	struct mbuf *mb = mb_new();
	assert_int_equal(sip_msg_print(mb, m1), 0);
	struct sip_msg *m2 = NULL;
	struct sip_perr perr;
	int err = sip_msg_parse(&m2, (const char *)mb->buf, mb->end, 0, &perr);
	if (err)
		fail_msg("%s: printed message does not parse: %u %s", what, perr.scode, perr.reason);
	assert_same_msg(what, m1, m2);
	struct mbuf *mb2 = mb_new();
	assert_int_equal(sip_msg_print(mb2, m2), 0);
	if (mb2->end != mb->end || memcmp(mb2->buf, mb->buf, mb->end))
		fail_msg("%s: printing is not stable", what);
	mem_deref(mb2);
	mem_deref(m2);
	mem_deref(mb);
	mem_deref(m1);
}

/* ---- round trips ---- */

static void test_roundtrip_corpus(void **state)
{
	(void)state;
	const char *dir = getenv("SIP_TORTURE_DIR");
	if (!dir || !*dir)
		fail_msg("SIP_TORTURE_DIR is not set (run through meson test)");
	static const char *const corpora[] = { "rfc4475", "rfc5118" };
	size_t files = 0, parsed = 0;
	char *data = malloc(SIP_MSG_MAX_SIZE + 1);
	assert_non_null(data);
	for (size_t c = 0; c < 2; c++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, corpora[c]);
		DIR *d = opendir(path);
		if (!d)
			fail_msg("cannot open %s", path);
		for (struct dirent *de; (de = readdir(d));) {
			if (de->d_name[0] == '.')
				continue;
			char file[1300];
			snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
			FILE *f = fopen(file, "rb");
			assert_non_null(f);
			size_t len = fread(data, 1, SIP_MSG_MAX_SIZE + 1, f);
			fclose(f);
			files++;
			struct sip_msg *msg;
			struct sip_perr perr;
			if (sip_msg_parse(&msg, data, len, 0, &perr) == 0) {
				mem_deref(msg);
				roundtrip(de->d_name, data, len);
				parsed++;
			} else {
				mem_deref(msg);
			}
		}
		closedir(d);
	}
	free(data);
	assert_int_equal(files, 62);
	/* 62 files, of which 20 are rejected by this parser (see test_parser.c) */
	assert_true(parsed >= 40);
}

static const char *const everyday[] = {
	/* REGISTER with credentials */
	"REGISTER sip:pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Bob\" <sip:bob@pbx.example.com>;tag=a73kszlfl\r\n"
	"To: \"Bob\" <sip:bob@pbx.example.com>\r\n"
	"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n"
	"CSeq: 2 REGISTER\r\n"
	"Contact: <sip:bob@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\r\n"
	"Authorization: Digest username=\"bob\", realm=\"pbx.example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:pbx.example.com\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"
	"User-Agent: pbxd-test/1.0\r\n"
	"Expires: 3600\r\n"
	"Content-Length: 0\r\n"
	"\r\n",
	/* INVITE with SDP */
	"INVITE sip:alice@pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/TCP [2001:db8::20]:5060;branch=z9hG4bK74bf9\r\n"
	"Max-Forwards: 70\r\n"
	"From: Bob <sip:bob@pbx.example.com>;tag=9fxced76sl\r\n"
	"To: Alice <sip:alice@pbx.example.com>\r\n"
	"Call-ID: 3848276298220188511@pbx.example.com\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:bob@[2001:db8::20]:5060;transport=tcp>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY\r\n"
	"Supported: replaces, timer\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 116\r\n"
	"\r\n"
	"v=0\r\n"
	"o=bob 2890844526 2890844526 IN IP6 2001:db8::20\r\n"
	"s=-\r\n"
	"c=IN IP6 2001:db8::20\r\n"
	"t=0 0\r\n"
	"m=audio 49172 RTP/AVP 0 8\r\n",
	/* 200 OK to it, through two proxies */
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP proxy2.example.net;branch=z9hG4bK2d4790.1;received=192.0.2.3, SIP/2.0/UDP proxy1.example.com;branch=z9hG4bK2d4790.2\r\n"
	"Via: SIP/2.0/TCP [2001:db8::20]:5060;branch=z9hG4bK74bf9\r\n"
	"Record-Route: <sip:proxy2.example.net;lr>, <sip:proxy1.example.com;lr>\r\n"
	"From: Bob <sip:bob@pbx.example.com>;tag=9fxced76sl\r\n"
	"To: Alice <sip:alice@pbx.example.com>;tag=8321234356\r\n"
	"Call-ID: 3848276298220188511@pbx.example.com\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:alice@192.0.2.4>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 47\r\n"
	"\r\n"
	"v=0\r\no=alice 1 1 IN IP4 192.0.2.4\r\ns=-\r\nt=0 0\r\n",
	/* ACK for the 2xx */
	"ACK sip:alice@192.0.2.4 SIP/2.0\r\n"
	"Via: SIP/2.0/TCP [2001:db8::20]:5060;branch=z9hG4bK74bfa\r\n"
	"Route: <sip:proxy1.example.com;lr>\r\n"
	"Route: <sip:proxy2.example.net;lr>\r\n"
	"Max-Forwards: 70\r\n"
	"From: Bob <sip:bob@pbx.example.com>;tag=9fxced76sl\r\n"
	"To: Alice <sip:alice@pbx.example.com>;tag=8321234356\r\n"
	"Call-ID: 3848276298220188511@pbx.example.com\r\n"
	"CSeq: 1 ACK\r\n"
	"Content-Length: 0\r\n"
	"\r\n",
	/* BYE in compact form, with a folded header */
	"BYE sip:bob@192.0.2.10:5060 SIP/2.0\r\n"
	"v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10\r\n"
	"Max-Forwards: 70\r\n"
	"f: Alice <sip:alice@pbx.example.com>;tag=8321234356\r\n"
	"t: Bob <sip:bob@pbx.example.com>;tag=9fxced76sl\r\n"
	"i: 3848276298220188511@pbx.example.com\r\n"
	"CSeq: 1 BYE\r\n"
	"Reason: Q.850;cause=16;\r\n text=\"Normal call clearing\"\r\n"
	"l: 0\r\n"
	"\r\n",
	/* 180 with an empty extension header and no Content-Length (UDP) */
	"SIP/2.0 180 Ringing\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK4b43c2ff8.1;rport=5060;received=198.51.100.7\r\n"
	"From: <sip:bob@pbx.example.com>;tag=93810874\r\n"
	"To: <sip:alice@pbx.example.com>;tag=314159\r\n"
	"Call-ID: 70710@saturn.example.com\r\n"
	"CSeq: 1 INVITE\r\n"
	"X-Empty:\r\n"
	"\r\n",
};

static void test_roundtrip_everyday(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(everyday) / sizeof(everyday[0]); i++) {
		char what[32];
		snprintf(what, sizeof(what), "everyday[%zu]", i);
		roundtrip(what, everyday[i], strlen(everyday[i]));
	}
	/* a printed message is exactly the canonical form of what was read */
	const char *canon = everyday[3];
	struct sip_msg *m = parse_str(canon);
	struct mbuf *mb = mb_new();
	assert_int_equal(sip_msg_print(mb, m), 0);
	assert_int_equal(mb->end, strlen(canon));
	assert_memory_equal(mb->buf, canon, mb->end);
	mem_deref(mb);
	mem_deref(m);
}

/* A raw NUL in a header value (RFC 4475 §3.1.1.2) and a binary body survive. */
static void test_print_binary(void **state)
{
	(void)state;
	static const char msg[] =
		"MESSAGE sip:a@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
		"To: \"N\\\0L\" <sip:a@example.com>\r\n"
		"From: <sip:b@example.com>;tag=1\r\n"
		"Call-ID: bin1\r\n"
		"CSeq: 1 MESSAGE\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Length: 6\r\n"
		"\r\n"
		"\0\1\r\n\0\xff";
	size_t len = sizeof(msg) - 1;
	roundtrip("binary", msg, len);
	struct sip_msg *m = parse_buf(msg, len, 0);
	assert_int_equal(m->to.dname.l, 6);
	assert_memory_equal(m->to.dname.p, "\"N\\\0L\"", 6);
	struct mbuf *mb = mb_new();
	assert_int_equal(sip_msg_print(mb, m), 0);
	assert_int_equal(mb->end, len);
	assert_memory_equal(mb->buf, msg, len);
	mem_deref(mb);
	mem_deref(m);
}

/* ---- responses ---- */

static const char req_invite[] =
	"INVITE sip:alice@pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKtop;rport\r\n"
	"Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n"
	"Max-Forwards: 68\r\n"
	"From: \"Bob\" <sip:bob@pbx.example.com>;tag=f1\r\n"
	"To: Alice <sip:alice@pbx.example.com>\r\n"
	"Call-ID: resp-test@192.0.2.10\r\n"
	"CSeq: 77 INVITE\r\n"
	"Record-Route: <sip:p1.example.com;lr>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

/* Via values of a message, in order. */
static size_t via_values(const struct sip_msg *msg, struct pl *out, size_t max)
{
	size_t n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_VIA); h; h = sip_msg_hdr_next(msg, h)) {
		struct pl cur = h->val, v;
		while (sip_hdr_value_next(&cur, &v) == 0) {
			assert_true(n < max);
			out[n++] = v;
		}
	}
	return n;
}

static void test_response_basics(void **state)
{
	(void)state;
	struct sip_msg *req = parse_str(req_invite);
	struct mbuf *mb = mb_new();

	/* no source address: every Via copied as received, in order */
	assert_int_equal(sip_print_response(mb, req, 180, NULL, "t0", NULL, NULL, NULL), 0);
	struct sip_msg *resp = parse_mb(mb);
	assert_false(resp->req);
	assert_int_equal(resp->scode, 180);
	assert_pl(&resp->reason, "Ringing");
	struct pl rv[8], qv[8];
	size_t rn = via_values(resp, rv, 8), qn = via_values(req, qv, 8);
	assert_int_equal(rn, 3);
	assert_int_equal(qn, 3);
	for (size_t i = 0; i < 3; i++)
		assert_pl_eq("via", &rv[i], &qv[i]);
	assert_int_equal(resp->nvia, 3);
	assert_pl(&resp->via.branch, "z9hG4bKtop");
	assert_false(resp->via.rport.l);
	assert_pl_eq("from", &sip_msg_hdr(resp, SIP_HDR_FROM)->val, &sip_msg_hdr(req, SIP_HDR_FROM)->val);
	assert_pl_eq("call-id", &resp->callid, &req->callid);
	assert_int_equal(resp->cseq.num, 77);
	assert_int_equal(resp->cseq.mid, SIP_INVITE);
	assert_pl(&resp->to.tag, "t0");
	assert_pl_eq("to uri", &resp->to.auri, &req->to.auri);
	assert_true(resp->has_clen);
	assert_int_equal(resp->clen, 0);
	/* only what a response copies: no Max-Forwards, no body type; a 180 to an
	 * INVITE may create a dialog, so it carries the Record-Route set back
	 * (RFC 3261 §12.1.1) */
	assert_null(sip_msg_hdr(resp, SIP_HDR_MAX_FORWARDS));
	assert_non_null(sip_msg_hdr(resp, SIP_HDR_RECORD_ROUTE));
	assert_pl_eq("record-route", &sip_msg_hdr(resp, SIP_HDR_RECORD_ROUTE)->val,
		     &sip_msg_hdr(req, SIP_HDR_RECORD_ROUTE)->val);
	assert_null(sip_msg_hdr(resp, SIP_HDR_CONTENT_TYPE));
	assert_int_equal(resp->len, mb->end);
	mem_deref(resp);

	/* 100 Trying never gets a To tag */
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 100, NULL, "t0", NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	assert_int_equal(resp->scode, 100);
	assert_pl(&resp->reason, "Trying");
	assert_int_equal(resp->to.tag.l, 0);
	mem_deref(resp);

	/* no tag given: none added */
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 404, "Nobody Here", NULL, NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	assert_pl(&resp->reason, "Nobody Here");
	assert_int_equal(resp->to.tag.l, 0);
	mem_deref(resp);

	/* body, type, extra lines; Content-Length counts the body */
	mbuf_reset(mb);
	struct pl body = PL("v=0\r\no=- 1 1 IN IP4 192.0.2.4\r\n");
	assert_int_equal(sip_print_response(mb, req, 200, NULL, "t1",
					    "Contact: <sip:alice@192.0.2.4>\r\nAllow: INVITE, ACK, BYE\r\n",
					    "application/sdp", &body), 0);
	resp = parse_mb(mb);
	assert_int_equal(resp->scode, 200);
	assert_pl(&resp->reason, "OK");
	assert_pl(&resp->to.tag, "t1");
	assert_int_equal(resp->clen, body.l);
	assert_pl_eq("body", &resp->body, &body);
	assert_pl(&resp->ctype, "application/sdp");
	assert_pl(&sip_msg_hdr(resp, SIP_HDR_CONTACT)->val, "<sip:alice@192.0.2.4>");
	assert_true(sip_msg_hdr_has_token(resp, SIP_HDR_ALLOW, "BYE"));
	mem_deref(resp);

	/* default reason phrases */
	assert_string_equal(sip_reason(487), "Request Terminated");
	assert_string_equal(sip_reason(199), "Progress");
	assert_string_equal(sip_reason(299), "OK");
	assert_string_equal(sip_reason(499), "Client Error");
	assert_string_equal(sip_reason(699), "Global Failure");

	mem_deref(mb);
	mem_deref(req);
}

static void test_response_to_tag(void **state)
{
	(void)state;
	/* a request inside a dialog already has a To tag: keep it, add none */
	struct sip_msg *req = parse_str(everyday[4]);
	struct mbuf *mb = mb_new();
	assert_int_equal(sip_print_response(mb, req, 200, NULL, "other", NULL, NULL, NULL), 0);
	struct sip_msg *resp = parse_mb(mb);
	assert_pl(&resp->to.tag, "9fxced76sl");
	assert_false(sip_param_exists(&resp->to.params, "other"));
	struct pl cur = resp->to.params, n, v;
	int tags = 0;
	while (sip_param_next(&cur, &n, &v) == 0)
		tags += pl_caseeq_str(&n, "tag");
	assert_int_equal(tags, 1);
	/* compact forms in the request, full names in the response */
	assert_pl(&sip_msg_hdr(resp, SIP_HDR_VIA)->name, "Via");
	assert_pl(&sip_msg_hdr(resp, SIP_HDR_TO)->name, "To");
	assert_pl(&sip_msg_hdr(resp, SIP_HDR_CALL_ID)->name, "Call-ID");
	assert_pl_eq("call-id", &resp->callid, &req->callid);
	mem_deref(resp);
	mem_deref(mb);
	mem_deref(req);
}

/* RFC 3261 §18.2.1 and RFC 3581 §4: the top Via says where the request came from. */
static void test_response_received_rport(void **state)
{
	(void)state;
	struct sip_msg *req = parse_str(req_invite);
	assert_int_equal(sa_set(&req->src.addr, "198.51.100.7", 40000), 0);
	struct mbuf *mb = mb_new();
	assert_int_equal(sip_print_response(mb, req, 486, NULL, "t2", NULL, NULL, NULL), 0);
	struct sip_msg *resp = parse_mb(mb);
	assert_pl(&resp->via.received, "198.51.100.7");
	assert_true(resp->via.has_rport);
	assert_pl(&resp->via.rport, "40000");
	assert_pl(&resp->via.branch, "z9hG4bKtop");
	assert_pl(&resp->via.sentby, "192.0.2.10:5060");
	/* only the top Via changes */
	struct pl rv[8], qv[8];
	assert_int_equal(via_values(resp, rv, 8), 3);
	assert_int_equal(via_values(req, qv, 8), 3);
	assert_pl(&rv[0], "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKtop;rport=40000;received=198.51.100.7");
	assert_pl_eq("via 2", &rv[1], &qv[1]);
	assert_pl_eq("via 3", &rv[2], &qv[2]);
	mem_deref(resp);
	mem_deref(req);

	/* rport in the middle of the parameters */
	static const char mid[] =
		"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.5:5062;rport;branch=z9hG4bKmid\r\n"
		"From: <sip:a@pbx.example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\n"
		"Call-ID: mid\r\nCSeq: 1 OPTIONS\r\n\r\n";
	req = parse_str(mid);
	assert_int_equal(sa_set(&req->src.addr, "203.0.113.9", 1024), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 200, NULL, NULL, NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	assert_pl(&resp->via.val, "SIP/2.0/UDP 10.0.0.5:5062;rport=1024;branch=z9hG4bKmid;received=203.0.113.9");
	assert_pl(&resp->via.branch, "z9hG4bKmid");
	mem_deref(resp);
	mem_deref(req);

	/* no rport, sent-by is the source address: nothing to add */
	static const char same[] =
		"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame\r\n"
		"From: <sip:a@pbx.example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\n"
		"Call-ID: same\r\nCSeq: 1 OPTIONS\r\n\r\n";
	req = parse_str(same);
	assert_int_equal(sa_set(&req->src.addr, "192.0.2.10", 5060), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 200, NULL, NULL, NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	assert_pl(&resp->via.val, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame");
	assert_null(resp->via.received.p);
	mem_deref(resp);
	/* ... but a different source gets received=, and no rport */
	assert_int_equal(sa_set(&req->src.addr, "192.0.2.11", 5060), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 200, NULL, NULL, NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	assert_pl(&resp->via.val, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKsame;received=192.0.2.11");
	assert_false(resp->via.has_rport);
	mem_deref(resp);
	mem_deref(req);

	/* a host name always differs from the source: received= */
	static const char named[] =
		"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		"Via: SIP/2.0/TCP ua.example.com;branch=z9hG4bKnamed\r\n"
		"From: <sip:a@pbx.example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\n"
		"Call-ID: named\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	req = parse_str(named);
	assert_int_equal(sa_set(&req->src.addr, "2001:db8::7", 5060), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 200, NULL, NULL, NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	/* IPv6 received in brackets, as RFC 5118 §4.5 allows */
	assert_pl(&resp->via.received, "[2001:db8::7]");
	assert_pl(&resp->via.host, "ua.example.com");
	mem_deref(resp);
	mem_deref(req);

	/* an existing received= is not doubled; the empty rport is filled */
	static const char had[] =
		"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.1.1.1;received=192.0.2.1;rport;branch=z9hG4bKhad\r\n"
		"From: <sip:a@pbx.example.com>;tag=1\r\nTo: <sip:pbx.example.com>\r\n"
		"Call-ID: had\r\nCSeq: 1 OPTIONS\r\n\r\n";
	req = parse_str(had);
	assert_int_equal(sa_set(&req->src.addr, "192.0.2.1", 7000), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 200, NULL, NULL, NULL, NULL, NULL), 0);
	resp = parse_mb(mb);
	assert_pl(&resp->via.val, "SIP/2.0/UDP 10.1.1.1;received=192.0.2.1;rport=7000;branch=z9hG4bKhad");
	mem_deref(resp);
	mem_deref(req);
	mem_deref(mb);
}

/* A response to the torture INVITE with a NUL in To keeps the whole To header. */
static void test_response_keeps_nul(void **state)
{
	(void)state;
	static const char msg[] =
		"INVITE sip:a@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
		"To: \"BEL:\\\a NUL:\\\0 DEL:\\\x7f\" <sip:a@example.com>\r\n"
		"From: <sip:b@example.com>;tag=1\r\n"
		"Call-ID: nul1\r\n"
		"CSeq: 1 INVITE\r\n"
		"\r\n";
	struct sip_msg *req = parse_buf(msg, sizeof(msg) - 1, 0);
	struct mbuf *mb = mb_new();
	assert_int_equal(sip_print_response(mb, req, 501, NULL, "x1", NULL, NULL, NULL), 0);
	struct sip_msg *resp = parse_mb(mb);
	assert_pl_eq("to dname", &resp->to.dname, &req->to.dname);
	assert_pl_eq("to uri", &resp->to.auri, &req->to.auri);
	assert_pl(&resp->to.tag, "x1");
	mem_deref(resp);
	mem_deref(mb);
	mem_deref(req);
}

/* ---- requests, ACK, CANCEL ---- */

static struct sip_msg *print_invite(struct mbuf *mb)
{
	struct sip_req_spec r = {
		.method = "INVITE",
		.ruri = "sip:alice@pbx.example.com;transport=udp",
		.via_transport = "UDP",
		.via_sentby = "192.0.2.1:5060",
		.branch = "z9hG4bKreq1",
		.from = "\"PBX\" <sip:pbx@pbx.example.com>",
		.from_tag = "ft1",
		.to = "<sip:alice@pbx.example.com>",
		.callid = "call-1@pbx.example.com",
		.cseq = 4711,
		.extra = "Route: <sip:edge.example.com;lr>\r\nContact: <sip:pbx@192.0.2.1:5060>\r\n",
		.ctype = "application/sdp",
		.body = PL("v=0\r\ns=-\r\n"),
	};
	assert_int_equal(sip_print_request(mb, &r), 0);
	return parse_mb(mb);
}

static void test_print_request(void **state)
{
	(void)state;
	struct mbuf *mb = mb_new();
	struct sip_msg *req = print_invite(mb);
	assert_true(req->req);
	assert_int_equal(req->mid, SIP_INVITE);
	assert_pl(&req->ruri_raw, "sip:alice@pbx.example.com;transport=udp");
	assert_pl(&req->ruri.user, "alice");
	assert_int_equal(req->nvia, 1);
	assert_pl(&req->via.transport, "UDP");
	assert_pl(&req->via.sentby, "192.0.2.1:5060");
	assert_pl(&req->via.branch, "z9hG4bKreq1");
	assert_true(req->via.has_rport);
	assert_int_equal(req->maxfwd, 70);
	assert_pl(&req->from.dname, "\"PBX\"");
	assert_pl(&req->from.tag, "ft1");
	assert_int_equal(req->to.tag.l, 0);
	assert_pl(&req->callid, "call-1@pbx.example.com");
	assert_int_equal(req->cseq.num, 4711);
	assert_int_equal(req->cseq.mid, SIP_INVITE);
	assert_pl(&req->ctype, "application/sdp");
	assert_pl(&req->body, "v=0\r\ns=-\r\n");
	assert_pl(&sip_msg_hdr(req, SIP_HDR_ROUTE)->val, "<sip:edge.example.com;lr>");
	assert_non_null(sip_msg_hdr(req, SIP_HDR_CONTACT));
	mem_deref(req);

	/* in-dialog: To tag, Max-Forwards given, no body */
	struct sip_req_spec r = {
		.method = "BYE", .ruri = "sip:alice@192.0.2.4", .via_transport = "TCP",
		.via_sentby = "[2001:db8::1]:5060", .branch = "z9hG4bKbye", .from = "<sip:pbx@pbx.example.com>",
		.from_tag = "ft1", .to = "<sip:alice@pbx.example.com>", .to_tag = "tt9",
		.callid = "call-1@pbx.example.com", .cseq = 4712, .max_forwards = 16,
	};
	mbuf_reset(mb);
	assert_int_equal(sip_print_request(mb, &r), 0);
	req = parse_mb(mb);
	assert_int_equal(req->mid, SIP_BYE);
	assert_int_equal(req->cseq.mid, SIP_BYE);
	assert_int_equal(req->cseq.num, 4712);
	assert_pl(&req->to.tag, "tt9");
	assert_int_equal(req->maxfwd, 16);
	assert_int_equal(req->via.af, AF_INET6);
	assert_int_equal(req->via.port, 5060);
	assert_int_equal(req->clen, 0);
	assert_null(sip_msg_hdr(req, SIP_HDR_CONTENT_TYPE));
	mem_deref(req);

	/* the writer's cap is reported, not overrun */
	struct mbuf *small = mbuf_alloc(64, 64);
	assert_non_null(small);
	assert_int_equal(sip_print_request(small, &r), EMSGSIZE);
	assert_true(small->end <= 64);
	mem_deref(small);
	mem_deref(mb);
}

static void test_print_ack(void **state)
{
	(void)state;
	struct mbuf *mb = mb_new();
	struct sip_msg *req = print_invite(mb);
	struct mbuf *rb = mb_new();
	assert_int_equal(sip_print_response(rb, req, 486, NULL, "busy7", NULL, NULL, NULL), 0);
	struct sip_msg *resp = parse_mb(rb);
	assert_pl(&resp->to.tag, "busy7");

	struct mbuf *ab = mb_new();
	assert_int_equal(sip_print_ack(ab, req, resp), 0);
	struct sip_msg *ack = parse_mb(ab);
	/* RFC 3261 §17.1.1.3 */
	assert_int_equal(ack->mid, SIP_ACK);
	assert_pl_eq("ruri", &ack->ruri_raw, &req->ruri_raw);
	assert_int_equal(ack->nvia, 1);
	assert_pl_eq("via", &ack->via.val, &req->via.val);
	assert_pl(&ack->via.branch, "z9hG4bKreq1");
	assert_pl_eq("from", &sip_msg_hdr(ack, SIP_HDR_FROM)->val, &sip_msg_hdr(req, SIP_HDR_FROM)->val);
	assert_pl_eq("to", &sip_msg_hdr(ack, SIP_HDR_TO)->val, &sip_msg_hdr(resp, SIP_HDR_TO)->val);
	assert_pl(&ack->to.tag, "busy7");
	assert_pl_eq("call-id", &ack->callid, &req->callid);
	assert_int_equal(ack->cseq.num, 4711);
	assert_pl(&ack->cseq.method, "ACK");
	assert_pl(&sip_msg_hdr(ack, SIP_HDR_ROUTE)->val, "<sip:edge.example.com;lr>");
	assert_int_equal(ack->maxfwd, 70);
	assert_int_equal(ack->clen, 0);
	assert_int_equal(ack->body.l, 0);
	mem_deref(ack);
	mem_deref(ab);
	mem_deref(resp);
	mem_deref(rb);
	mem_deref(req);
	mem_deref(mb);
}

static void test_print_cancel(void **state)
{
	(void)state;
	struct mbuf *mb = mb_new();
	struct sip_msg *req = print_invite(mb);
	struct mbuf *cb = mb_new();
	assert_int_equal(sip_print_cancel(cb, req, NULL), 0);
	struct sip_msg *can = parse_mb(cb);
	/* RFC 3261 §9.1 */
	assert_int_equal(can->mid, SIP_CANCEL);
	assert_pl_eq("ruri", &can->ruri_raw, &req->ruri_raw);
	assert_int_equal(can->nvia, 1);
	assert_pl(&can->via.branch, "z9hG4bKreq1");
	assert_pl_eq("via", &can->via.val, &req->via.val);
	assert_pl_eq("from", &sip_msg_hdr(can, SIP_HDR_FROM)->val, &sip_msg_hdr(req, SIP_HDR_FROM)->val);
	assert_pl_eq("to", &sip_msg_hdr(can, SIP_HDR_TO)->val, &sip_msg_hdr(req, SIP_HDR_TO)->val);
	assert_int_equal(can->to.tag.l, 0);
	assert_pl_eq("call-id", &can->callid, &req->callid);
	assert_int_equal(can->cseq.num, 4711);
	assert_int_equal(can->cseq.mid, SIP_CANCEL);
	assert_non_null(sip_msg_hdr(can, SIP_HDR_ROUTE));
	assert_int_equal(can->body.l, 0);
	mem_deref(can);

	/* of a received INVITE with several Vias: only the top one */
	struct sip_msg *in = parse_str(req_invite);
	mbuf_reset(cb);
	assert_int_equal(sip_print_cancel(cb, in, NULL), 0);
	can = parse_mb(cb);
	assert_int_equal(can->nvia, 1);
	assert_pl(&can->via.val, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKtop;rport");
	assert_int_equal(can->cseq.num, 77);
	assert_int_equal(can->mid, SIP_CANCEL);
	mem_deref(can);
	mem_deref(in);
	mem_deref(cb);
	mem_deref(req);
	mem_deref(mb);
}

/* An error answer to a request rejected before its To was decoded (505 here)
 * must not add a second To tag; a 100 echoes Timestamp (RFC 3261 §8.2.6.1). */
static void test_response_error_paths(void **state)
{
	(void)state;
	static const char text[] =
		"INVITE sip:bob@example.com SIP/3.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKv3\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>;tag=already\r\n"
		"Call-ID: v3@192.0.2.1\r\n"
		"CSeq: 1 INVITE\r\n"
		"Timestamp: 54.1 0.2\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sip_msg *req = NULL;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&req, text, sizeof(text) - 1, 0, &perr), EBADMSG);
	assert_int_equal(perr.scode, 505);
	assert_non_null(req);
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	assert_int_equal(sip_print_response(mb, req, 505, NULL, "second", NULL, NULL, NULL), 0);
	assert_null(memmem(mb->buf, mb->end, "second", 6));
	assert_non_null(memmem(mb->buf, mb->end, "tag=already", 11));
	mem_deref(req);

	static const char ok[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKv4\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: v4@192.0.2.1\r\n"
		"CSeq: 1 INVITE\r\n"
		"Timestamp: 54.1 0.2\r\n"
		"Content-Length: 0\r\n\r\n";
	assert_int_equal(sip_msg_parse(&req, ok, sizeof(ok) - 1, 0, &perr), 0);
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 100, NULL, "t", NULL, NULL, NULL), 0);
	assert_non_null(memmem(mb->buf, mb->end, "Timestamp: 54.1 0.2\r\n", 21));
	mbuf_reset(mb);
	assert_int_equal(sip_print_response(mb, req, 404, NULL, "t", NULL, NULL, NULL), 0);
	assert_null(memmem(mb->buf, mb->end, "Timestamp", 9));
	mem_deref(req);
	mem_deref(mb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_corpus),
		cmocka_unit_test(test_roundtrip_everyday),
		cmocka_unit_test(test_print_binary),
		cmocka_unit_test(test_response_basics),
		cmocka_unit_test(test_response_to_tag),
		cmocka_unit_test(test_response_received_rport),
		cmocka_unit_test(test_response_keeps_nul),
		cmocka_unit_test(test_print_request),
		cmocka_unit_test(test_print_ack),
		cmocka_unit_test(test_print_cancel),
		cmocka_unit_test(test_response_error_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
