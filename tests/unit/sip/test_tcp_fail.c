/* Unit tests for a failed TCP connect (RFC 3261 §17.1.4, issue 12): the transport
 * surfaces the non-blocking connect's error to its error handler, and wired to
 * the transaction layer as the stack wires them, a client transaction toward a
 * closed port ends with ECONNREFUSED at once, not after Timer B/F's 32 s. These
 * run on the real loop against 127.0.0.1, with a guard that stops the loop after
 * two seconds whatever happens. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/loop.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "core/timer.h"
#include "sip/print.h"
#include "sip/transport.h"
#include "sip/tsx.h"

struct fx {
	struct loop *loop;
	struct sip_transport *tp;
	struct sip_tsx_layer *l; /* NULL: the transport alone */
	struct tmr guard;
	int tp_err, tp_calls; /* what the transport's error handler saw */
	int rx_err, rx_calls; /* what the client transaction's handler saw */
	uint64_t start, tp_at, rx_at;
};

static void recv_h(const struct sip_peer *src, const char *data, size_t len, void *arg)
{
}

static void tp_err_h(const struct sip_peer *p, int err, void *arg)
{
	struct fx *f = arg;
	assert_int_equal(p->tp, SIP_TP_TCP);
	assert_non_null(p->conn);
	assert_false(sip_conn_is_open(p->conn));
	f->tp_err = err;
	f->tp_calls++;
	f->tp_at = loop_clock_ms();
	if (f->l)
		sip_tsx_transport_error(f->l, p, err);
	else
		loop_stop(f->loop);
}

static int tsx_send(const struct sip_peer *dst, const struct mbuf *mb, void *arg)
{
	struct fx *f = arg;
	return sip_transport_send(f->tp, dst, mb->buf, mb->end);
}

static void rx_h(int err, const struct sip_msg *resp, void *arg)
{
	struct fx *f = arg;
	f->rx_err = err;
	f->rx_calls++;
	f->rx_at = loop_clock_ms();
	loop_stop(f->loop);
}

static void guard_h(void *arg)
{
	struct fx *f = arg;
	loop_stop(f->loop);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || loop_alloc(&f->loop))
		return -1;
	struct sip_tp_conf tc = { .tcp_max_conns = 64, .tcp_max_conns_per_ip = 64, .tcp_idle_s = 60 };
	if (sip_transport_alloc(&f->tp, f->loop, &tc, recv_h, f))
		return -1;
	sip_transport_err_handler_set(f->tp, tp_err_h, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tmr_cancel(&f->guard);
	sip_tsx_layer_free(f->l);
	sip_transport_free(f->tp);
	loop_free(f->loop);
	free(f);
	return 0;
}

/* 127.0.0.1 and a TCP port nobody listens on (bound, then closed). */
static struct sa closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sa sa;
	assert_int_equal(sa_set(&sa, "127.0.0.1", 0), 0);
	assert_int_equal(bind(fd, &sa.u.sa, sa.len), 0);
	sa.len = sizeof(sa.u);
	assert_int_equal(getsockname(fd, &sa.u.sa, &sa.len), 0);
	close(fd);
	return sa;
}

static void run(struct fx *f)
{
	f->start = loop_clock_ms();
	tmr_start(loop_timers(f->loop), &f->guard, 2000, guard_h, f);
	loop_run(f->loop);
}

/* The transport alone: a send to a closed port is queued on a connecting
 * socket, and the refusal reaches the error handler. */
static void test_transport_connect_refused(void **state)
{
	struct fx *f = *state;
	struct sip_peer dst;
	memset(&dst, 0, sizeof(dst));
	dst.tp = SIP_TP_TCP;
	dst.fd = -1;
	dst.addr = closed_port();
	static const char msg[] = "OPTIONS sip:x SIP/2.0\r\n\r\n";
	int err = sip_transport_send(f->tp, &dst, msg, sizeof(msg) - 1);
	if (err) {
		assert_int_equal(err, ECONNREFUSED); /* refused within connect(2) itself */
		return;
	}
	assert_int_equal(sip_transport_conn_count(f->tp), 1);
	run(f);
	assert_int_equal(f->tp_calls, 1);
	assert_int_equal(f->tp_err, ECONNREFUSED);
	assert_true(f->tp_at - f->start < 1000);
	assert_int_equal(sip_transport_conn_count(f->tp), 0);
}

/* A client transaction (INVITE or OPTIONS) over TCP toward a closed port: its
 * handler hears ECONNREFUSED well within a second, once. */
static void ctsx_refused(struct fx *f, const char *method)
{
	assert_int_equal(sip_tsx_layer_alloc(&f->l, loop_timers(f->loop), NULL, tsx_send, f), 0);
	struct sip_peer dst;
	memset(&dst, 0, sizeof(dst));
	dst.tp = SIP_TP_TCP;
	dst.fd = -1;
	dst.addr = closed_port();
	char ruri[64], branch[32];
	snprintf(ruri, sizeof(ruri), "sip:carol@127.0.0.1:%u", sa_port(&dst.addr));
	sip_branch_new(branch, sizeof(branch));
	struct sip_req_spec spec = {
		.method = method, .ruri = ruri, .via_transport = "TCP", .via_sentby = "127.0.0.1:5063",
		.branch = branch, .from = "<sip:pbx@127.0.0.1>", .from_tag = "ours", .to = "<sip:carol@127.0.0.1>",
		.callid = "refused@127.0.0.1", .cseq = 1,
	};
	struct mbuf *mb = mbuf_alloc(512, 0);
	assert_int_equal(sip_print_request(mb, &spec), 0);
	int err = sip_ctsx_send(NULL, f->l, &dst, mb, rx_h, f);
	mem_deref(mb);
	if (err) {
		assert_int_equal(err, ECONNREFUSED);
		assert_int_equal(sip_tsx_layer_count(f->l), 0);
		return;
	}
	assert_int_equal(sip_tsx_layer_count(f->l), 1);
	run(f);
	assert_int_equal(f->tp_calls, 1);
	assert_int_equal(f->rx_calls, 1);
	assert_int_equal(f->rx_err, ECONNREFUSED);
	assert_true(f->rx_at - f->start < 1000);
	assert_int_equal(sip_tsx_layer_count(f->l), 0);
}

static void test_ctsx_invite_refused(void **state)
{
	ctsx_refused(*state, "INVITE");
}

static void test_ctsx_options_refused(void **state)
{
	ctsx_refused(*state, "OPTIONS");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_transport_connect_refused),
		T(test_ctsx_invite_refused),
		T(test_ctsx_options_refused),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
