/* Unit tests for the SIP transaction layer (src/sip/tsx.c): the RFC 3261 §17
 * state machines with RFC 6026's Accepted state, driven on a virtual clock (a
 * timer heap whose time only the test moves), never by sleeping. Every message the
 * layer sends goes through a fake transport that records it with the virtual time
 * it left at, and parses it back so the test can look at method, status, branch
 * and tags. Timer values are the RFC defaults, T1 = 500, T2 = 4000, T4 = 5000. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "core/timer.h"
#include "sip/msg.h"
#include "sip/print.h"
#include "sip/tsx.h"

enum { T1 = 500, T2 = 4000, T4 = 5000, MAXSENT = 2048 };

struct sent {
	struct sip_msg *msg;
	uint64_t at;
	enum sip_transport_kind tp;
	struct sa dst;
};

struct fx {
	struct tmr_heap th;
	struct sip_tsx_layer *l;
	struct sent sent[MAXSENT];
	size_t nsent;
	int send_err; /* what the fake transport returns */
};

/* ---- the fake transport and the virtual clock ---- */

static int fake_send(const struct sip_peer *dst, const struct mbuf *mb, void *arg)
{
	struct fx *f = arg;
	assert_true(f->nsent < MAXSENT);
	struct sip_perr perr;
	struct sip_msg *m = NULL;
	int err = sip_msg_parse(&m, (const char *)mb->buf, mb->end, 0, &perr);
	if (err)
		fail_msg("the layer sent something unparsable (%s): %.*s", perr.reason, (int)mb->end,
			 (const char *)mb->buf);
	struct sent *s = &f->sent[f->nsent++];
	s->msg = m;
	s->at = f->th.now;
	s->tp = dst->tp;
	s->dst = dst->addr;
	return f->send_err;
}

/* Moves the clock to t, stopping at every deadline on the way so that each timer
 * fires at its exact instant (and re-arms from it). */
static void run_to(struct fx *f, uint64_t t)
{
	for (;;) {
		int64_t n = tmr_heap_next(&f->th);
		if (n < 0 || f->th.now + (uint64_t)n > t)
			break;
		tmr_heap_advance(&f->th, f->th.now + (uint64_t)n);
	}
	tmr_heap_advance(&f->th, t);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	tmr_heap_init(&f->th, 0);
	if (sip_tsx_layer_alloc(&f->l, &f->th, NULL, fake_send, f))
		return -1;
	*state = f;
	return 0;
}

static void sent_clear(struct fx *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		f->sent[i].msg = mem_deref(f->sent[i].msg);
	f->nsent = 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sip_tsx_layer_free(f->l);
	assert_int_equal(tmr_heap_count(&f->th), 0); /* freeing disarmed every timer */
	tmr_heap_close(&f->th);
	sent_clear(f);
	free(f);
	return 0;
}

/* ---- building messages as text ---- */

struct req_spec {
	const char *method;
	const char *ruri;
	const char *branch;  /* NULL: a Via without branch (RFC 2543) */
	const char *sentby;
	const char *from_tag;
	const char *to_tag;  /* NULL: none */
	const char *callid;
	unsigned cseq;
	const char *cseq_method; /* NULL: method */
	enum sip_transport_kind tp;
};

static const struct req_spec base_invite = {
	.method = "INVITE", .ruri = "sip:bob@pbx.example.com", .branch = "z9hG4bKinv1",
	.sentby = "192.0.2.1:5060", .from_tag = "ft1", .callid = "call-1@192.0.2.1", .cseq = 1,
	.tp = SIP_TP_UDP,
};

static struct sip_msg *req_parse(const struct req_spec *r)
{
	char via[160], to[96], text[1024];
	const char *tps = r->tp == SIP_TP_TCP ? "TCP" : "UDP";
	if (r->branch)
		snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s", tps, r->sentby, r->branch);
	else
		snprintf(via, sizeof(via), "SIP/2.0/%s %s", tps, r->sentby);
	if (r->to_tag)
		snprintf(to, sizeof(to), "<sip:bob@pbx.example.com>;tag=%s", r->to_tag);
	else
		snprintf(to, sizeof(to), "<sip:bob@pbx.example.com>");
	int n = snprintf(text, sizeof(text),
			 "%s %s SIP/2.0\r\n"
			 "Via: %s\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice\" <sip:alice@example.com>;tag=%s\r\n"
			 "To: %s\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 r->method, r->ruri, via, r->from_tag, to, r->callid, r->cseq,
			 r->cseq_method ? r->cseq_method : r->method);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&m, text, (size_t)n, 0, &perr), 0);
	m->src.tp = r->tp;
	assert_int_equal(sa_set(&m->src.addr, "192.0.2.1", 5060), 0);
	return m;
}

/* A response as a peer would send it to our client transaction. */
static struct sip_msg *resp_parse(unsigned scode, const char *branch, const char *cseq_method, unsigned cseq,
				  const char *to_tag)
{
	char text[1024], to[96];
	if (to_tag)
		snprintf(to, sizeof(to), "<sip:carol@192.0.2.50>;tag=%s", to_tag);
	else
		snprintf(to, sizeof(to), "<sip:carol@192.0.2.50>");
	int n = snprintf(text, sizeof(text),
			 "SIP/2.0 %u %s\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=%s;rport=5060\r\n"
			 "From: <sip:pbx@pbx.example.com>;tag=ours\r\n"
			 "To: %s\r\n"
			 "Call-ID: out-1@192.0.2.99\r\n"
			 "CSeq: %u %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 scode, sip_reason((uint16_t)scode), branch, to, cseq, cseq_method);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&m, text, (size_t)n, 0, &perr), 0);
	m->src.tp = SIP_TP_UDP;
	assert_int_equal(sa_set(&m->src.addr, "192.0.2.50", 5060), 0);
	return m;
}

/* Feeds one response and frees it; returns what sip_tsx_response said. */
static bool feed(struct fx *f, unsigned scode, const char *branch, const char *cseq_method, unsigned cseq,
		 const char *to_tag)
{
	struct sip_msg *m = resp_parse(scode, branch, cseq_method, cseq, to_tag);
	bool r = sip_tsx_response(f->l, m);
	mem_deref(m);
	return r;
}

/* Offers a request to the layer and frees it; returns what absorb said. */
static bool offer(struct fx *f, const struct req_spec *r)
{
	struct sip_msg *m = req_parse(r);
	bool a = sip_tsx_request_absorb(f->l, m);
	mem_deref(m);
	return a;
}

static struct sip_stsx *stsx_new(struct fx *f, const struct req_spec *r)
{
	struct sip_msg *m = req_parse(r);
	assert_false(sip_tsx_request_absorb(f->l, m)); /* a new request */
	struct sip_stsx *t = NULL;
	assert_int_equal(sip_stsx_alloc(&t, f->l, m), 0);
	assert_non_null(t);
	mem_deref(m); /* the transaction keeps its own reference */
	return t;
}

/* Checks that the sends recorded from index `from` on are exactly `n` copies of
 * status `scode` (or method `method` when scode is 0), at the instants `at`. */
static void expect_sends(struct fx *f, size_t from, uint16_t scode, const char *method, const uint64_t *at, size_t n)
{
	if (f->nsent - from != n) {
		for (size_t i = from; i < f->nsent; i++)
			print_message("  sent #%zu at %llu: %u\n", i, (unsigned long long)f->sent[i].at,
				      f->sent[i].msg->scode);
		fail_msg("expected %zu sends from #%zu, got %zu", n, from, f->nsent - from);
	}
	for (size_t i = 0; i < n; i++) {
		const struct sent *s = &f->sent[from + i];
		if (s->at != at[i])
			fail_msg("send %zu left at %llu, expected %llu", i, (unsigned long long)s->at,
				 (unsigned long long)at[i]);
		if (scode) {
			assert_false(s->msg->req);
			assert_int_equal(s->msg->scode, scode);
		} else {
			assert_true(s->msg->req);
			assert_true(pl_eq_str(&s->msg->method, method));
		}
	}
}

static const struct sip_msg *last_sent(struct fx *f)
{
	assert_true(f->nsent > 0);
	return f->sent[f->nsent - 1].msg;
}

/* =================== server transactions =================== */

/* INVITE answers 100 Trying at once, copying the branch, with no To tag. */
static void test_stsx_invite_trying(void **state)
{
	struct fx *f = *state;
	run_to(f, 1000);
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	assert_int_equal(f->nsent, 1);
	const struct sip_msg *m = last_sent(f);
	assert_int_equal(m->scode, 100);
	assert_int_equal(f->sent[0].at, 1000);
	assert_true(pl_eq_str(&m->via.branch, "z9hG4bKinv1"));
	assert_true(pl_eq_str(&m->cseq.method, "INVITE"));
	assert_int_equal(m->to.tag.l, 0);
	assert_int_equal(f->sent[0].tp, SIP_TP_UDP);
	char a[64];
	assert_string_equal(sa_str(&f->sent[0].dst, a, sizeof(a)), "192.0.2.1:5060");
	assert_false(sip_stsx_is_final(t));
	assert_ptr_not_equal(sip_stsx_request(t), NULL);
	assert_true(pl_eq_str(&sip_stsx_request(t)->via.branch, "z9hG4bKinv1"));
	/* 100 Trying is not retransmitted and there is no timeout before a final */
	run_to(f, 200000);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
}

/* A non-INVITE server transaction sends nothing until the TU answers. */
static void test_stsx_non_invite_silent(void **state)
{
	struct fx *f = *state;
	struct req_spec r = base_invite;
	r.method = "OPTIONS";
	r.branch = "z9hG4bKopt1";
	struct sip_stsx *t = stsx_new(f, &r);
	assert_int_equal(f->nsent, 0);
	/* a retransmission in Trying is absorbed with nothing to resend */
	assert_true(offer(f, &r));
	assert_int_equal(f->nsent, 0);
	assert_int_equal(sip_stsx_reply(t, 180, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(last_sent(f)->scode, 180);
	assert_true(offer(f, &r));
	assert_int_equal(f->nsent, 2);
	assert_int_equal(last_sent(f)->scode, 180);
	/* ACK never creates a server transaction */
	struct req_spec ack = base_invite;
	ack.method = "ACK";
	struct sip_msg *m = req_parse(&ack);
	struct sip_stsx *t2 = NULL;
	assert_int_equal(sip_stsx_alloc(&t2, f->l, m), EINVAL);
	assert_null(t2);
	mem_deref(m);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
}

/* §17.2.1 over UDP: Timer G retransmits the non-2xx final at T1, 2T1, 4T1... capped
 * at T2; Timer H (64*T1) ends the transaction when no ACK comes. */
static void test_stsx_invite_timer_g_h(void **state)
{
	struct fx *f = *state;
	run_to(f, 10);
	struct sip_stsx *t = stsx_new(f, &base_invite);
	run_to(f, 110);
	assert_int_equal(sip_stsx_reply(t, 486, NULL, NULL, NULL, NULL), 0);
	assert_true(sip_stsx_is_final(t));
	const struct sip_msg *m = last_sent(f);
	assert_int_equal(m->scode, 486);
	assert_true(pl_eq_str(&m->to.tag, sip_stsx_totag(t)));
	assert_true(strlen(sip_stsx_totag(t)) >= 8);
	size_t base = f->nsent - 1;
	run_to(f, 110 + 32000 - 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	const uint64_t at[] = { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500 };
	uint64_t abs_at[sizeof(at) / sizeof(at[0])];
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		abs_at[i] = 110 + at[i];
	expect_sends(f, base, 486, NULL, abs_at, sizeof(at) / sizeof(at[0]));
	/* each retransmission is the same response, To tag included */
	for (size_t i = base; i < f->nsent; i++)
		assert_true(pl_eq_str(&f->sent[i].msg->to.tag, sip_stsx_totag(t)));
	run_to(f, 110 + 32000); /* Timer H */
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	size_t n = f->nsent;
	run_to(f, 200000);
	assert_int_equal(f->nsent, n);
}

/* The ACK of a non-2xx is absorbed: Completed -> Confirmed, Timer G stops, and
 * Timer I (T4 on UDP) absorbs further ACKs before the end. */
static void test_stsx_invite_ack_confirms(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_int_equal(sip_stsx_reply(t, 603, NULL, NULL, NULL, NULL), 0);
	run_to(f, 1600); /* retransmissions at 500 and 1500 */
	assert_int_equal(f->nsent, 4);
	struct req_spec ack = base_invite;
	ack.method = "ACK";
	char tag[32]; /* copied: it must outlive the transaction */
	snprintf(tag, sizeof(tag), "%s", sip_stsx_totag(t));
	ack.to_tag = tag;
	assert_true(offer(f, &ack));
	assert_int_equal(f->nsent, 4); /* an ACK is answered by nothing */
	run_to(f, 1600 + T4 - 1);
	assert_int_equal(f->nsent, 4); /* G stopped: no retransmission at 3500 */
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	assert_true(offer(f, &ack)); /* a retransmitted ACK, absorbed in Confirmed */
	assert_int_equal(f->nsent, 4);
	run_to(f, 1600 + T4); /* Timer I */
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	/* after the end, the same ACK is nobody's */
	assert_false(offer(f, &ack));
}

/* Over TCP: a non-2xx is never retransmitted; H still runs (64*T1), and I is 0. */
static void test_stsx_invite_tcp(void **state)
{
	struct fx *f = *state;
	struct req_spec r = base_invite;
	r.tp = SIP_TP_TCP;
	struct sip_stsx *t = stsx_new(f, &r);
	assert_int_equal(f->sent[0].tp, SIP_TP_TCP);
	assert_int_equal(sip_stsx_reply(t, 486, NULL, NULL, NULL, NULL), 0);
	run_to(f, 31999);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(f->nsent, 2);

	/* with an ACK: Timer I is 0, the transaction ends at the next tick of the clock */
	r.branch = "z9hG4bKinv2";
	r.cseq = 2;
	t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 404, NULL, NULL, NULL, NULL), 0);
	run_to(f, 33000);
	struct req_spec ack = r;
	ack.method = "ACK";
	ack.to_tag = sip_stsx_totag(t);
	assert_true(offer(f, &ack));
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 33000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(f->nsent, 4);
	/* a 2xx is retransmitted even over TCP (RFC 3261 §13.3.1.4: a later hop may
	 * be UDP) at T1 doubling to T2: +500, 1500, 3500, 7500, then every 4000 up to
	 * 31500, ten in all before Timer L */
	r.branch = "z9hG4bKinv3";
	r.cseq = 3;
	t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	run_to(f, 33000 + 31999);
	assert_int_equal(f->nsent, 16);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 33000 + 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* A retransmitted request is absorbed and the last response sent again, to where
 * the retransmission came from. */
static void test_stsx_retransmission_absorbed(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_true(offer(f, &base_invite));
	assert_int_equal(f->nsent, 2);
	assert_int_equal(last_sent(f)->scode, 100);
	assert_int_equal(sip_stsx_reply(t, 180, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(sip_stsx_reply(t, 183, NULL, NULL, NULL, NULL), 0);
	assert_true(offer(f, &base_invite));
	assert_int_equal(f->nsent, 5);
	assert_int_equal(last_sent(f)->scode, 183);
	assert_true(pl_eq_str(&last_sent(f)->to.tag, sip_stsx_totag(t)));
	assert_int_equal(sip_stsx_reply(t, 486, NULL, NULL, NULL, NULL), 0);
	run_to(f, 100);
	assert_true(offer(f, &base_invite));
	assert_int_equal(f->nsent, 7);
	assert_int_equal(last_sent(f)->scode, 486);
	assert_int_equal(f->sent[6].at, 100);
	/* the new source address is where the answer goes */
	struct sip_msg *m = req_parse(&base_invite);
	assert_int_equal(sa_set(&m->src.addr, "192.0.2.7", 5099), 0);
	assert_true(sip_tsx_request_absorb(f->l, m));
	mem_deref(m);
	char a[64];
	assert_string_equal(sa_str(&f->sent[f->nsent - 1].dst, a, sizeof(a)), "192.0.2.7:5099");
	/* the same branch from another sent-by, or another method, is not ours */
	struct req_spec other = base_invite;
	other.sentby = "192.0.2.2:5060";
	assert_false(offer(f, &other));
	other = base_invite;
	other.method = "BYE";
	assert_false(offer(f, &other));
	other = base_invite;
	other.branch = "z9hG4bKinvX";
	assert_false(offer(f, &other));
	other = base_invite;
	other.callid = "call-2@192.0.2.1";
	assert_false(offer(f, &other));
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
}

/* RFC 6026: a 2xx to INVITE is Accepted and retransmitted (T1 doubling to T2)
 * until an ACK with the right To tag arrives; that ACK belongs to the TU. */
static void test_stsx_accepted_2xx(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, "Contact: <sip:bob@192.0.2.20>\r\n", "application/sdp",
				       &PL("v=0\r\n")), 0);
	const struct sip_msg *ok = last_sent(f);
	assert_int_equal(ok->scode, 200);
	assert_true(pl_eq_str(&ok->to.tag, sip_stsx_totag(t)));
	assert_true(pl_eq_str(&ok->body, "v=0\r\n"));
	run_to(f, 8000);
	const uint64_t at[] = { 0, 500, 1500, 3500, 7500 };
	expect_sends(f, 1, 200, NULL, at, 5);
	/* an ACK with another To tag stops nothing */
	struct req_spec ack = base_invite;
	ack.method = "ACK";
	ack.branch = "z9hG4bKack1"; /* the 2xx ACK is a transaction of its own */
	ack.to_tag = "not-the-tag";
	assert_false(offer(f, &ack));
	run_to(f, 11500);
	assert_int_equal(f->nsent, 7);
	assert_int_equal(last_sent(f)->scode, 200);
	assert_int_equal(f->sent[6].at, 11500);
	/* a retransmitted INVITE is still absorbed */
	assert_true(offer(f, &base_invite));
	size_t n = f->nsent;
	/* the right ACK: not absorbed (the TU sees it), and retransmissions stop */
	ack.to_tag = sip_stsx_totag(t);
	assert_false(offer(f, &ack));
	run_to(f, 31999);
	assert_int_equal(f->nsent, n);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	/* a repeated ACK still goes to the TU */
	assert_false(offer(f, &ack));
	run_to(f, 32000); /* Timer L */
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* Without an ACK, the 2xx is retransmitted at T2 intervals until Timer L. */
static void test_stsx_accepted_no_ack(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	run_to(f, 40000);
	const uint64_t at[] = { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500 };
	expect_sends(f, 1, 200, NULL, at, sizeof(at) / sizeof(at[0]));
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* An in-dialog re-INVITE (To tag present): its ACK carries the same tag. */
static void test_stsx_accepted_reinvite(void **state)
{
	struct fx *f = *state;
	struct req_spec r = base_invite;
	r.to_tag = "dlg-tag";
	r.cseq = 7;
	struct sip_stsx *t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	assert_true(pl_eq_str(&last_sent(f)->to.tag, "dlg-tag"));
	struct req_spec ack = r;
	ack.method = "ACK";
	ack.branch = "z9hG4bKack7";
	assert_false(offer(f, &ack));
	run_to(f, 31999);
	assert_int_equal(f->nsent, 2); /* 100 and 200, never retransmitted */
}

/* §17.2.2: non-INVITE over UDP: Completed resends the final on retransmissions,
 * never on a timer, and Timer J (64*T1) ends it; over TCP J is 0. */
static void test_stsx_non_invite_timer_j(void **state)
{
	struct fx *f = *state;
	struct req_spec r = base_invite;
	r.method = "BYE";
	r.branch = "z9hG4bKbye1";
	r.cseq = 2;
	run_to(f, 1000);
	struct sip_stsx *t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	assert_true(sip_stsx_is_final(t));
	assert_int_equal(f->nsent, 1);
	assert_true(pl_eq_str(&last_sent(f)->cseq.method, "BYE"));
	run_to(f, 20000);
	assert_int_equal(f->nsent, 1);
	assert_true(offer(f, &r));
	assert_int_equal(f->nsent, 2);
	assert_int_equal(last_sent(f)->scode, 200);
	run_to(f, 1000 + 32000 - 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 1000 + 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_false(offer(f, &r)); /* now a new request */

	r.tp = SIP_TP_TCP;
	r.branch = "z9hG4bKbye2";
	t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, f->th.now);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* When 100 Trying cannot be sent, there is no transaction: the caller forgets it,
 * so the layer must not keep it (it would live forever, absorbing every
 * retransmission of the INVITE). */
static void test_stsx_trying_send_fails(void **state)
{
	struct fx *f = *state;
	f->send_err = ECONNRESET;
	struct sip_msg *m = req_parse(&base_invite);
	struct sip_stsx *t = NULL;
	assert_int_equal(sip_stsx_alloc(&t, f->l, m), ECONNRESET);
	assert_null(t);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(tmr_heap_count(&f->th), 0);
	/* the retransmission is a new request, and this time it works */
	f->send_err = 0;
	assert_false(sip_tsx_request_absorb(f->l, m));
	assert_int_equal(sip_stsx_alloc(&t, f->l, m), 0);
	assert_non_null(t);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	mem_deref(m);
	/* a failed send of a final still moves the transaction on (timers retry it) */
	f->send_err = EAGAIN;
	assert_int_equal(sip_stsx_reply(t, 486, NULL, NULL, NULL, NULL), EAGAIN);
	assert_true(sip_stsx_is_final(t));
	f->send_err = 0;
	size_t n = f->nsent;
	run_to(f, 500);
	assert_int_equal(f->nsent, n + 1);
	assert_int_equal(last_sent(f)->scode, 486);
}

/* After a final, the TU cannot answer again; codes outside 100..699 are refused. */
static void test_stsx_reply_after_final(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_int_equal(sip_stsx_reply(t, 99, NULL, NULL, NULL, NULL), EINVAL);
	assert_int_equal(sip_stsx_reply(t, 700, NULL, NULL, NULL, NULL), EINVAL);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(sip_stsx_reply(t, 480, "Gone Fishing", NULL, NULL, NULL), 0);
	assert_true(pl_eq_str(&last_sent(f)->reason, "Gone Fishing"));
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), EALREADY);
	assert_int_equal(sip_stsx_reply(t, 180, NULL, NULL, NULL, NULL), EALREADY);
	assert_int_equal(f->nsent, 2);

	struct req_spec r = base_invite;
	r.method = "OPTIONS";
	r.branch = "z9hG4bKo2";
	t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), EALREADY);
	assert_int_equal(f->nsent, 3);

	r.branch = "z9hG4bKo3";
	r.cseq = 9;
	t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(sip_stsx_reply(t, 500, NULL, NULL, NULL, NULL), EALREADY);
}

/* §9.2: a CANCEL finds the INVITE server transaction by branch (and sent-by). */
static void test_stsx_cancel_target(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	struct req_spec other = base_invite;
	other.method = "OPTIONS";
	other.branch = "z9hG4bKopt9";
	struct sip_stsx *o = stsx_new(f, &other);
	(void)o;
	struct req_spec c = base_invite;
	c.method = "CANCEL";
	struct sip_msg *m = req_parse(&c);
	assert_ptr_equal(sip_tsx_cancel_target(f->l, m), t);
	/* the CANCEL is a transaction of its own, not a retransmission of the INVITE */
	assert_false(sip_tsx_request_absorb(f->l, m));
	mem_deref(m);

	c.branch = "z9hG4bKother";
	m = req_parse(&c);
	assert_null(sip_tsx_cancel_target(f->l, m));
	mem_deref(m);

	c = base_invite;
	c.method = "CANCEL";
	c.sentby = "192.0.2.3:5060";
	m = req_parse(&c);
	assert_null(sip_tsx_cancel_target(f->l, m));
	mem_deref(m);

	/* a CANCEL that names a non-INVITE transaction targets nothing */
	c = other;
	c.method = "CANCEL";
	m = req_parse(&c);
	assert_null(sip_tsx_cancel_target(f->l, m));
	mem_deref(m);

	/* the CANCEL's own transaction coexists with the INVITE one */
	c = base_invite;
	c.method = "CANCEL";
	struct sip_stsx *ct = stsx_new(f, &c);
	assert_int_equal(sip_stsx_reply(ct, 200, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(sip_stsx_reply(t, 487, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(f->sent[f->nsent - 2].msg->scode, 200);
	assert_true(pl_eq_str(&f->sent[f->nsent - 2].msg->cseq.method, "CANCEL"));
	assert_int_equal(last_sent(f)->scode, 487);
	assert_true(pl_eq_str(&last_sent(f)->cseq.method, "INVITE"));
	assert_int_equal(sip_tsx_layer_count(f->l), 3);
	/* a retransmitted CANCEL is absorbed by its own transaction */
	m = req_parse(&c);
	assert_true(sip_tsx_request_absorb(f->l, m)); /* a retransmitted CANCEL */
	mem_deref(m);
}

/* §17.2.3: without the magic cookie, RFC 2543's rules match: same Request-URI,
 * From tag, Call-ID, CSeq and top Via (and To tag). */
static void test_stsx_rfc2543_matching(void **state)
{
	struct fx *f = *state;
	struct req_spec r = base_invite;
	r.branch = NULL;
	struct sip_stsx *t = stsx_new(f, &r);
	assert_true(offer(f, &r));
	assert_int_equal(f->nsent, 2);
	struct req_spec x;
	x = r;
	x.ruri = "sip:carol@pbx.example.com";
	assert_false(offer(f, &x));
	x = r;
	x.from_tag = "ft2";
	assert_false(offer(f, &x));
	x = r;
	x.callid = "call-9@192.0.2.1";
	assert_false(offer(f, &x));
	x = r;
	x.cseq = 2;
	assert_false(offer(f, &x));
	x = r;
	x.sentby = "192.0.2.1:5062";
	assert_false(offer(f, &x));
	x = r;
	x.branch = "1234"; /* an old-style branch is part of the Via */
	assert_false(offer(f, &x));
	x = r;
	x.to_tag = "xyz";
	assert_false(offer(f, &x));
	assert_int_equal(f->nsent, 2);
	/* the ACK of a non-2xx: To tag from the response, no R-URI check needed */
	assert_int_equal(sip_stsx_reply(t, 486, NULL, NULL, NULL, NULL), 0);
	x = r;
	x.method = "ACK";
	x.to_tag = "wrong";
	assert_false(offer(f, &x));
	x.to_tag = sip_stsx_totag(t);
	x.ruri = "sip:carol@pbx.example.com"; /* the ACK must share the Request-URI too */
	assert_false(offer(f, &x));
	x.ruri = r.ruri;
	assert_true(offer(f, &x));
	run_to(f, T4 - 1);
	assert_int_equal(f->nsent, 3); /* G stopped by the ACK */
	run_to(f, T4);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);

	/* and a CANCEL finds an RFC 2543 INVITE by the same rules */
	r.cseq = 5;
	t = stsx_new(f, &r);
	x = r;
	x.method = "CANCEL";
	struct sip_msg *m = req_parse(&x);
	assert_ptr_equal(sip_tsx_cancel_target(f->l, m), t);
	mem_deref(m);
	x.from_tag = "ft9";
	m = req_parse(&x);
	assert_null(sip_tsx_cancel_target(f->l, m));
	mem_deref(m);
}

/* =================== client transactions =================== */

struct rx {
	int calls;
	int err;
	uint16_t codes[16];
	uint64_t at[16];
	int errs;
	uint64_t err_at;
	struct fx *f;
};

static void rx_h(int err, const struct sip_msg *resp, void *arg)
{
	struct rx *r = arg;
	assert_true(r->calls < 16);
	if (err) {
		assert_null(resp);
		r->errs++;
		r->err = err;
		r->err_at = r->f->th.now;
	} else {
		assert_non_null(resp);
		r->codes[r->calls] = resp->scode;
		r->at[r->calls] = r->f->th.now;
	}
	r->calls++;
}

static struct sip_ctsx *ctsx_new(struct fx *f, const char *method, const char *branch, enum sip_transport_kind tp,
				 struct rx *r)
{
	struct mbuf *mb = mbuf_alloc(512, 0);
	assert_non_null(mb);
	struct sip_req_spec spec = {
		.method = method, .ruri = "sip:carol@192.0.2.50", .via_transport = tp == SIP_TP_TCP ? "TCP" : "UDP",
		.via_sentby = "192.0.2.99:5060", .branch = branch, .from = "<sip:pbx@pbx.example.com>",
		.from_tag = "ours", .to = "<sip:carol@192.0.2.50>", .callid = "out-1@192.0.2.99", .cseq = 1,
	};
	assert_int_equal(sip_print_request(mb, &spec), 0);
	struct sip_peer dst;
	memset(&dst, 0, sizeof(dst));
	dst.tp = tp;
	assert_int_equal(sa_set(&dst.addr, "192.0.2.50", 5060), 0);
	struct sip_ctsx *t = NULL;
	memset(r, 0, sizeof(*r));
	r->f = f;
	assert_int_equal(sip_ctsx_send(&t, f->l, &dst, mb, rx_h, r), 0);
	mem_deref(mb); /* the transaction keeps a reference for retransmissions */
	assert_non_null(t);
	return t;
}

/* §17.1.1.2 over UDP: Timer A at T1 doubling without bound (500, 1500, 3500,
 * 7500, 15500, 31500), Timer B at 64*T1 reports ETIMEDOUT once. */
static void test_ctsx_invite_timer_a_b(void **state)
{
	struct fx *f = *state;
	run_to(f, 40);
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKc1", SIP_TP_UDP, &r);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 40 + 32000 - 1);
	const uint64_t rel[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
	uint64_t at[7];
	for (size_t i = 0; i < 7; i++)
		at[i] = 40 + rel[i];
	expect_sends(f, 0, 0, "INVITE", at, 7);
	for (size_t i = 0; i < f->nsent; i++)
		assert_true(pl_eq_str(&f->sent[i].msg->via.branch, "z9hG4bKc1"));
	assert_int_equal(f->sent[0].tp, SIP_TP_UDP);
	assert_int_equal(r.calls, 0);
	run_to(f, 40 + 32000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.errs, 1);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(r.err_at, 40 + 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	run_to(f, 200000);
	assert_int_equal(f->nsent, 7);
	assert_int_equal(r.calls, 1);
	/* a late response has no transaction */
	assert_false(feed(f, 486, "z9hG4bKc1", "INVITE", 1, "tt"));
}

/* Over TCP the INVITE is sent once; Timer B still applies. */
static void test_ctsx_invite_tcp(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKc2", SIP_TP_TCP, &r);
	run_to(f, 31999);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->sent[0].tp, SIP_TP_TCP);
	assert_int_equal(r.calls, 0);
	run_to(f, 32000);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(r.err_at, 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* §17.1.2.2 over UDP: Timer E doubles from T1 and is capped at T2; Timer F at
 * 64*T1 reports ETIMEDOUT. */
static void test_ctsx_non_invite_timer_e_f(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "OPTIONS", "z9hG4bKc3", SIP_TP_UDP, &r);
	run_to(f, 31999);
	const uint64_t at[] = { 0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500 };
	expect_sends(f, 0, 0, "OPTIONS", at, sizeof(at) / sizeof(at[0]));
	assert_int_equal(r.calls, 0);
	run_to(f, 32000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(r.err_at, 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	run_to(f, 100000);
	assert_int_equal(f->nsent, sizeof(at) / sizeof(at[0]));
}

/* Non-INVITE: a 1xx moves to Proceeding (retransmissions go on, at T2), then
 * the final; Timer K is T4 on UDP, retransmitted finals are absorbed. */
static void test_ctsx_non_invite_1xx_then_final(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "REGISTER", "z9hG4bKc4", SIP_TP_UDP, &r);
	run_to(f, 600);
	assert_true(feed(f, 100, "z9hG4bKc4", "REGISTER", 1, NULL));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 100);
	run_to(f, 10000);
	/* 1500 was armed before the 1xx; from then on T2 */
	const uint64_t at[] = { 0, 500, 1500, 5500, 9500 };
	expect_sends(f, 0, 0, "REGISTER", at, 5);
	assert_true(feed(f, 200, "z9hG4bKc4", "REGISTER", 1, "tt4"));
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.codes[1], 200);
	assert_int_equal(r.at[1], 10000);
	assert_int_equal(r.errs, 0);
	/* Completed: retransmitted finals are ours but reach nobody */
	assert_true(feed(f, 200, "z9hG4bKc4", "REGISTER", 1, "tt4"));
	assert_true(feed(f, 100, "z9hG4bKc4", "REGISTER", 1, NULL));
	assert_int_equal(r.calls, 2);
	run_to(f, 10000 + T4 - 1);
	assert_int_equal(f->nsent, 5); /* no retransmission after the final */
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 10000 + T4); /* Timer K */
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_false(feed(f, 200, "z9hG4bKc4", "REGISTER", 1, "tt4"));
	run_to(f, 100000);
	assert_int_equal(r.calls, 2);
}

/* Non-INVITE over TCP: no retransmissions, and Timer K is 0. */
static void test_ctsx_non_invite_tcp(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "OPTIONS", "z9hG4bKc5", SIP_TP_TCP, &r);
	run_to(f, 20000);
	assert_int_equal(f->nsent, 1);
	assert_true(feed(f, 200, "z9hG4bKc5", "OPTIONS", 1, "t5"));
	assert_int_equal(r.calls, 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 20000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);

	/* and Timer F over TCP */
	ctsx_new(f, "OPTIONS", "z9hG4bKc6", SIP_TP_TCP, &r);
	run_to(f, 20000 + 31999);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(r.calls, 0);
	run_to(f, 20000 + 32000);
	assert_int_equal(r.err, ETIMEDOUT);
}

/* §17.1.1.3: a non-2xx final to INVITE is ACKed by the transaction (same branch,
 * To with the response's tag, CSeq number with ACK), again for each
 * retransmission of the final; a 1xx stops Timer A (and B); Timer D is 32 s. */
static void test_ctsx_invite_non2xx_ack(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKc7", SIP_TP_UDP, &r);
	run_to(f, 700); /* one retransmission at 500 */
	assert_int_equal(f->nsent, 2);
	assert_true(feed(f, 180, "z9hG4bKc7", "INVITE", 1, "tt7"));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 180);
	run_to(f, 60000); /* Proceeding: no retransmission, no Timer B */
	assert_int_equal(f->nsent, 2);
	assert_int_equal(r.calls, 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	assert_true(feed(f, 486, "z9hG4bKc7", "INVITE", 1, "tt7"));
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.codes[1], 486);
	assert_int_equal(f->nsent, 3);
	const struct sip_msg *ack = last_sent(f);
	assert_true(ack->req);
	assert_int_equal(ack->mid, SIP_ACK);
	assert_true(pl_eq_str(&ack->ruri_raw, "sip:carol@192.0.2.50"));
	assert_true(pl_eq_str(&ack->via.branch, "z9hG4bKc7"));
	assert_true(pl_eq_str(&ack->to.tag, "tt7"));
	assert_true(pl_eq_str(&ack->from.tag, "ours"));
	assert_true(pl_eq_str(&ack->callid, "out-1@192.0.2.99"));
	assert_int_equal(ack->cseq.num, 1);
	assert_true(pl_eq_str(&ack->cseq.method, "ACK"));
	assert_int_equal(f->sent[2].at, 60000);
	char a[64];
	assert_string_equal(sa_str(&f->sent[2].dst, a, sizeof(a)), "192.0.2.50:5060");
	/* the final retransmitted: ACKed again, the TU is not told twice */
	run_to(f, 61000);
	assert_true(feed(f, 486, "z9hG4bKc7", "INVITE", 1, "tt7"));
	assert_int_equal(f->nsent, 4);
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
	assert_true(pl_eq_str(&last_sent(f)->to.tag, "tt7"));
	assert_int_equal(f->sent[3].at, 61000);
	assert_int_equal(r.calls, 2);
	/* a 1xx late is absorbed too */
	assert_true(feed(f, 180, "z9hG4bKc7", "INVITE", 1, "tt7"));
	assert_int_equal(r.calls, 2);
	run_to(f, 60000 + 32000 - 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 60000 + 32000); /* Timer D */
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(f->nsent, 4);
}

/* A final straight from Calling, over TCP: Timer D is 0. */
static void test_ctsx_invite_non2xx_tcp(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKc8", SIP_TP_TCP, &r);
	run_to(f, 100);
	assert_true(feed(f, 503, "z9hG4bKc8", "INVITE", 1, "tt8"));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 503);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
	assert_int_equal(f->sent[1].tp, SIP_TP_TCP);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 100);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(f->nsent, 2);
}

/* RFC 6026 §8.4: a 2xx moves to Accepted; 2xx retransmissions still reach the TU
 * (the ACK of a 2xx is the TU's business, the transaction sends none), and
 * Timer M (64*T1) ends it. */
static void test_ctsx_invite_2xx_accepted(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKc9", SIP_TP_UDP, &r);
	run_to(f, 1000);
	assert_int_equal(f->nsent, 2);
	assert_true(feed(f, 200, "z9hG4bKc9", "INVITE", 1, "tt9"));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 200);
	run_to(f, 2000);
	assert_true(feed(f, 200, "z9hG4bKc9", "INVITE", 1, "tt9"));
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.codes[1], 200);
	/* a 2xx from another fork (another To tag) too */
	assert_true(feed(f, 200, "z9hG4bKc9", "INVITE", 1, "fork2"));
	assert_int_equal(r.calls, 3);
	/* but not a stray non-2xx */
	assert_true(feed(f, 486, "z9hG4bKc9", "INVITE", 1, "tt9"));
	assert_int_equal(r.calls, 3);
	assert_int_equal(f->nsent, 2); /* no ACK, no retransmission (A stopped at 1000) */
	run_to(f, 1000 + 32000 - 1);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 1000 + 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(r.errs, 0);
}

/* Responses are matched by branch and CSeq method; anything else finds nothing. */
static void test_ctsx_response_matching(void **state)
{
	struct fx *f = *state;
	assert_false(feed(f, 200, "z9hG4bKnothing", "OPTIONS", 1, "t"));
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKm1", SIP_TP_UDP, &r);
	assert_false(feed(f, 200, "z9hG4bKm2", "INVITE", 1, "t"));
	assert_false(feed(f, 200, "z9hG4bKm1", "CANCEL", 1, "t"));
	assert_false(feed(f, 200, "z9hG4bKm1x", "INVITE", 1, "t"));
	assert_int_equal(r.calls, 0);
	assert_true(feed(f, 180, "z9hG4bKm1", "INVITE", 1, "t"));
	assert_int_equal(r.calls, 1);
	/* a CANCEL shares the INVITE's branch and is told apart by CSeq method */
	struct rx rc;
	ctsx_new(f, "CANCEL", "z9hG4bKm1", SIP_TP_UDP, &rc);
	assert_int_equal(sip_tsx_layer_count(f->l), 2);
	assert_true(feed(f, 200, "z9hG4bKm1", "CANCEL", 1, "t"));
	assert_int_equal(rc.calls, 1);
	assert_int_equal(rc.codes[0], 200);
	assert_int_equal(r.calls, 1);
	assert_true(feed(f, 487, "z9hG4bKm1", "INVITE", 1, "t"));
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.codes[1], 487);
	assert_int_equal(rc.calls, 1);
	run_to(f, 40000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* An abandoned transaction finishes alone without calling its handler. */
static void test_ctsx_abandon(void **state)
{
	struct fx *f = *state;
	struct rx r;
	struct sip_ctsx *t = ctsx_new(f, "OPTIONS", "z9hG4bKab", SIP_TP_UDP, &r);
	sip_ctsx_abandon(t);
	sip_ctsx_abandon(NULL);
	run_to(f, 40000);
	assert_int_equal(r.calls, 0);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(f->nsent, 11); /* it still retransmitted until Timer F */
}

/* Refused requests and a failing transport. */
static void test_ctsx_send_errors(void **state)
{
	struct fx *f = *state;
	struct sip_peer dst;
	memset(&dst, 0, sizeof(dst));
	assert_int_equal(sa_set(&dst.addr, "192.0.2.50", 5060), 0);
	struct rx r = { .f = f };
	struct sip_ctsx *t = NULL;
	struct mbuf *mb = mbuf_alloc(256, 0);
	/* not a branch with the magic cookie */
	assert_int_equal(mbuf_write_str(mb, "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=123\r\n"
					    "From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
					    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(sip_ctsx_send(&t, f->l, &dst, mb, rx_h, &r), EINVAL);
	mbuf_reset(mb);
	/* an ACK is never a client transaction */
	assert_int_equal(mbuf_write_str(mb, "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\r\n"
					    "From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\n"
					    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(sip_ctsx_send(&t, f->l, &dst, mb, rx_h, &r), EINVAL);
	mbuf_reset(mb);
	assert_int_equal(mbuf_write_str(mb, "garbage\r\n\r\n"), 0);
	assert_int_equal(sip_ctsx_send(&t, f->l, &dst, mb, rx_h, &r), EINVAL);
	mem_deref(mb);
	assert_null(t);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(f->nsent, 0);

	/* the transport fails at once: an error, no transaction */
	f->send_err = ENETUNREACH;
	mb = mbuf_alloc(512, 0);
	struct sip_req_spec spec = {
		.method = "OPTIONS", .ruri = "sip:a@b", .via_transport = "UDP", .via_sentby = "h",
		.branch = "z9hG4bKe1", .from = "<sip:x@y>", .from_tag = "1", .to = "<sip:a@b>", .callid = "c",
		.cseq = 1,
	};
	assert_int_equal(sip_print_request(mb, &spec), 0);
	assert_int_equal(sip_ctsx_send(&t, f->l, &dst, mb, rx_h, &r), ENETUNREACH);
	assert_null(t);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(tmr_heap_count(&f->th), 0);
	/* it fails on a retransmission: the handler hears EIO, once */
	f->send_err = 0;
	assert_int_equal(sip_ctsx_send(&t, f->l, &dst, mb, rx_h, &r), 0);
	f->send_err = EIO;
	run_to(f, 500);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, EIO);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	run_to(f, 40000);
	assert_int_equal(r.calls, 1);
	mem_deref(mb);
}

/* =================== the layer =================== */

/* Many transactions of every kind, all run to their end: the count returns to 0. */
static void test_layer_count_returns_to_zero(void **state)
{
	struct fx *f = *state;
	struct rx rs[8];
	char br[32], cid[32];
	for (unsigned i = 0; i < 40; i++) {
		struct req_spec r = base_invite;
		snprintf(br, sizeof(br), "z9hG4bKmany%u", i);
		snprintf(cid, sizeof(cid), "many-%u@192.0.2.1", i);
		r.branch = br;
		r.callid = cid;
		r.method = i % 2 ? "INVITE" : "MESSAGE";
		r.tp = i % 3 ? SIP_TP_UDP : SIP_TP_TCP;
		struct sip_stsx *t = stsx_new(f, &r);
		if (i % 5)
			assert_int_equal(sip_stsx_reply(t, (uint16_t)(i % 4 ? 200 : 404), NULL, NULL, NULL, NULL), 0);
	}
	for (unsigned i = 0; i < 8; i++) {
		sip_branch_new(br, sizeof(br));
		struct pl b = pl_cstr(br);
		assert_true(sip_branch_is_3261(&b));
		ctsx_new(f, i % 2 ? "INVITE" : "INFO", br, i % 3 ? SIP_TP_UDP : SIP_TP_TCP, &rs[i]);
	}
	assert_int_equal(sip_tsx_layer_count(f->l), 48);
	run_to(f, 100000);
	/* left: the 8 server transactions the TU never answered */
	assert_int_equal(sip_tsx_layer_count(f->l), 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rs[i].err, ETIMEDOUT);
}

/* Freeing the layer with live transactions of every state releases everything
 * (run under ASan to see leaks) and disarms every timer. */
static void test_layer_free_with_live_tsx(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	struct req_spec r = base_invite;
	r.branch = "z9hG4bKlive2";
	r.cseq = 2;
	t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 486, NULL, NULL, NULL, NULL), 0);
	r.branch = "z9hG4bKlive3";
	r.cseq = 3;
	stsx_new(f, &r); /* Proceeding */
	struct rx r1, r2, r3;
	ctsx_new(f, "INVITE", "z9hG4bKlc1", SIP_TP_UDP, &r1);
	ctsx_new(f, "INVITE", "z9hG4bKlc2", SIP_TP_UDP, &r2);
	assert_true(feed(f, 486, "z9hG4bKlc2", "INVITE", 1, "x")); /* Completed, holds an ACK */
	ctsx_new(f, "BYE", "z9hG4bKlc3", SIP_TP_UDP, &r3);
	run_to(f, 1000);
	assert_int_equal(sip_tsx_layer_count(f->l), 6);
	assert_true(tmr_heap_count(&f->th) > 0);
	/* teardown frees the layer and checks the heap is empty */
}

/* Two layers on one clock are independent, and their tags differ. */
static void test_layer_tags_differ(void **state)
{
	struct fx *f = *state;
	struct sip_stsx *a = stsx_new(f, &base_invite);
	struct req_spec r = base_invite;
	r.branch = "z9hG4bKtag2";
	struct sip_stsx *b = stsx_new(f, &r);
	assert_string_not_equal(sip_stsx_totag(a), sip_stsx_totag(b));
	char b1[40], b2[40];
	sip_branch_new(b1, sizeof(b1));
	sip_branch_new(b2, sizeof(b2));
	assert_string_not_equal(b1, b2);
	assert_true(strncmp(b1, "z9hG4bK", 7) == 0);
	assert_true(strlen(b1) > 7 + 8);
}

/* Custom timer values are honoured (T1 = 100, T2 = 400, T4 = 1000). */
static void test_layer_custom_timers(void **state)
{
	(void)state;
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	tmr_heap_init(&f->th, 0);
	struct sip_tsx_timers tm = { 100, 400, 1000, 0 };
	assert_int_equal(sip_tsx_layer_alloc(&f->l, &f->th, &tm, fake_send, f), 0);
	struct rx r;
	ctsx_new(f, "OPTIONS", "z9hG4bKct", SIP_TP_UDP, &r);
	run_to(f, 64 * 100 - 1);
	const uint64_t at[] = { 0, 100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100, 3500, 3900, 4300,
				4700, 5100, 5500, 5900, 6300 };
	expect_sends(f, 0, 0, "OPTIONS", at, sizeof(at) / sizeof(at[0]));
	run_to(f, 6400);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(r.err_at, 6400);
	void *st = f;
	assert_int_equal(teardown(&st), 0);
}

/* Requests that share Call-ID and CSeq but not the branch are separate
 * transactions (RFC 3261 §17.2.3 matches on the branch), each absorbing only its
 * own retransmissions; and the layer refuses past its cap. */
static void test_layer_branch_keys_and_cap(void **state)
{
	struct fx *f = *state;
	char br[32];
	struct req_spec r = base_invite;
	r.method = "MESSAGE";
	for (unsigned i = 0; i < 500; i++) {
		snprintf(br, sizeof(br), "z9hG4bKsame%u", i);
		r.branch = br;
		struct sip_stsx *t = stsx_new(f, &r);
		assert_int_equal(sip_stsx_reply(t, 202, NULL, NULL, NULL, NULL), 0);
	}
	assert_int_equal(sip_tsx_layer_count(f->l), 500);
	size_t before = f->nsent;
	r.branch = "z9hG4bKsame123";
	assert_true(offer(f, &r)); /* a retransmission of one of them */
	assert_int_equal(f->nsent, before + 1);
	r.branch = "z9hG4bKsame500";
	assert_false(offer(f, &r)); /* a new one */

	sip_tsx_layer_max_set(f->l, 501);
	struct sip_msg *m = req_parse(&r);
	struct sip_stsx *t = NULL;
	assert_int_equal(sip_stsx_alloc(&t, f->l, m), 0);
	r.branch = "z9hG4bKsame501";
	struct sip_msg *m2 = req_parse(&r);
	struct sip_stsx *t2 = NULL;
	assert_int_equal(sip_stsx_alloc(&t2, f->l, m2), EAGAIN);
	assert_null(t2);
	assert_int_equal(sip_tsx_layer_count(f->l), 501);
	mem_deref(m);
	mem_deref(m2);
}

/* A CANCEL tells a TU that asked, and the TU answers 487 itself; without a
 * handler the layer answers 487. */
static void cancel_seen(struct sip_stsx *t, void *arg)
{
	int *seen = arg;
	(*seen)++;
	assert_int_equal(sip_stsx_reply(t, 487, NULL, NULL, NULL, NULL), 0);
}

static void test_stsx_cancel_handler(void **state)
{
	struct fx *f = *state;
	int seen = 0;
	struct sip_stsx *t = stsx_new(f, &base_invite);
	sip_stsx_cancel_handler_set(t, cancel_seen, &seen);
	struct req_spec c = base_invite;
	c.method = "CANCEL";
	struct sip_msg *m = req_parse(&c);
	struct sip_stsx *inv = sip_tsx_cancel_target(f->l, m);
	assert_ptr_equal(inv, t);
	sip_stsx_cancel(inv, NULL);
	assert_int_equal(seen, 1);
	assert_true(sip_stsx_is_final(t));
	assert_int_equal(f->sent[f->nsent - 1].msg->scode, 487);
	mem_deref(m);

	struct req_spec r2 = base_invite;
	r2.branch = "z9hG4bKinv2";
	r2.cseq = 2;
	struct sip_stsx *t2 = stsx_new(f, &r2);
	sip_stsx_cancel(t2, NULL);
	assert_true(sip_stsx_is_final(t2));
	assert_int_equal(f->sent[f->nsent - 1].msg->scode, 487);
}

/* =================== Timer C, transport errors, merged requests =================== */

/* Timer C (RFC 3261 §16.6 item 11): after a provisional, no final for Timer C
 * (180 s by default, restarted by each provisional) CANCELs the INVITE (same
 * branch, CSeq method CANCEL), tells the TU ETIME once, ACKs the 487 that
 * follows without telling the TU, and everything ends. */
static void test_ctsx_invite_timer_c(void **state)
{
	struct fx *f = *state;
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKtc1", SIP_TP_UDP, &r);
	run_to(f, 1000);
	assert_true(feed(f, 180, "z9hG4bKtc1", "INVITE", 1, "ttc"));
	run_to(f, 100000);
	assert_true(feed(f, 183, "z9hG4bKtc1", "INVITE", 1, "ttc")); /* restarts Timer C */
	run_to(f, 100000 + SIP_TSX_TIMER_C - 1);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.errs, 0);
	size_t before = f->nsent;
	run_to(f, 100000 + SIP_TSX_TIMER_C);
	assert_int_equal(r.calls, 3);
	assert_int_equal(r.errs, 1);
	assert_int_equal(r.err, ETIME);
	assert_int_equal(r.err_at, 100000 + SIP_TSX_TIMER_C);
	assert_int_equal(f->nsent, before + 1);
	const struct sip_msg *c = last_sent(f);
	assert_true(c->req);
	assert_int_equal(c->mid, SIP_CANCEL);
	assert_true(pl_eq_str(&c->via.branch, "z9hG4bKtc1"));
	assert_true(pl_eq_str(&c->cseq.method, "CANCEL"));
	assert_int_equal(c->cseq.num, 1);
	assert_true(pl_eq_str(&c->ruri_raw, "sip:carol@192.0.2.50"));
	assert_int_equal(c->to.tag.l, 0);
	assert_int_equal(sip_tsx_layer_count(f->l), 2); /* the INVITE and its CANCEL */
	/* the CANCEL is a client transaction: retransmitted over UDP until answered */
	run_to(f, 100000 + SIP_TSX_TIMER_C + 500);
	assert_int_equal(f->nsent, before + 2);
	assert_int_equal(last_sent(f)->mid, SIP_CANCEL);
	assert_true(feed(f, 200, "z9hG4bKtc1", "CANCEL", 1, "ttc"));
	/* a late 180 does not restart Timer C; the 487 is ACKed, the TU hears nothing */
	assert_true(feed(f, 180, "z9hG4bKtc1", "INVITE", 1, "ttc"));
	assert_true(feed(f, 487, "z9hG4bKtc1", "INVITE", 1, "ttc"));
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
	assert_int_equal(r.calls, 3);
	run_to(f, 100000 + SIP_TSX_TIMER_C + 500 + 32000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(r.calls, 3);
}

/* After the CANCEL, no 487 either: the INVITE is taken as cancelled after 64*T1
 * (§9.1), the TU told nothing more; and Timer C follows the layer's setting. */
static void test_ctsx_invite_timer_c_custom(void **state)
{
	(void)state;
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	tmr_heap_init(&f->th, 0);
	struct sip_tsx_timers tm = { T1, T2, T4, 10000 };
	assert_int_equal(sip_tsx_layer_alloc(&f->l, &f->th, &tm, fake_send, f), 0);
	struct rx r;
	ctsx_new(f, "INVITE", "z9hG4bKtc2", SIP_TP_TCP, &r);
	assert_true(feed(f, 100, "z9hG4bKtc2", "INVITE", 1, NULL));
	run_to(f, 9999);
	assert_int_equal(f->nsent, 1);
	run_to(f, 10000);
	assert_int_equal(r.err, ETIME);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(last_sent(f)->mid, SIP_CANCEL);
	assert_int_equal(f->sent[1].tp, SIP_TP_TCP);
	run_to(f, 10000 + 64 * T1 - 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 2);
	run_to(f, 10000 + 64 * T1); /* the CANCEL's Timer F, and the INVITE given up */
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.errs, 1);
	void *st = f;
	assert_int_equal(teardown(&st), 0);
}

/* A client transaction over a stream whose connection fails is told at once
 * (RFC 3261 §17.1.4), with the transport's error; UDP ones, ones to elsewhere
 * and finished ones are not. */
static void test_ctsx_transport_error(void **state)
{
	struct fx *f = *state;
	struct rx ri, ro, ru, rc;
	ctsx_new(f, "INVITE", "z9hG4bKte1", SIP_TP_TCP, &ri);
	ctsx_new(f, "OPTIONS", "z9hG4bKte2", SIP_TP_TCP, &ro);
	ctsx_new(f, "OPTIONS", "z9hG4bKte3", SIP_TP_UDP, &ru);
	ctsx_new(f, "OPTIONS", "z9hG4bKte4", SIP_TP_TCP, &rc);
	assert_true(feed(f, 200, "z9hG4bKte4", "OPTIONS", 1, "t4")); /* answered */
	assert_true(feed(f, 180, "z9hG4bKte1", "INVITE", 1, "t1"));  /* ringing */
	run_to(f, 300);
	assert_int_equal(sip_tsx_layer_count(f->l), 3);
	struct sip_peer p;
	memset(&p, 0, sizeof(p));
	p.tp = SIP_TP_TCP;
	assert_int_equal(sa_set(&p.addr, "192.0.2.51", 5060), 0);
	sip_tsx_transport_error(f->l, &p, ECONNREFUSED); /* another address */
	assert_int_equal(ro.calls, 0);
	assert_int_equal(sa_set(&p.addr, "192.0.2.50", 5060), 0);
	sip_tsx_transport_error(f->l, &p, ECONNREFUSED);
	assert_int_equal(ri.errs, 1);
	assert_int_equal(ri.err, ECONNREFUSED);
	assert_int_equal(ri.err_at, 300);
	assert_int_equal(ro.calls, 1);
	assert_int_equal(ro.err, ECONNREFUSED);
	assert_int_equal(ro.err_at, 300);
	assert_int_equal(ru.calls, 0);
	assert_int_equal(rc.calls, 1);
	assert_int_equal(sip_tsx_layer_count(f->l), 1); /* the UDP one */
	sip_tsx_transport_error(f->l, &p, ECONNREFUSED);
	assert_int_equal(ri.calls, 2);
	assert_int_equal(ro.calls, 1);
	run_to(f, 40000);
	assert_int_equal(ri.calls, 2); /* no Timer B or C after the error */
	assert_int_equal(ro.calls, 1);
	assert_int_equal(ru.err, ETIMEDOUT);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* A handler that sends anew to the same address from its error call keeps its
 * new transaction (it goes over a new connection). */
struct resend {
	struct fx *f;
	struct rx r2;
	int calls;
};

static void resend_h(int err, const struct sip_msg *resp, void *arg)
{
	struct resend *rs = arg;
	rs->calls++;
	assert_int_equal(err, ECONNREFUSED);
	ctsx_new(rs->f, "OPTIONS", "z9hG4bKte6", SIP_TP_TCP, &rs->r2);
}

static void test_ctsx_transport_error_resend(void **state)
{
	struct fx *f = *state;
	struct resend rs = { .f = f };
	struct mbuf *mb = mbuf_alloc(512, 0);
	struct sip_req_spec spec = {
		.method = "OPTIONS", .ruri = "sip:carol@192.0.2.50", .via_transport = "TCP",
		.via_sentby = "192.0.2.99:5060", .branch = "z9hG4bKte5", .from = "<sip:pbx@pbx.example.com>",
		.from_tag = "ours", .to = "<sip:carol@192.0.2.50>", .callid = "out-1@192.0.2.99", .cseq = 1,
	};
	assert_int_equal(sip_print_request(mb, &spec), 0);
	struct sip_peer dst;
	memset(&dst, 0, sizeof(dst));
	dst.tp = SIP_TP_TCP;
	assert_int_equal(sa_set(&dst.addr, "192.0.2.50", 5060), 0);
	assert_int_equal(sip_ctsx_send(NULL, f->l, &dst, mb, resend_h, &rs), 0);
	mem_deref(mb);
	sip_tsx_transport_error(f->l, &dst, ECONNREFUSED);
	assert_int_equal(rs.calls, 1);
	assert_int_equal(rs.r2.calls, 0);
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run_to(f, 32000);
	assert_int_equal(rs.r2.err, ETIMEDOUT);
}

/* Merged requests (§8.2.2.2): same From tag, Call-ID and CSeq as a live server
 * transaction, another branch, no To tag. */
static void test_stsx_merged(void **state)
{
	struct fx *f = *state;
	struct req_spec r = base_invite;
	r.method = "REGISTER";
	r.branch = "z9hG4bKmg1";
	struct sip_stsx *t = stsx_new(f, &r);
	assert_int_equal(sip_stsx_reply(t, 200, NULL, NULL, NULL, NULL), 0);
	struct req_spec o = r;
	struct sip_msg *m = req_parse(&o);
	assert_false(sip_tsx_request_merged(f->l, m)); /* its own retransmission matches */
	mem_deref(m);
	o.branch = "z9hG4bKmg2"; /* forked upstream, come back another way */
	m = req_parse(&o);
	assert_false(sip_tsx_request_absorb(f->l, m));
	assert_true(sip_tsx_request_merged(f->l, m));
	mem_deref(m);
	o.sentby = "192.0.2.7:5060"; /* through another proxy */
	m = req_parse(&o);
	assert_true(sip_tsx_request_merged(f->l, m));
	mem_deref(m);
	/* anything else that differs: not merged */
	const struct req_spec other[] = {
		{ .method = "REGISTER", .ruri = r.ruri, .branch = "z9hG4bKx", .sentby = r.sentby, .from_tag = "ft2",
		  .callid = r.callid, .cseq = 1 },
		{ .method = "REGISTER", .ruri = r.ruri, .branch = "z9hG4bKx", .sentby = r.sentby, .from_tag = "ft1",
		  .callid = "other", .cseq = 1 },
		{ .method = "REGISTER", .ruri = r.ruri, .branch = "z9hG4bKx", .sentby = r.sentby, .from_tag = "ft1",
		  .callid = r.callid, .cseq = 2 },
		{ .method = "REGISTER", .ruri = r.ruri, .branch = "z9hG4bKx", .sentby = r.sentby, .from_tag = "ft1",
		  .to_tag = "tt", .callid = r.callid, .cseq = 1 },
		{ .method = "OPTIONS", .ruri = r.ruri, .branch = "z9hG4bKx", .sentby = r.sentby, .from_tag = "ft1",
		  .callid = r.callid, .cseq = 1 },
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		m = req_parse(&other[i]);
		if (sip_tsx_request_merged(f->l, m))
			fail_msg("request %zu taken as merged", i);
		mem_deref(m);
	}
	/* an INVITE still proceeding is live too; a CANCEL or ACK never merges */
	struct req_spec inv = base_invite;
	stsx_new(f, &inv);
	inv.branch = "z9hG4bKinv9";
	m = req_parse(&inv);
	assert_false(sip_tsx_request_absorb(f->l, m));
	assert_true(sip_tsx_request_merged(f->l, m));
	mem_deref(m);
	inv.method = "CANCEL";
	inv.cseq_method = "CANCEL";
	m = req_parse(&inv);
	assert_false(sip_tsx_request_merged(f->l, m));
	mem_deref(m);
	/* once the transaction is gone (Timer J), it is a new request again */
	o.branch = "z9hG4bKmg2";
	o.sentby = r.sentby;
	run_to(f, 64 * T1);
	m = req_parse(&o);
	assert_false(sip_tsx_request_merged(f->l, m));
	mem_deref(m);
}

/* The TU's CANCEL (§9.1): held until a provisional came, then sent with the TU's
 * Reason; the TU still hears the 487, which the layer ACKs. */
static void test_ctsx_cancel_waits_for_provisional(void **state)
{
	struct fx *f = *state;
	struct rx r;
	struct sip_ctsx *t = ctsx_new(f, "INVITE", "z9hG4bKcx1", SIP_TP_UDP, &r);
	run_to(f, 100);
	size_t before = f->nsent;
	sip_ctsx_cancel(t, "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n");
	assert_int_equal(f->nsent, before); /* nothing yet: the INVITE may still be on its way */
	assert_true(feed(f, 180, "z9hG4bKcx1", "INVITE", 1, "tx1"));
	assert_int_equal(f->nsent, before + 1);
	const struct sip_msg *c = last_sent(f);
	assert_int_equal(c->mid, SIP_CANCEL);
	assert_true(pl_eq_str(&c->via.branch, "z9hG4bKcx1"));
	const struct sip_hdr *h = sip_msg_hdr(c, SIP_HDR_REASON);
	assert_non_null(h);
	assert_true(pl_eq_str(&h->val, "SIP;cause=200;text=\"Call completed elsewhere\""));
	/* a second cancel changes nothing */
	sip_ctsx_cancel(t, NULL);
	assert_int_equal(f->nsent, before + 1);
	assert_true(feed(f, 200, "z9hG4bKcx1", "CANCEL", 1, "tx1"));
	assert_true(feed(f, 487, "z9hG4bKcx1", "INVITE", 1, "tx1"));
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
	assert_int_equal(r.codes[r.calls - 1], 487);
	run_to(f, 100 + 64000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* A CANCEL that a final response overtook is moot; after a provisional the CANCEL
 * goes at once, and with no final the INVITE ends 64*T1 later with ETIMEDOUT. */
static void test_ctsx_cancel_no_final(void **state)
{
	struct fx *f = *state;
	struct rx r;
	struct sip_ctsx *t = ctsx_new(f, "INVITE", "z9hG4bKcx2", SIP_TP_UDP, &r);
	assert_true(feed(f, 183, "z9hG4bKcx2", "INVITE", 1, "tx2"));
	run_to(f, 1000);
	size_t before = f->nsent;
	sip_ctsx_cancel(t, NULL);
	assert_int_equal(f->nsent, before + 1);
	assert_int_equal(last_sent(f)->mid, SIP_CANCEL);
	assert_null(sip_msg_hdr(last_sent(f), SIP_HDR_REASON));
	assert_true(feed(f, 200, "z9hG4bKcx2", "CANCEL", 1, "tx2"));
	run_to(f, 1000 + 32000 - 1);
	assert_int_equal(r.errs, 0);
	run_to(f, 1000 + 32000);
	assert_int_equal(r.errs, 1);
	assert_int_equal(r.err, ETIMEDOUT);
	struct rx r2;
	struct sip_ctsx *t2 = ctsx_new(f, "INVITE", "z9hG4bKcx3", SIP_TP_UDP, &r2);
	assert_true(feed(f, 486, "z9hG4bKcx3", "INVITE", 1, "tx3"));
	before = f->nsent;
	(void)t2; /* its handle is the layer's after the final: nothing to cancel */
	run_to(f, 1000 + 32000 + 40000);
	assert_int_equal(f->nsent, before);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* The TU's ACK of a 2xx: sent at once, again for every retransmitted 2xx, and
 * the TU hears no more. */
static int ack_in_handler_calls;
static struct mbuf *ack_in_handler_mb;
static struct sip_ctsx *ack_in_handler_t;
static void ack_h(int err, const struct sip_msg *resp, void *arg)
{
	(void)arg;
	assert_int_equal(err, 0);
	ack_in_handler_calls++;
	if (resp->scode >= 200)
		sip_ctsx_ack_2xx(ack_in_handler_t, ack_in_handler_mb);
}

static void test_ctsx_ack_2xx_repeated(void **state)
{
	struct fx *f = *state;
	struct mbuf *mb = mbuf_alloc(512, 0);
	struct sip_req_spec spec = {
		.method = "INVITE", .ruri = "sip:carol@192.0.2.50", .via_transport = "UDP",
		.via_sentby = "192.0.2.99:5060", .branch = "z9hG4bKak1", .from = "<sip:pbx@pbx.example.com>",
		.from_tag = "ours", .to = "<sip:carol@192.0.2.50>", .callid = "out-1@192.0.2.99", .cseq = 1,
	};
	assert_int_equal(sip_print_request(mb, &spec), 0);
	struct sip_peer dst = { .tp = SIP_TP_UDP };
	assert_int_equal(sa_set(&dst.addr, "192.0.2.50", 5060), 0);
	ack_in_handler_mb = mbuf_alloc(512, 0);
	struct sip_req_spec ack = spec;
	ack.method = "ACK";
	ack.branch = "z9hG4bKak2";
	ack.to_tag = "ta";
	assert_int_equal(sip_print_request(ack_in_handler_mb, &ack), 0);
	ack_in_handler_calls = 0;
	assert_int_equal(sip_ctsx_send(&ack_in_handler_t, f->l, &dst, mb, ack_h, NULL), 0);
	mem_deref(mb);
	size_t before = f->nsent;
	assert_true(feed(f, 200, "z9hG4bKak1", "INVITE", 1, "ta"));
	assert_int_equal(ack_in_handler_calls, 1);
	assert_int_equal(f->nsent, before + 1);
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
	run_to(f, 500);
	assert_true(feed(f, 200, "z9hG4bKak1", "INVITE", 1, "ta"));
	assert_int_equal(ack_in_handler_calls, 1);
	assert_int_equal(f->nsent, before + 2);
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
	assert_true(pl_eq_str(&last_sent(f)->via.branch, "z9hG4bKak2"));
	mem_deref(ack_in_handler_mb);
	run_to(f, 40000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

/* The answer crossed the TU's CANCEL after the TU let go: the layer ACKs the 2xx
 * (again for its retransmission) and ends the session with a BYE. */
static void test_ctsx_orphan_2xx_acked_and_ended(void **state)
{
	struct fx *f = *state;
	struct rx r;
	struct sip_ctsx *t = ctsx_new(f, "INVITE", "z9hG4bKor1", SIP_TP_UDP, &r);
	assert_true(feed(f, 180, "z9hG4bKor1", "INVITE", 1, "tor"));
	sip_ctsx_cancel(t, NULL);
	sip_ctsx_abandon(t);
	size_t before = f->nsent;
	static const char ok[] = "SIP/2.0 200 OK\r\n"
				 "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKor1;rport=5060\r\n"
				 "From: <sip:pbx@pbx.example.com>;tag=ours\r\nTo: <sip:carol@192.0.2.50>;tag=tor\r\n"
				 "Call-ID: out-1@192.0.2.99\r\nCSeq: 1 INVITE\r\n"
				 "Contact: <sip:carol@192.0.2.51:5062>\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	assert_int_equal(sip_msg_parse(&m, ok, sizeof(ok) - 1, 0, &perr), 0);
	assert_true(sip_tsx_response(f->l, m));
	assert_int_equal(r.calls, 1); /* the TU heard the 180 only */
	assert_int_equal(f->nsent, before + 2);
	const struct sip_msg *ack = f->sent[before].msg, *bye = f->sent[before + 1].msg;
	assert_int_equal(ack->mid, SIP_ACK);
	assert_int_equal(ack->cseq.num, 1);
	assert_true(pl_eq_str(&ack->to.tag, "tor"));
	assert_int_equal(bye->mid, SIP_BYE);
	assert_int_equal(bye->cseq.num, 2);
	assert_true(pl_eq_str(&bye->to.tag, "tor"));
	assert_true(pl_eq_str(&bye->from.tag, "ours"));
	assert_true(pl_eq_str(&bye->callid, "out-1@192.0.2.99"));
	assert_true(pl_eq_str(&bye->ruri_raw, "sip:carol@192.0.2.51:5062"));
	assert_true(sip_tsx_response(f->l, m)); /* retransmitted */
	mem_deref(m);
	assert_int_equal(f->nsent, before + 3);
	assert_int_equal(last_sent(f)->mid, SIP_ACK);
}

int main(void)
{

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_stsx_invite_trying),
		T(test_stsx_non_invite_silent),
		T(test_stsx_invite_timer_g_h),
		T(test_stsx_invite_ack_confirms),
		T(test_stsx_invite_tcp),
		T(test_stsx_retransmission_absorbed),
		T(test_stsx_accepted_2xx),
		T(test_stsx_accepted_no_ack),
		T(test_stsx_accepted_reinvite),
		T(test_stsx_non_invite_timer_j),
		T(test_stsx_trying_send_fails),
		T(test_stsx_reply_after_final),
		T(test_stsx_cancel_target),
		T(test_stsx_rfc2543_matching),
		T(test_ctsx_invite_timer_a_b),
		T(test_ctsx_invite_tcp),
		T(test_ctsx_non_invite_timer_e_f),
		T(test_ctsx_non_invite_1xx_then_final),
		T(test_ctsx_non_invite_tcp),
		T(test_ctsx_invite_non2xx_ack),
		T(test_ctsx_invite_non2xx_tcp),
		T(test_ctsx_invite_2xx_accepted),
		T(test_ctsx_response_matching),
		T(test_ctsx_abandon),
		T(test_ctsx_send_errors),
		T(test_layer_count_returns_to_zero),
		T(test_layer_free_with_live_tsx),
		T(test_layer_tags_differ),
		cmocka_unit_test(test_layer_custom_timers),
		T(test_layer_branch_keys_and_cap),
		T(test_stsx_cancel_handler),
		T(test_ctsx_invite_timer_c),
		cmocka_unit_test(test_ctsx_invite_timer_c_custom),
		T(test_ctsx_cancel_waits_for_provisional),
		T(test_ctsx_cancel_no_final),
		T(test_ctsx_ack_2xx_repeated),
		T(test_ctsx_orphan_2xx_acked_and_ended),
		T(test_ctsx_transport_error),
		T(test_ctsx_transport_error_resend),
		T(test_stsx_merged),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
