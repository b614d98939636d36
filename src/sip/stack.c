/* The SIP stack (see stack.h): receive path, UAS checks and stateless answers. */
#include "sip/stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/print.h"

const struct conf_opt sip_stack_opts[] = {
	{ "sip-address", CONF_STR, "", 0, 0, NULL,
	  "addresses to listen on for SIP, comma-separated (empty: all IPv4 and IPv6)" },
	{ "sip-udp-port", CONF_INT, "5060", 0, 65535, NULL, "SIP UDP port (0 disables UDP)" },
	{ "sip-tcp-port", CONF_INT, "5063", 0, 65535, NULL, "SIP TCP port (0 disables TCP)" },
	{ "sip-trace", CONF_BOOL, "off", 0, 0, NULL, "log every SIP message sent and received" },
	{ "sip-tcp-idle-timeout", CONF_INT, "600", 1, 86400, NULL, "close a TCP connection idle this many seconds" },
	{ "sip-tcp-max-connections", CONF_INT, "8192", 1, 1000000, NULL, "TCP connections in all" },
	{ "sip-tcp-max-per-address", CONF_INT, "64", 1, 100000, NULL, "TCP connections from one source address" },
	{ "sip-t1", CONF_INT, "500", 10, 10000, NULL, "RFC 3261 T1 in ms (round-trip estimate)" },
	{ "sip-t2", CONF_INT, "4000", 100, 60000, NULL, "RFC 3261 T2 in ms (retransmission cap)" },
	{ "sip-t4", CONF_INT, "5000", 100, 60000, NULL, "RFC 3261 T4 in ms (network lifetime)" },
	{ "sip-server-name", CONF_STR, "pbxd", 0, 0, NULL, "Server and User-Agent header value" },
	{ "sip-max-transactions", CONF_INT, "200000", 100, 100000000, NULL,
	  "server transactions alive at once; beyond it requests get 503" },
};
const size_t sip_stack_opts_count = sizeof(sip_stack_opts) / sizeof(sip_stack_opts[0]);

/* Option tags pbxd implements; anything else in Require gets 420. */
static const char *const supported_tags[] = { NULL };

struct sip_stack {
	struct loop *loop;
	struct sip_transport *tp;
	struct sip_tsx_layer *tsx;
	struct sip_method_handler handlers[SIP_METHOD_COUNT];
	sip_ack_h *ack_h;
	void *ack_arg;
	bool trace;
	char server_hdr[128];
	char allow[160];
};

static void trace_msg(const struct sip_stack *s, const char *dir, const struct sip_peer *p,
		      const void *data, size_t len)
{
	if (!s->trace)
		return;
	char a[64];
	log_info("SIP %s %s %s (%zu bytes)\n%.*s", dir, sip_transport_name(p->tp), sa_str(&p->addr, a, sizeof(a)),
		 len, (int)len, (const char *)data);
}

static int stack_send(struct sip_stack *s, const struct sip_peer *dst, const struct mbuf *mb)
{
	trace_msg(s, "send to", dst, mb->buf, mb->end);
	int err = sip_transport_send(s->tp, dst, mb->buf, mb->end);
	if (err) {
		char a[64];
		log_debug("SIP send to %s failed: %s", sa_str(&dst->addr, a, sizeof(a)), strerror(err));
	}
	return err;
}

static int tsx_send(const struct sip_peer *dst, const struct mbuf *mb, void *arg)
{
	return stack_send(arg, dst, mb);
}

static void allow_build(struct sip_stack *s)
{
	size_t n = (size_t)snprintf(s->allow, sizeof(s->allow), "OPTIONS, ACK, CANCEL");
	for (int m = 1; m < SIP_METHOD_COUNT && n < sizeof(s->allow); m++) {
		if (s->handlers[m].h && m != SIP_OPTIONS && m != SIP_ACK && m != SIP_CANCEL)
			n += (size_t)snprintf(s->allow + n, sizeof(s->allow) - n, ", %s", sip_method_name((enum sip_method)m));
	}
}

const char *sip_stack_server_hdr(const struct sip_stack *s) { return s->server_hdr; }
struct sip_tsx_layer *sip_stack_tsx(struct sip_stack *s) { return s->tsx; }
struct sip_transport *sip_stack_transport(struct sip_stack *s) { return s->tp; }

int sip_stack_handler_set(struct sip_stack *s, const struct sip_method_handler *mh)
{
	if (mh->method <= SIP_METHOD_OTHER || mh->method >= SIP_METHOD_COUNT || mh->method == SIP_ACK ||
	    mh->method == SIP_CANCEL)
		return EINVAL;
	s->handlers[mh->method] = *mh;
	allow_build(s);
	return 0;
}

void sip_stack_ack_handler_set(struct sip_stack *s, sip_ack_h *h, void *arg)
{
	s->ack_h = h;
	s->ack_arg = arg;
}

/* A stateless To-tag must be the same for every retransmission of a request, so
 * it is derived from what identifies the request. */
static void stateless_tag(const struct sip_msg *req, char *buf, size_t size)
{
	uint32_t h = pl_hash(&req->callid, 0);
	h = pl_hash(&req->from.tag, h);
	h = pl_hash(&req->via.branch, h);
	snprintf(buf, size, "sl%08x%04x", h, req->cseq.num & 0xffffu);
}

int sip_stack_reply_stateless(struct sip_stack *s, const struct sip_msg *req, uint16_t scode,
			      const char *reason, const char *extra)
{
	char tag[32], hdrs[2048];
	stateless_tag(req, tag, sizeof(tag));
	/* A cut header line would be a malformed answer: refuse rather than send it. */
	if (snprintf(hdrs, sizeof(hdrs), "%s%s", s->server_hdr, extra ? extra : "") >= (int)sizeof(hdrs))
		return EMSGSIZE;
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	if (!mb)
		return ENOMEM;
	int err = sip_print_response(mb, req, scode, reason, tag, hdrs, NULL, NULL);
	if (!err)
		err = stack_send(s, &req->src, mb);
	mem_deref(mb);
	return err;
}

static void reply_options(struct sip_stack *s, const struct sip_msg *req)
{
	const struct sip_method_handler *inv = &s->handlers[SIP_INVITE];
	char extra[512];
	snprintf(extra, sizeof(extra),
		 "Allow: %s\r\nAccept: %s\r\nAccept-Encoding: identity\r\nAccept-Language: en\r\nSupported: \r\n",
		 s->allow, inv->h && inv->accept ? inv->accept : "application/sdp");
	sip_stack_reply_stateless(s, req, 200, NULL, extra);
}

/* Collects the Require option tags we do not implement (RFC 3261 §8.2.2.3). */
struct unsup {
	char list[256];
	size_t n;
};

static int unsup_check(const struct pl *tag, void *arg)
{
	struct unsup *u = arg;
	for (size_t i = 0; supported_tags[i]; i++) {
		if (pl_caseeq_str(tag, supported_tags[i]))
			return 0;
	}
	if (u->n < sizeof(u->list) - 2)
		u->n += (size_t)snprintf(u->list + u->n, sizeof(u->list) - u->n, "%s%.*s", u->n ? ", " : "",
					 (int)tag->l, tag->p);
	return 0;
}

/* True when the comma-separated media-range list admits type. */
static int accept_find(const struct pl *range, void *arg)
{
	const char *type = arg;
	struct pl r = *range;
	long semi = pl_chr(&r, ';');
	if (semi >= 0)
		r.l = (size_t)semi;
	r = pl_trim(r);
	if (pl_caseeq_str(&r, "*/*") || pl_caseeq_str(&r, type))
		return 1;
	const char *slash = strchr(type, '/');
	if (slash && r.l == (size_t)(slash - type) + 2 && strncasecmp(r.p, type, r.l - 1) == 0 &&
	    r.p[r.l - 1] == '*')
		return 1;
	return 0;
}

static bool type_listed(const char *list, const struct pl *ctype)
{
	struct pl t = *ctype;
	long semi = pl_chr(&t, ';');
	if (semi >= 0)
		t.l = (size_t)semi;
	t = pl_trim(t);
	struct pl cur = pl_cstr(list), v;
	while (sip_hdr_value_next(&cur, &v) == 0) {
		if (pl_casecmp(&v, &t))
			return true;
	}
	return false;
}

/* Max-Forwards first (pbxd forwards what it accepts), then RFC 3261 §8.2 in its
 * order: method (§8.2.1), headers (§8.2.2), content (§8.2.3). Returns true when
 * req was answered. */
static bool uas_checks(struct sip_stack *s, const struct sip_msg *req)
{
	if (req->maxfwd == 0) {
		sip_stack_reply_stateless(s, req, 483, NULL, NULL);
		return true;
	}
	if (req->mid == SIP_METHOD_OTHER) {
		char extra[200];
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", s->allow);
		sip_stack_reply_stateless(s, req, 501, NULL, extra);
		return true;
	}
	const struct sip_method_handler *mh = &s->handlers[req->mid];
	if (!mh->h && req->mid != SIP_OPTIONS && req->mid != SIP_CANCEL) {
		char extra[200];
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", s->allow);
		sip_stack_reply_stateless(s, req, 405, NULL, extra);
		return true;
	}
	if (req->ruri.scheme_id == SIP_SCHEME_OTHER) {
		sip_stack_reply_stateless(s, req, 416, NULL, NULL);
		return true;
	}
	struct unsup u = { .n = 0 };
	if (req->mid != SIP_CANCEL) {
		sip_msg_hdr_apply(req, SIP_HDR_REQUIRE, unsup_check, &u);
		if (u.n) {
			char extra[300];
			snprintf(extra, sizeof(extra), "Unsupported: %s\r\n", u.list);
			sip_stack_reply_stateless(s, req, 420, NULL, extra);
			return true;
		}
	}
	if (req->body.l && req->mid != SIP_CANCEL) {
		const char *acc = mh->accept;
		if (!acc || !req->ctype.l || !type_listed(acc, &req->ctype)) {
			char extra[200];
			snprintf(extra, sizeof(extra), "Accept: %s\r\n", acc ? acc : "");
			sip_stack_reply_stateless(s, req, 415, NULL, extra);
			return true;
		}
		if (sip_msg_hdr(req, SIP_HDR_CONTENT_ENCODING) &&
		    !sip_msg_hdr_has_token(req, SIP_HDR_CONTENT_ENCODING, "identity")) {
			sip_stack_reply_stateless(s, req, 415, NULL, "Accept-Encoding: identity\r\n");
			return true;
		}
	}
	if (mh->produces && sip_msg_hdr(req, SIP_HDR_ACCEPT) &&
	    sip_msg_hdr_apply(req, SIP_HDR_ACCEPT, accept_find, (void *)(uintptr_t)mh->produces) != 1) {
		char extra[200];
		snprintf(extra, sizeof(extra), "Accept: %s\r\n", mh->produces);
		sip_stack_reply_stateless(s, req, 406, NULL, extra);
		return true;
	}
	return false;
}

static void handle_cancel(struct sip_stack *s, struct sip_msg *req)
{
	struct sip_stsx *inv = sip_tsx_cancel_target(s->tsx, req);
	if (!inv) {
		sip_stack_reply_stateless(s, req, 481, NULL, NULL);
		return;
	}
	/* The CANCEL's own answer needs no state: a retransmitted CANCEL finds the
	 * INVITE again and gets the same 200. */
	sip_stack_reply_stateless(s, req, 200, NULL, NULL);
	sip_stsx_cancel(inv, s->server_hdr);
}

static void handle_request(struct sip_stack *s, struct sip_msg *req)
{
	if (sip_tsx_request_absorb(s->tsx, req))
		return;
	if (req->mid == SIP_ACK) {
		if (s->ack_h)
			s->ack_h(s, req, s->ack_arg);
		return;
	}
	if (uas_checks(s, req))
		return;
	if (req->mid == SIP_CANCEL) {
		handle_cancel(s, req);
		return;
	}
	const struct sip_method_handler *mh = &s->handlers[req->mid];
	if (req->mid == SIP_OPTIONS && !mh->h) {
		reply_options(s, req);
		return;
	}
	mh->h(s, req, mh->arg);
}

int sip_stack_stsx(struct sip_stack *s, struct sip_msg *req, struct sip_stsx **tp)
{
	int err = sip_stsx_alloc(tp, s->tsx, req);
	if (err == EAGAIN)
		sip_stack_reply_stateless(s, req, 503, "Too Many Transactions", "Retry-After: 5\r\n");
	else if (err)
		sip_stack_reply_stateless(s, req, 500, NULL, NULL);
	return err;
}

void sip_stack_input(struct sip_stack *s, const struct sip_peer *src, const char *data, size_t len)
{
	trace_msg(s, "recv from", src, data, len);
	struct sip_msg *msg;
	struct sip_perr perr;
	int err = sip_msg_parse(&msg, data, len, src->tp == SIP_TP_UDP ? 0 : SIP_PARSE_STREAM, &perr);
	if (msg) {
		msg->src = *src;
		msg->src.conn = mem_ref(src->conn);
		/* A response whose connection closed goes to the source IP and the
		 * sent-by port (RFC 3261 §18.2.2), not the ephemeral source port. */
		if (src->tp != SIP_TP_UDP)
			msg->src.reconnect_port = msg->via.port ? msg->via.port : src->tp == SIP_TP_TLS ? 5061 : 5060;
	}
	if (err) {
		char a[64];
		log_debug("SIP bad message from %s: %s", sa_str(&src->addr, a, sizeof(a)),
			  perr.reason ? perr.reason : strerror(err));
		if (msg && perr.scode && msg->mid != SIP_ACK)
			sip_stack_reply_stateless(s, msg, perr.scode, perr.reason, NULL);
		mem_deref(msg);
		return;
	}
	if (msg->req)
		handle_request(s, msg);
	else if (!sip_tsx_response(s->tsx, msg))
		log_debug("SIP response %u without a transaction dropped", msg->scode);
	mem_deref(msg);
}

static void on_recv(const struct sip_peer *src, const char *data, size_t len, void *arg)
{
	sip_stack_input(arg, src, data, len);
}

static int listen_all(struct sip_stack *s, const struct conf *conf)
{
	const char *addrs = conf_str(conf, "sip-address");
	bool any = !addrs || !*addrs;
	char *list = strdup(any ? "0.0.0.0,::" : addrs), *save = NULL;
	if (!list)
		return ENOMEM;
	uint16_t uport = (uint16_t)conf_int(conf, "sip-udp-port");
	uint16_t tport = (uint16_t)conf_int(conf, "sip-tcp-port");
	int err = 0, nok = 0;
	for (char *a = strtok_r(list, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
		struct sa sa;
		if (sa_set(&sa, a, 0)) {
			log_error("sip-address: '%s' is not an IP address", a);
			err = EINVAL;
			break;
		}
		const struct { enum sip_transport_kind k; uint16_t port; } want[] = {
			{ SIP_TP_UDP, uport }, { SIP_TP_TCP, tport },
		};
		for (size_t i = 0; i < 2; i++) {
			if (!want[i].port)
				continue;
			sa_set_port(&sa, want[i].port);
			int e = sip_transport_listen(s->tp, want[i].k, &sa);
			char b[64];
			if (e && any && sa_af(&sa) == AF_INET6) {
				log_info("SIP %s on %s unavailable (%s), IPv4 only", sip_transport_name(want[i].k),
					 sa_str(&sa, b, sizeof(b)), strerror(e));
				continue;
			}
			if (e) {
				log_error("SIP %s on %s: %s", sip_transport_name(want[i].k), sa_str(&sa, b, sizeof(b)), strerror(e));
				err = e;
				break;
			}
			nok++;
		}
		if (err)
			break;
	}
	free(list);
	if (!err && !nok) {
		log_error("SIP: no transport enabled");
		err = EINVAL;
	}
	return err;
}

int sip_stack_alloc(struct sip_stack **sp, struct loop *loop, const struct conf *conf)
{
	struct sip_stack *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->loop = loop;
	s->trace = conf_bool(conf, "sip-trace");
	snprintf(s->server_hdr, sizeof(s->server_hdr), "Server: %s\r\n", conf_str(conf, "sip-server-name"));
	allow_build(s);
	struct sip_tp_conf tc = {
		.tcp_max_conns = (unsigned)conf_int(conf, "sip-tcp-max-connections"),
		.tcp_max_conns_per_ip = (unsigned)conf_int(conf, "sip-tcp-max-per-address"),
		.tcp_idle_s = (unsigned)conf_int(conf, "sip-tcp-idle-timeout"),
	};
	struct sip_tsx_timers tm = {
		(uint32_t)conf_int(conf, "sip-t1"), (uint32_t)conf_int(conf, "sip-t2"), (uint32_t)conf_int(conf, "sip-t4"),
	};
	int err = sip_transport_alloc(&s->tp, loop, &tc, on_recv, s);
	if (!err)
		err = sip_tsx_layer_alloc(&s->tsx, loop_timers(loop), &tm, tsx_send, s);
	if (!err) {
		sip_tsx_layer_max_set(s->tsx, (size_t)conf_int(conf, "sip-max-transactions"));
		err = listen_all(s, conf);
	}
	if (err) {
		sip_stack_free(s);
		return err;
	}
	*sp = s;
	return 0;
}

void sip_stack_free(struct sip_stack *s)
{
	if (!s)
		return;
	sip_tsx_layer_free(s->tsx);
	sip_transport_free(s->tp);
	free(s);
}
