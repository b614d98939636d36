/* Unit tests of SIP dialogs (src/sip/dialog.c, RFC 3261 §12): made by a UAS from
 * an INVITE and by a UAC from its responses, route sets in both orders, strict
 * routes refused, in-dialog matching, CSeq order, target refresh, and the
 * requests printed inside a dialog parsed back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/dialog.h"
#include "sip/msg.h"

static struct sip_msg *parse(const char *text)
{
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	int e = sip_msg_parse(&m, text, strlen(text), 0, &perr);
	if (e)
		fail_msg("parse: %s\n%s", perr.reason ? perr.reason : "?", text);
	return m;
}

static const char invite[] =
	"INVITE sip:102@pbx.local SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKaaa\r\n"
	"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr;transport=tcp>\r\n"
	"Record-Route: <sip:p3.example.com;lr>\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:101@pbx.local>;tag=from1\r\n"
	"To: <sip:102@pbx.local>\r\n"
	"Call-ID: call-1@10.0.0.5\r\n"
	"CSeq: 10 INVITE\r\n"
	"Contact: <sip:101@10.0.0.5:5060;transport=udp>;expires=60\r\n"
	"Content-Length: 0\r\n\r\n";

static void test_uas_from_invite(void **state)
{
	struct sip_msg *req = parse(invite);
	struct sip_dialog *d = NULL;
	assert_int_equal(sip_dialog_uas_alloc(&d, req, "loc1", "<sip:pbxd@192.0.2.1:5060>"), 0);
	assert_string_equal(sip_dialog_callid(d), "call-1@10.0.0.5");
	assert_string_equal(sip_dialog_local_tag(d), "loc1");
	assert_string_equal(sip_dialog_remote_tag(d), "from1");
	assert_string_equal(sip_dialog_remote_target(d), "sip:101@10.0.0.5:5060;transport=udp");
	assert_int_equal(sip_dialog_route_count(d), 3);
	assert_string_equal(sip_dialog_route(d, 0), "<sip:p1.example.com;lr>");
	assert_string_equal(sip_dialog_route(d, 2), "<sip:p3.example.com;lr>");
	assert_int_equal(sip_dialog_remote_cseq(d), 10);
	assert_true(sip_dialog_confirmed(d));

	/* BYE from us: Request-URI the remote target, Route the set in order, our tags. */
	struct mbuf *mb = mbuf_alloc(1024, 65536);
	assert_int_equal(sip_dialog_request_print(mb, d, "BYE", "UDP", "192.0.2.1:5060", "z9hG4bKbye1", 0, NULL,
						  NULL, NULL), 0);
	assert_int_equal(mbuf_write_mem(mb, "", 1), 0);
	struct sip_msg *bye = parse((const char *)mb->buf);
	assert_true(pl_eq_str(&bye->ruri_raw, "sip:101@10.0.0.5:5060;transport=udp"));
	assert_true(pl_eq_str(&bye->from.tag, "loc1"));
	assert_true(pl_eq_str(&bye->to.tag, "from1"));
	assert_true(pl_eq_str(&bye->callid, "call-1@10.0.0.5"));
	assert_int_equal(bye->cseq.num, 1);
	const struct sip_hdr *r = sip_msg_hdr(bye, SIP_HDR_ROUTE);
	assert_non_null(r);
	assert_true(pl_eq_str(&r->val, "<sip:p1.example.com;lr>"));
	assert_null(sip_msg_hdr(bye, SIP_HDR_CONTACT)); /* a BYE carries none */
	mem_deref(bye);
	mem_deref(mb);

	/* The caller's BYE matches; another tag or Call-ID does not. */
	struct sip_msg *in = parse("BYE sip:pbxd@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKb\r\n"
				   "From: <sip:101@pbx.local>;tag=from1\r\nTo: <sip:102@pbx.local>;tag=loc1\r\n"
				   "Call-ID: call-1@10.0.0.5\r\nCSeq: 11 BYE\r\nContent-Length: 0\r\n\r\n");
	assert_true(sip_dialog_match(d, in));
	assert_int_equal(sip_dialog_request_received(d, in), 0);
	assert_int_equal(sip_dialog_remote_cseq(d), 11);
	assert_int_equal(sip_dialog_request_received(d, in), EPROTO); /* the same CSeq again */
	mem_deref(in);
	in = parse("BYE sip:pbxd@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKc\r\n"
		   "From: <sip:101@pbx.local>;tag=other\r\nTo: <sip:102@pbx.local>;tag=loc1\r\n"
		   "Call-ID: call-1@10.0.0.5\r\nCSeq: 12 BYE\r\nContent-Length: 0\r\n\r\n");
	assert_false(sip_dialog_match(d, in));
	mem_deref(in);
	mem_deref(d);
	mem_deref(req);
}

static void test_uas_refused(void **state)
{
	struct sip_dialog *d = NULL;
	/* A strict router first (no lr): refused. */
	char text[sizeof(invite) + 64];
	snprintf(text, sizeof(text), "%s", invite);
	char *p = strstr(text, "<sip:p1.example.com;lr>");
	memcpy(p, "<sip:p1.example.com;xx>", 23);
	struct sip_msg *req = parse(text);
	assert_int_equal(sip_dialog_uas_alloc(&d, req, "t", NULL), ENOTSUP);
	mem_deref(req);
	/* No Contact: no remote target. */
	req = parse("INVITE sip:102@pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx\r\n"
		    "From: <sip:101@pbx.local>;tag=f\r\nTo: <sip:102@pbx.local>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
		    "Content-Length: 0\r\n\r\n");
	assert_int_equal(sip_dialog_uas_alloc(&d, req, "t", NULL), EINVAL);
	assert_int_equal(sip_dialog_uas_alloc(&d, req, "", NULL), EINVAL);
	mem_deref(req);
	/* No From tag. */
	req = parse("INVITE sip:102@pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx\r\n"
		    "From: <sip:101@pbx.local>\r\nTo: <sip:102@pbx.local>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
		    "Contact: <sip:a@10.0.0.5>\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(sip_dialog_uas_alloc(&d, req, "t", NULL), EINVAL);
	mem_deref(req);
}

static const char ringing[] =
	"SIP/2.0 180 Ringing\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKout\r\n"
	"Record-Route: <sip:p3.example.com;lr>, <sip:p2.example.com;lr>\r\n"
	"Record-Route: <sip:p1.example.com;lr>\r\n"
	"From: <sip:pbxd@pbx.local>;tag=ours\r\nTo: <sip:102@pbx.local>;tag=theirs\r\n"
	"Call-ID: out-1\r\nCSeq: 1 INVITE\r\n"
	"Contact: <sip:102@10.0.0.9:5062>\r\nContent-Length: 0\r\n\r\n";

static void test_uac_early_then_confirmed(void **state)
{
	struct sip_dialog *d = NULL;
	assert_int_equal(sip_dialog_uac_alloc(&d, "out-1", "<sip:pbxd@pbx.local>", "ours", "<sip:102@pbx.local>",
					      "sip:102@10.0.0.9:5062", 1, "<sip:pbxd@192.0.2.1:5060>"), 0);
	assert_false(sip_dialog_confirmed(d));
	assert_string_equal(sip_dialog_remote_tag(d), "");
	struct sip_msg *r = parse(ringing);
	assert_int_equal(sip_dialog_uac_update(d, r), 0);
	assert_string_equal(sip_dialog_remote_tag(d), "theirs");
	assert_false(sip_dialog_confirmed(d));
	/* A UAC takes Record-Route in reverse. */
	assert_int_equal(sip_dialog_route_count(d), 3);
	assert_string_equal(sip_dialog_route(d, 0), "<sip:p1.example.com;lr>");
	assert_string_equal(sip_dialog_route(d, 2), "<sip:p3.example.com;lr>");
	mem_deref(r);

	/* The 2xx confirms it, and moves the target. */
	char ok[sizeof(ringing) + 16];
	snprintf(ok, sizeof(ok), "%s", ringing);
	memcpy(ok + 8, "200 OK     ", 11);
	char *c = strstr(ok, "10.0.0.9:5062");
	memcpy(c, "10.0.0.9:5064", 13);
	r = parse(ok);
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_dialog_uac_update(d, r), 0);
	assert_true(sip_dialog_confirmed(d));
	assert_string_equal(sip_dialog_remote_target(d), "sip:102@10.0.0.9:5064");
	mem_deref(r);

	/* Another remote tag is another dialog (a fork). */
	snprintf(ok, sizeof(ok), "%s", ringing);
	c = strstr(ok, "tag=theirs");
	memcpy(c, "tag=forked", 10);
	r = parse(ok);
	assert_int_equal(sip_dialog_uac_update(d, r), EALREADY);
	mem_deref(r);

	/* ACK keeps the INVITE's CSeq; the next request takes the next one. */
	struct mbuf *mb = mbuf_alloc(1024, 65536);
	assert_int_equal(sip_dialog_request_print(mb, d, "ACK", "UDP", "192.0.2.1:5060", "z9hG4bKack", 1, NULL, NULL,
						  NULL), 0);
	mbuf_write_mem(mb, "", 1);
	struct sip_msg *ack = parse((const char *)mb->buf);
	assert_int_equal(ack->cseq.num, 1);
	assert_true(pl_eq_str(&ack->to.tag, "theirs"));
	mem_deref(ack);
	mbuf_reset(mb);
	struct pl sdp = pl_cstr("v=0\r\n");
	assert_int_equal(sip_dialog_request_print(mb, d, "INVITE", "UDP", "192.0.2.1:5060", "z9hG4bKre", 0, NULL,
						  "application/sdp", &sdp), 0);
	mbuf_write_mem(mb, "", 1);
	struct sip_msg *re = parse((const char *)mb->buf);
	assert_int_equal(re->cseq.num, 2);
	assert_non_null(sip_msg_hdr(re, SIP_HDR_CONTACT));
	assert_true(pl_eq_str(&re->body, "v=0\r\n"));
	mem_deref(re);
	mem_deref(mb);
	mem_deref(d);
}

static void test_target_refresh(void **state)
{
	struct sip_msg *req = parse(invite);
	struct sip_dialog *d = NULL;
	assert_int_equal(sip_dialog_uas_alloc(&d, req, "loc1", NULL), 0);
	mem_deref(req);
	/* A re-INVITE with a new Contact moves the target; a MESSAGE's Contact does not. */
	struct sip_msg *re = parse("INVITE sip:pbxd@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bKr\r\n"
				   "From: <sip:101@pbx.local>;tag=from1\r\nTo: <sip:102@pbx.local>;tag=loc1\r\n"
				   "Call-ID: call-1@10.0.0.5\r\nCSeq: 11 INVITE\r\nContact: <sip:101@10.0.0.7:5070>\r\n"
				   "Content-Length: 0\r\n\r\n");
	assert_int_equal(sip_dialog_request_received(d, re), 0);
	assert_string_equal(sip_dialog_remote_target(d), "sip:101@10.0.0.7:5070");
	mem_deref(re);
	struct sip_msg *msg = parse("MESSAGE sip:pbxd@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bKm\r\n"
				    "From: <sip:101@pbx.local>;tag=from1\r\nTo: <sip:102@pbx.local>;tag=loc1\r\n"
				    "Call-ID: call-1@10.0.0.5\r\nCSeq: 12 MESSAGE\r\nContact: <sip:x@203.0.113.1>\r\n"
				    "Content-Length: 0\r\n\r\n");
	assert_int_equal(sip_dialog_request_received(d, msg), 0);
	assert_string_equal(sip_dialog_remote_target(d), "sip:101@10.0.0.7:5070");
	mem_deref(msg);
	mem_deref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uas_from_invite),
		cmocka_unit_test(test_uas_refused),
		cmocka_unit_test(test_uac_early_then_confirmed),
		cmocka_unit_test(test_target_refresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
