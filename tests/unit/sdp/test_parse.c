/* Unit tests for the SDP parser and printer (src/sdp/sdp.c): real-world offers
 * (a desk phone, baresip, a browser's WebRTC offer, G.722 with telephone-event,
 * audio + video), a print -> parse round trip of each, and malformed inputs, each
 * checked for the reason the call engine would put in its 488. */
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

static void assert_pl(const struct pl *pl, const char *s)
{
	if (!pl->p && *s)
		fail_msg("slice unset, expected \"%s\"", s);
	if (pl->l != strlen(s) || (pl->l && memcmp(pl->p, s, pl->l) != 0))
		fail_msg("got \"%.*s\" (%zu), expected \"%s\"", (int)pl->l, pl->p ? pl->p : "", pl->l, s);
}

static struct sdp_session *parse_ok(const char *text)
{
	struct sdp_session *s;
	const char *reason;
	int err = sdp_parse(&s, text, strlen(text), &reason);
	if (err)
		fail_msg("parse failed (%d): %s", err, reason);
	return s;
}

static void parse_bad(const char *text, size_t len, const char *want)
{
	struct sdp_session *s = (struct sdp_session *)1;
	const char *reason;
	int err = sdp_parse(&s, text, len, &reason);
	if (!err)
		fail_msg("parsed, expected \"%s\"", want);
	assert_null(s);
	if (strcmp(reason, want) != 0)
		fail_msg("reason \"%s\", expected \"%s\"", reason, want);
}

#define BAD(text, want) parse_bad(text, sizeof(text) - 1, want)

/* Prints s, parses the print, and checks the two agree on every decoded field. */
static void roundtrip(const struct sdp_session *s)
{
	struct mbuf *mb = mbuf_alloc(1024, 65536);
	assert_non_null(mb);
	assert_int_equal(sdp_print(mb, s), 0);
	struct sdp_session *s2;
	const char *reason;
	if (sdp_parse(&s2, (const char *)mb->buf, mb->end, &reason))
		fail_msg("printed SDP does not parse: %s\n%.*s", reason, (int)mb->end, (const char *)mb->buf);
	assert_int_equal(s2->nmedia, s->nmedia);
	assert_int_equal(s2->nattrs, s->nattrs);
	assert_int_equal(s2->dir, s->dir);
	assert_true(pl_eq(&s2->o_user, &s->o_user));
	assert_true(pl_eq(&s2->name, &s->name));
	for (unsigned i = 0; i < s->nmedia; i++) {
		const struct sdp_media *a = &s->media[i], *b = &s2->media[i];
		assert_int_equal(a->port, b->port);
		assert_int_equal(a->nfmts, b->nfmts);
		assert_int_equal(a->nattrs, b->nattrs);
		assert_int_equal(a->dir, b->dir);
		assert_int_equal(a->ptime, b->ptime);
		assert_int_equal(a->rtcp_mux, b->rtcp_mux);
		for (unsigned j = 0; j < a->nfmts; j++) {
			assert_int_equal(a->fmts[j].pt, b->fmts[j].pt);
			assert_true(pl_eq(&a->fmts[j].name, &b->fmts[j].name));
			assert_int_equal(a->fmts[j].clock, b->fmts[j].clock);
			assert_true(pl_eq(&a->fmts[j].fmtp, &b->fmts[j].fmtp));
		}
	}
	/* Printing the re-parsed session gives the same text. */
	struct mbuf *mb2 = mbuf_alloc(1024, 65536);
	assert_int_equal(sdp_print(mb2, s2), 0);
	assert_int_equal(mb2->end, mb->end);
	assert_memory_equal(mb2->buf, mb->buf, mb->end);
	mem_deref(mb2);
	mem_deref(s2);
	mem_deref(mb);
}

static const char yealink[] =
	"v=0\r\n"
	"o=- 20022 20022 IN IP4 192.168.1.50\r\n"
	"s=SDP data\r\n"
	"c=IN IP4 192.168.1.50\r\n"
	"t=0 0\r\n"
	"m=audio 11796 RTP/AVP 0 8 18 9 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:18 G729/8000\r\n"
	"a=fmtp:18 annexb=no\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

static void test_desk_phone(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(yealink);
	assert_pl(&s->o_user, "-");
	assert_pl(&s->o_id, "20022");
	assert_int_equal(s->o_addr.af, AF_INET);
	assert_pl(&s->name, "SDP data");
	assert_true(s->has_conn);
	assert_pl(&s->conn.addr, "192.168.1.50");
	assert_int_equal(s->ntimes, 1);
	assert_int_equal(s->nmedia, 1);
	const struct sdp_media *m = &s->media[0];
	assert_pl(&m->type, "audio");
	assert_int_equal(m->port, 11796);
	assert_pl(&m->proto, "RTP/AVP");
	assert_int_equal(m->nfmts, 5);
	assert_int_equal(m->fmts[2].pt, 18);
	assert_pl(&m->fmts[2].name, "G729");
	assert_pl(&m->fmts[2].fmtp, "annexb=no");
	assert_pl(&m->fmts[4].name, "telephone-event");
	assert_int_equal(m->fmts[4].clock, 8000);
	assert_pl(&m->fmts[4].fmtp, "0-15");
	assert_int_equal(m->ptime, 20);
	assert_int_equal(m->dir, SDP_SENDRECV);
	assert_int_equal(m->nattrs, 9);
	roundtrip(s);
	mem_deref(s);
}

/* baresip 3.x: LF-only line ends would be fine too; this one has CRLF, a=rtcp and
 * an opus fmtp, and a session-level tool attribute. */
static const char baresip[] =
	"v=0\n"
	"o=- 1262609745 3734052327 IN IP4 10.0.0.2\n"
	"s=-\n"
	"c=IN IP4 10.0.0.2\n"
	"t=0 0\n"
	"a=tool:baresip 3.10.1\n"
	"m=audio 10104 RTP/AVP 96 9 0 8 101\n"
	"b=AS:128\n"
	"a=rtpmap:96 opus/48000/2\n"
	"a=fmtp:96 stereo=1;sprop-stereo=1\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"a=rtcp:10105\n"
	"a=sendrecv\n"
	"a=label:1\n"
	"a=ssrc:3221212421 cname:0f3e7e8e-2b4f\n"
	"a=rtcp-rsize\n";

static void test_baresip_lf(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(baresip);
	assert_int_equal(s->nattrs, 1);
	assert_pl(&s->attrs[0].name, "tool");
	assert_pl(&s->attrs[0].val, "baresip 3.10.1");
	const struct sdp_media *m = &s->media[0];
	assert_int_equal(m->nbw, 1);
	assert_int_equal(m->bw[0].kbps, 128);
	assert_pl(&m->fmts[0].name, "opus");
	assert_int_equal(m->fmts[0].clock, 48000);
	assert_int_equal(m->fmts[0].channels, 2);
	assert_pl(&m->fmts[1].name, "G722"); /* static, no rtpmap */
	assert_int_equal(m->rtcp_port, 10105);
	const struct sdp_attr *a = sdp_attr_find(m->attrs, m->nattrs, "rtcp-rsize");
	assert_non_null(a);
	assert_null(a->val.p);
	a = sdp_attr_find(m->attrs, m->nattrs, "ssrc");
	assert_non_null(a);
	assert_pl(&a->val, "3221212421 cname:0f3e7e8e-2b4f");
	roundtrip(s);
	mem_deref(s);
}

static const char webrtc[] =
	"v=0\r\n"
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0\r\n"
	"a=extmap-allow-mixed\r\n"
	"a=msid-semantic: WMS 5b3f\r\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\n"
	"a=candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host generation 0 network-id 1\r\n"
	"a=candidate:2 1 udp 1686052607 198.51.100.9 54321 typ srflx raddr 192.0.2.7 rport 54321\r\n"
	"a=ice-ufrag:EsAw\r\n"
	"a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
	"a=setup:actpass\r\n"
	"a=mid:0\r\n"
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
	"a=sendrecv\r\n"
	"a=msid:5b3f 9c1a\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=rtcp-fb:111 transport-cc\r\n"
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n"
	"a=rtpmap:63 red/48000/2\r\n"
	"a=fmtp:63 111/111\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:13 CN/8000\r\n"
	"a=rtpmap:110 telephone-event/48000\r\n"
	"a=rtpmap:126 telephone-event/8000\r\n"
	"a=ssrc:1001 cname:x\r\n";

static void test_webrtc(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(webrtc);
	assert_false(s->has_conn);
	assert_pl(&s->o_id, "4611731400430051336");
	const struct sdp_media *m = &s->media[0];
	assert_pl(&m->proto, "UDP/TLS/RTP/SAVPF");
	assert_int_equal(m->port, 9);
	assert_true(m->has_conn);
	assert_pl(&m->conn.addr, "0.0.0.0");
	assert_int_equal(m->rtcp_port, 9);
	assert_pl(&m->rtcp_conn.addr, "0.0.0.0");
	assert_true(m->rtcp_mux);
	assert_pl(&m->ice_ufrag, "EsAw");
	assert_pl(&m->ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
	assert_pl(&m->setup, "actpass");
	assert_pl(&m->mid, "0");
	assert_true(m->fingerprint.l > 64);
	assert_int_equal(m->nfmts, 8);
	assert_pl(&m->fmts[0].fmtp, "minptime=10;useinbandfec=1");
	assert_pl(&m->fmts[6].name, "telephone-event");
	assert_int_equal(m->fmts[6].clock, 48000);
	const struct sdp_attr *a = sdp_attr_find(m->attrs, m->nattrs, "candidate");
	assert_non_null(a);
	assert_pl(&a->val, "1 1 udp 2122260223 192.0.2.7 54321 typ host generation 0 network-id 1");
	roundtrip(s);
	mem_deref(s);
}

static const char two_m[] =
	"v=0\r\n"
	"o=polycom 1 2 IN IP6 2001:db8::5\r\n"
	"s=-\r\n"
	"i=a call\r\n"
	"c=IN IP6 2001:db8::5\r\n"
	"b=CT:1024\r\n"
	"t=0 0\r\n"
	"m=audio 2222 RTP/AVP 9 101\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=sendonly\r\n"
	"m=video 2224 RTP/AVP 109 34\r\n"
	"c=IN IP4 192.0.2.99\r\n"
	"b=TIAS:512000\r\n"
	"a=rtpmap:109 H264/90000\r\n"
	"a=fmtp:109 profile-level-id=42e01f; packetization-mode=1\r\n"
	"a=inactive\r\n";

static void test_two_media_ipv6(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok(two_m);
	assert_int_equal(s->conn.af, AF_INET6);
	assert_int_equal(sa_af(&s->conn.sa), AF_INET6); /* parsed once, kept */
	assert_int_equal(sa_port(&s->conn.sa), 0);
	assert_int_equal(s->nother, 1);
	assert_int_equal(s->nmedia, 2);
	assert_int_equal(s->media[0].dir, SDP_SENDONLY);
	assert_pl(&s->media[0].fmts[0].name, "G722");
	assert_pl(&s->media[0].fmts[1].fmtp, "0-16");
	assert_pl(&s->media[1].type, "video");
	assert_int_equal(s->media[1].dir, SDP_INACTIVE);
	assert_int_equal(s->media[1].conn.af, AF_INET);
	assert_int_equal(sa_af(&s->media[1].conn.sa), AF_INET);
	assert_pl(&s->media[1].fmts[1].name, "H263");
	assert_pl(&s->media[1].fmts[0].fmtp, "profile-level-id=42e01f; packetization-mode=1");
	roundtrip(s);
	mem_deref(s);
}

static void test_session_direction_and_misc(void **state)
{
	(void)state;
	struct sdp_session *s = parse_ok("v=0\r\no=x 1 1 IN IP4 host.example.com\r\ns= \r\n"
					 "c=IN IP4 224.2.1.1/127\r\nt=0 0\r\na=recvonly\r\n"
					 "m=audio 5000/2 RTP/AVP 0\r\nm=audio 0 RTP/AVP 8\r\n"
					 "m=application 9 UDP/BFCP *\r\n\r\n");
	assert_int_equal(s->o_addr.af, 0);
	assert_pl(&s->conn.suffix, "/127");
	assert_int_equal(s->dir, SDP_RECVONLY);
	assert_int_equal(s->media[0].dir, SDP_RECVONLY);
	assert_int_equal(s->media[0].nports, 2);
	assert_int_equal(s->media[1].port, 0);
	assert_int_equal(s->media[2].fmts[0].pt, -1);
	assert_pl(&s->media[2].fmts[0].id, "*");
	roundtrip(s);
	mem_deref(s);
}

static void test_malformed(void **state)
{
	(void)state;
	BAD("", "empty description");
	BAD("o=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", "the first line is not v=0");
	BAD("v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", "the first line is not v=0");
	BAD("v=0\r\ns=-\r\n", "o= must be the second line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n", "no s= line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0 0\r\n", "s= must be the third line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\no=- 1 1 IN IP4 1.2.3.4\r\n", "o= must be the second line");
	BAD("v=0\r\no=- x 1 IN IP4 1.2.3.4\r\ns=-\r\n", "o= session id or version not a number");
	BAD("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", "malformed o= line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
	    "m= port not a number (0-65535)");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n",
	    "m= port not a number (0-65535)");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0 128\r\n",
	    "m= payload type not a number (0-127)");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP\r\n",
	    "m= line without formats");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.400\r\n",
	    "c= address is not a valid IP4/IP6 address");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP6 1.2.3.4\r\n",
	    "c= address is not a valid IP4/IP6 address");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 example.com\r\n",
	    "c= address is not a valid IP4/IP6 address");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=ATM IP4 1.2.3.4\r\n", "c= network type is not IN");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n",
	    "a media section has no c= line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nhello world\r\n", "a line is not of the form x=value");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nX=1\r\n", "a line is not of the form x=value");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\ny=1\r\n", "unknown SDP line type");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n\r\nt=0 0\r\n", "blank line inside the description");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\na=x\x01y\r\n", "control character in a line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\na=x\0y\r\n", "control character in a line");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n"
	    "a=rtpmap:0 PCMU\r\n", "malformed a=rtpmap");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n"
	    "a=sendonly\r\na=recvonly\r\n", "more than one direction attribute");
	BAD("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n",
	    "t= inside a media section");
	BAD("\x89PNG\r\n\x1a\n", "a line is not of the form x=value");
}

static void test_limits(void **state)
{
	(void)state;
	static char buf[SDP_MAX_SIZE + 64];
	const char *head = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n";
	size_t n;

	/* 17 media sections */
	n = (size_t)snprintf(buf, sizeof(buf), "%s", head);
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "m=audio %d RTP/AVP 0\r\n", 1000 + 2 * i);
	parse_bad(buf, n, "too many m= lines");

	/* 65 formats: exactly 64 parses */
	n = (size_t)snprintf(buf, sizeof(buf), "%sm=audio 1 RTP/AVP", head);
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %d", i);
	struct sdp_session *s;
	const char *reason;
	assert_int_equal(sdp_parse(&s, buf, n, &reason), 0);
	assert_int_equal(s->media[0].nfmts, 64);
	mem_deref(s);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " 64");
	parse_bad(buf, n, "too many formats on an m= line");

	/* 65 attributes in a section */
	n = (size_t)snprintf(buf, sizeof(buf), "%sm=audio 1 RTP/AVP 0\r\n", head);
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "a=x-%d\r\n", i);
	parse_bad(buf, n, "too many a= lines in a section");

	/* over 16 KiB */
	memset(buf, 'a', sizeof(buf));
	struct sdp_session *big = NULL;
	assert_int_equal(sdp_parse(&big, buf, SDP_MAX_SIZE + 1, &reason), EMSGSIZE);
	assert_string_equal(reason, "SDP too large");
	assert_null(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desk_phone),
		cmocka_unit_test(test_baresip_lf),
		cmocka_unit_test(test_webrtc),
		cmocka_unit_test(test_two_media_ipv6),
		cmocka_unit_test(test_session_direction_and_misc),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
