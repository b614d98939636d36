/* Unit tests for offer/answer (src/sdp/sdp_neg.c): answers to remote offers
 * (common codecs in the offerer's order and PTs, dynamic PTs matched by name and
 * clock, rejected streams, §6.1 directions with our hold, telephone-event), our
 * offer and the processing of its answer, and printed SDP parsing back. */
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
#include "sdp/sdp.h"

static const struct sdp_codec audio_caps[] = {
	{ .pt = 0, .name = "PCMU", .clock = 8000 },
	{ .pt = 8, .name = "PCMA", .clock = 8000 },
	{ .pt = 9, .name = "G722", .clock = 8000 },
	{ .pt = 111, .name = "opus", .clock = 48000, .channels = 2, .fmtp = "useinbandfec=1" },
	{ .pt = 101, .name = "telephone-event", .clock = 8000, .fmtp = "0-16" },
};

static const struct sdp_caps caps = {
	.audio = audio_caps, .naudio = 5, .ptime = 20, .rtcp_mux = true,
};

static struct sdp_session *parse_ok(const char *text)
{
	struct sdp_session *s;
	const char *reason;
	int err = sdp_parse(&s, text, strlen(text), &reason);
	if (err)
		fail_msg("parse failed (%d): %s\n%s", err, reason, text);
	return s;
}

#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"

static void answer_ok(struct sdp_neg *neg, const char *offer, const struct sdp_caps *c, enum sdp_dir hold)
{
	struct sdp_session *s = parse_ok(offer);
	const char *reason;
	int err = sdp_answer(neg, s, c, hold, &reason);
	if (err)
		fail_msg("answer failed: %s", reason);
	mem_deref(s);
}

/* Prints our side of neg and parses it back. */
static struct sdp_session *print_parse(const struct sdp_neg *neg, struct sdp_origin *o)
{
	struct mbuf *mb = mbuf_alloc(512, 65536);
	assert_int_equal(sdp_neg_print(mb, o, neg), 0);
	struct sdp_session *s;
	const char *reason;
	if (sdp_parse(&s, (const char *)mb->buf, mb->end, &reason))
		fail_msg("our SDP does not parse: %s\n%.*s", reason, (int)mb->end, (const char *)mb->buf);
	mem_deref(mb);
	return s;
}

static void test_common_codecs(void **state)
{
	(void)state;
	struct sdp_neg neg;
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 18 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
			   "a=fmtp:101 0-15\r\na=ptime:30\r\n", &caps, SDP_SENDRECV);
	assert_int_equal(neg.nstreams, 1);
	const struct sdp_stream *st = &neg.streams[0];
	assert_false(st->rejected);
	assert_int_equal(st->ncodecs, 2); /* G729 is not ours */
	assert_int_equal(st->codecs[0].pt, 8);
	assert_string_equal(st->codecs[0].name, "PCMA");
	assert_int_equal(st->codecs[1].pt, 0);
	assert_int_equal(st->te_pt, 101);
	assert_string_equal(st->te.fmtp, "0-16");
	assert_int_equal(st->ptime, 30);
	assert_int_equal(st->dir, SDP_SENDRECV);
	assert_false(st->rtcp_mux); /* not offered */
	char buf[64];
	assert_string_equal(sa_str(&st->remote, buf, sizeof(buf)), "192.0.2.1:4000");
	assert_string_equal(sa_str(&st->remote_rtcp, buf, sizeof(buf)), "192.0.2.1:4001");

	struct sdp_origin o;
	assert_int_equal(sdp_origin_init(&o, "pbxd", "198.51.100.1", 42), 0);
	neg.streams[0].local_port = 20000;
	struct sdp_session *ans = print_parse(&neg, &o);
	assert_int_equal(ans->media[0].port, 20000);
	assert_int_equal(ans->media[0].nfmts, 3);
	assert_int_equal(ans->media[0].fmts[2].pt, 101);
	assert_int_equal(ans->media[0].ptime, 30);
	assert_true(pl_eq_str(&ans->conn.addr, "198.51.100.1"));
	assert_true(pl_eq_str(&ans->o_version, "42"));
	mem_deref(ans);
	sdp_origin_bump(&o);
	ans = print_parse(&neg, &o);
	assert_true(pl_eq_str(&ans->o_version, "43"));
	mem_deref(ans);
}

static void test_no_common_codec(void **state)
{
	(void)state;
	static const struct sdp_codec pcma_only[] = { { .pt = 8, .name = "PCMA", .clock = 8000 } };
	struct sdp_caps c = { .audio = pcma_only, .naudio = 1 };
	struct sdp_session *s = parse_ok(HEAD "m=audio 4000 RTP/AVP 0\r\n");
	struct sdp_neg neg;
	const char *reason;
	assert_int_equal(sdp_answer(&neg, s, &c, SDP_SENDRECV, &reason), EPROTO);
	assert_string_equal(reason, "no common codec");
	assert_true(neg.streams[0].rejected);
	struct sdp_origin o;
	sdp_origin_init(&o, "pbxd", "::1", 1);
	struct sdp_session *ans = print_parse(&neg, &o);
	assert_int_equal(ans->media[0].port, 0);
	assert_int_equal(ans->media[0].fmts[0].pt, 0);
	assert_int_equal(ans->conn.af, AF_INET6);
	mem_deref(ans);
	mem_deref(s);
}

static void test_dynamic_pt(void **state)
{
	(void)state;
	struct sdp_neg neg;
	/* opus offered as 96 (we offer it as 111): the answer uses the offerer's 96. */
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 96 97 98\r\na=rtpmap:96 OPUS/48000/2\r\n"
			   "a=rtpmap:97 telephone-event/48000\r\na=rtpmap:98 telephone-event/8000\r\n",
		  &caps, SDP_SENDRECV);
	const struct sdp_stream *st = &neg.streams[0];
	assert_int_equal(st->ncodecs, 1);
	assert_int_equal(st->codecs[0].pt, 96);
	assert_int_equal(st->codecs[0].clock, 48000);
	assert_int_equal(st->codecs[0].channels, 2);
	assert_string_equal(st->codecs[0].fmtp, "useinbandfec=1");
	assert_int_equal(st->te_pt, 98); /* the only telephone-event clock we have */

	/* opus/48000 mono is not opus/48000/2 */
	struct sdp_session *s = parse_ok(HEAD "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000\r\n");
	const char *reason;
	assert_int_equal(sdp_answer(&neg, s, &caps, SDP_SENDRECV, &reason), EPROTO);
	mem_deref(s);
}

static void test_directions(void **state)
{
	(void)state;
	static const struct {
		const char *attr;
		enum sdp_dir hold, want;
	} cases[] = {
		{ "a=sendrecv\r\n", SDP_SENDRECV, SDP_SENDRECV },
		{ "", SDP_SENDRECV, SDP_SENDRECV },
		{ "a=sendonly\r\n", SDP_SENDRECV, SDP_RECVONLY },
		{ "a=recvonly\r\n", SDP_SENDRECV, SDP_SENDONLY },
		{ "a=inactive\r\n", SDP_SENDRECV, SDP_INACTIVE },
		{ "a=sendrecv\r\n", SDP_SENDONLY, SDP_SENDONLY },  /* we hold */
		{ "a=sendonly\r\n", SDP_SENDONLY, SDP_INACTIVE },  /* both hold */
		{ "a=recvonly\r\n", SDP_INACTIVE, SDP_INACTIVE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), HEAD "m=audio 4000 RTP/AVP 0\r\n%s", cases[i].attr);
		struct sdp_neg neg;
		answer_ok(&neg, text, &caps, cases[i].hold);
		if (neg.streams[0].dir != cases[i].want)
			fail_msg("case %zu: %s, expected %s", i, sdp_dir_name(neg.streams[0].dir),
				 sdp_dir_name(cases[i].want));
	}
	/* Session-level sendonly applies to a section without its own. */
	struct sdp_neg neg;
	answer_ok(&neg, HEAD "a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=sendrecv\r\n",
		  &caps, SDP_SENDRECV);
	assert_int_equal(neg.streams[0].dir, SDP_RECVONLY);
	assert_int_equal(neg.streams[1].dir, SDP_SENDRECV);

	/* An old-style hold: c=0.0.0.0 gives the any address. */
	answer_ok(&neg, "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
			"m=audio 4000 RTP/AVP 0\r\n", &caps, SDP_SENDRECV);
	assert_true(sa_is_any(&neg.streams[0].remote));
}

static void test_rejected_streams(void **state)
{
	(void)state;
	struct sdp_neg neg;
	answer_ok(&neg, HEAD "m=audio 0 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\n"
			   "m=video 4004 RTP/AVP 34\r\nm=application 4008 UDP/BFCP *\r\n", &caps, SDP_SENDRECV);
	assert_int_equal(neg.nstreams, 4);
	assert_true(neg.streams[0].rejected);  /* port 0 stays rejected */
	assert_false(neg.streams[1].rejected);
	assert_true(neg.streams[2].rejected);  /* no video caps */
	assert_true(neg.streams[3].rejected);
	struct sdp_origin o;
	sdp_origin_init(&o, "pbxd", "198.51.100.1", 7);
	neg.streams[1].local_port = 30000;
	struct sdp_session *ans = print_parse(&neg, &o);
	assert_int_equal(ans->nmedia, 4);
	assert_int_equal(ans->media[0].port, 0);
	assert_int_equal(ans->media[1].port, 30000);
	assert_true(pl_eq_str(&ans->media[3].fmts[0].id, "*"));
	mem_deref(ans);
	/* SRTP is not accepted (yet): that stream alone is rejected. */
	answer_ok(&neg, HEAD "m=audio 4006 RTP/SAVP 0\r\nm=audio 4002 RTP/AVP 0\r\n", &caps, SDP_SENDRECV);
	assert_true(neg.streams[0].rejected);
	assert_false(neg.streams[1].rejected);
	/* More m= lines than a leg negotiates: the whole offer is refused (488). */
	struct sdp_session *big;
	const char *why;
	const char *five = HEAD "m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\nm=audio 4004 RTP/AVP 0\r\n"
			   "m=audio 4006 RTP/AVP 0\r\nm=audio 4008 RTP/AVP 0\r\n";
	assert_int_equal(sdp_parse(&big, five, strlen(five), &why), 0);
	assert_int_equal(sdp_answer(&neg, big, &caps, SDP_SENDRECV, &why), EPROTO);
	assert_string_equal(why, "too many media streams");
	assert_int_equal(neg.nstreams, 0); /* the earlier answer's streams are gone */
	mem_deref(big);
}

static void test_telephone_event(void **state)
{
	(void)state;
	static const struct sdp_codec no_te[] = { { .pt = 0, .name = "PCMU", .clock = 8000 } };
	struct sdp_caps c = { .audio = no_te, .naudio = 1 };
	struct sdp_neg neg;
	const char *te_offer = HEAD "m=audio 4000 RTP/AVP 9 0 100\r\na=rtpmap:100 telephone-event/8000\r\n";
	answer_ok(&neg, te_offer, &c, SDP_SENDRECV);
	assert_int_equal(neg.streams[0].te_pt, -1);
	answer_ok(&neg, te_offer, &caps, SDP_SENDRECV);
	assert_int_equal(neg.streams[0].te_pt, 100);
	assert_int_equal(neg.streams[0].codecs[0].pt, 9);
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 0\r\n", &caps, SDP_SENDRECV);
	assert_int_equal(neg.streams[0].te_pt, -1);
}

static void test_te_clock(void **state)
{
	(void)state;
	static const struct sdp_codec te2[] = {
		{ .pt = 111, .name = "opus", .clock = 48000, .channels = 2 },
		{ .pt = 0, .name = "PCMU", .clock = 8000 },
		{ .pt = 101, .name = "telephone-event", .clock = 8000, .fmtp = "0-16" },
		{ .pt = 110, .name = "telephone-event", .clock = 48000, .fmtp = "0-15" },
	};
	struct sdp_caps c = { .audio = te2, .naudio = 4 };
	struct sdp_neg neg;
	/* /8000 listed first: the first shared one would be it, the clock match wins. */
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 96 98 97\r\na=rtpmap:96 opus/48000/2\r\n"
			   "a=rtpmap:98 telephone-event/8000\r\na=rtpmap:97 telephone-event/48000\r\n",
		  &c, SDP_SENDRECV);
	const struct sdp_stream *st = &neg.streams[0];
	assert_int_equal(st->ncodecs, 1);
	assert_string_equal(st->codecs[0].name, "opus");
	assert_int_equal(st->te_pt, 97);
	assert_int_equal(st->te.clock, 48000);
	assert_string_equal(st->te.fmtp, "0-15");
	/* Listed the other way round, the same one. */
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 96 97 98\r\na=rtpmap:96 opus/48000/2\r\n"
			   "a=rtpmap:97 telephone-event/48000\r\na=rtpmap:98 telephone-event/8000\r\n",
		  &c, SDP_SENDRECV);
	assert_int_equal(neg.streams[0].te_pt, 97);
	assert_int_equal(neg.streams[0].te.clock, 48000);
	/* PCMU chosen: /8000 wins even when /48000 comes first. */
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 0 97 98\r\n"
			   "a=rtpmap:97 telephone-event/48000\r\na=rtpmap:98 telephone-event/8000\r\n",
		  &c, SDP_SENDRECV);
	assert_string_equal(neg.streams[0].codecs[0].name, "PCMU");
	assert_int_equal(neg.streams[0].te_pt, 98);
	assert_int_equal(neg.streams[0].te.clock, 8000);
}

static void test_rtcp(void **state)
{
	(void)state;
	struct sdp_neg neg;
	char buf[64];
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\n", &caps, SDP_SENDRECV);
	assert_true(neg.streams[0].rtcp_mux);
	assert_string_equal(sa_str(&neg.streams[0].remote_rtcp, buf, sizeof(buf)), "192.0.2.1:4000");
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 0\r\na=rtcp:5000 IN IP4 192.0.2.9\r\n", &caps,
		  SDP_SENDRECV);
	assert_false(neg.streams[0].rtcp_mux);
	assert_string_equal(sa_str(&neg.streams[0].remote_rtcp, buf, sizeof(buf)), "192.0.2.9:5000");
	answer_ok(&neg, HEAD "m=audio 4000 RTP/AVP 0\r\na=rtcp:5000\r\n", &caps, SDP_SENDRECV);
	assert_string_equal(sa_str(&neg.streams[0].remote_rtcp, buf, sizeof(buf)), "192.0.2.1:5000");
}

static void test_offer_and_answer(void **state)
{
	(void)state;
	struct sdp_neg neg;
	sdp_offer(&neg, &caps, false, SDP_SENDRECV);
	assert_int_equal(neg.nstreams, 1);
	assert_int_equal(neg.streams[0].ncodecs, 4);
	assert_int_equal(neg.streams[0].te_pt, 101);
	neg.streams[0].local_port = 20002;
	struct sdp_origin o;
	sdp_origin_init(&o, "pbxd", "198.51.100.1", 1000);
	struct sdp_session *offer = print_parse(&neg, &o);
	assert_int_equal(offer->media[0].nfmts, 5);
	assert_true(offer->media[0].rtcp_mux);
	assert_true(pl_eq_str(&offer->media[0].fmts[3].name, "opus"));
	assert_int_equal(offer->media[0].fmts[3].channels, 2);
	mem_deref(offer);

	/* The answerer picks PCMA, keeps telephone-event, and holds (sendonly). */
	struct sdp_session *ans = parse_ok("v=0\r\no=b 5 5 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\n"
					   "t=0 0\r\nm=audio 7078 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
					   "a=sendonly\r\n");
	const char *reason;
	assert_int_equal(sdp_answer_process(&neg, ans, &reason), 0);
	const struct sdp_stream *st = &neg.streams[0];
	assert_int_equal(st->ncodecs, 1);
	assert_string_equal(st->codecs[0].name, "PCMA");
	assert_int_equal(st->te_pt, 101);
	assert_int_equal(st->dir, SDP_RECVONLY);
	assert_false(st->rtcp_mux);
	char buf[64];
	assert_string_equal(sa_str(&st->remote, buf, sizeof(buf)), "203.0.113.5:7078");
	mem_deref(ans);

	/* An answer with opus renumbered to 96 is matched by name and clock. */
	sdp_offer(&neg, &caps, false, SDP_SENDRECV);
	ans = parse_ok("v=0\r\no=b 5 5 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\n"
		       "t=0 0\r\nm=audio 7078 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n");
	assert_int_equal(sdp_answer_process(&neg, ans, &reason), 0);
	assert_int_equal(neg.streams[0].codecs[0].pt, 96);
	assert_string_equal(neg.streams[0].codecs[0].name, "opus");
	assert_int_equal(neg.streams[0].te_pt, -1);
	mem_deref(ans);

	/* Rejected, and a codec never offered. */
	sdp_offer(&neg, &caps, false, SDP_SENDRECV);
	ans = parse_ok("v=0\r\no=b 5 5 IN IP4 203.0.113.5\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n");
	assert_int_equal(sdp_answer_process(&neg, ans, &reason), EBADMSG);
	assert_string_equal(reason, "every stream rejected");
	mem_deref(ans);
	sdp_offer(&neg, &caps, false, SDP_SENDRECV);
	ans = parse_ok("v=0\r\no=b 5 5 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
		       "m=audio 7078 RTP/AVP 18\r\n");
	assert_int_equal(sdp_answer_process(&neg, ans, &reason), EBADMSG);
	assert_string_equal(reason, "answer has no codec that was offered");
	mem_deref(ans);
	sdp_offer(&neg, &caps, false, SDP_SENDRECV);
	ans = parse_ok(HEAD "m=audio 7078 RTP/AVP 0\r\nm=audio 7080 RTP/AVP 0\r\n");
	assert_int_equal(sdp_answer_process(&neg, ans, &reason), EBADMSG);
	assert_string_equal(reason, "answer has a different number of m= lines");
	mem_deref(ans);
}

static void test_origin(void **state)
{
	(void)state;
	struct sdp_origin o;
	assert_int_equal(sdp_origin_init(&o, "pbxd", "not-an-ip", 1), EINVAL);
	assert_int_equal(sdp_origin_init(&o, "a b", "2001:db8::1", 1), 0);
	assert_string_equal(o.user, "a-b");
	assert_int_equal(o.af, AF_INET6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_common_codecs),
		cmocka_unit_test(test_no_common_codec),
		cmocka_unit_test(test_dynamic_pt),
		cmocka_unit_test(test_directions),
		cmocka_unit_test(test_rejected_streams),
		cmocka_unit_test(test_telephone_event),
		cmocka_unit_test(test_te_clock),
		cmocka_unit_test(test_rtcp),
		cmocka_unit_test(test_offer_and_answer),
		cmocka_unit_test(test_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
