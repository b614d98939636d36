/* The SIP stack (see stack.h): receive path, UAS checks and stateless answers. */
#include "sip/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/print.h"

const struct conf_opt sip_stack_opts[] = {
	{ "sip-address", CONF_STR, "", 0, 0, NULL,
	  "addresses to listen on for SIP, comma-separated (empty: all IPv4 and IPv6)" },
	{ "sip-udp-port", CONF_INT, "5060", 0, 65535, NULL, "SIP UDP port (0 disables UDP)" },
	{ "sip-tcp-port", CONF_INT, "5063", 0, 65535, NULL, "SIP TCP port (0 disables TCP)" },
	{ "sip-tls-port", CONF_INT, "5061", 0, 65535, NULL, "SIP over TLS port (0 disables TLS)" },
	{ "sip-wss-port", CONF_INT, "5065", 0, 65535, NULL,
	  "SIP over secure WebSocket port, for browsers and the WebRTC phone (0 disables WSS)" },
	{ "sip-ws-port", CONF_INT, "0", 0, 65535, NULL,
	  "SIP over plain WebSocket port, behind a proxy that terminates TLS (0: off)" },
	{ "sip-tls-cert", CONF_STR, "", 0, 0, NULL,
	  "PEM certificate (chain) for SIP over TLS and WSS; default: the HTTPS certificate (SIGHUP reloads it)" },
	{ "sip-tls-key", CONF_STR, "", 0, 0, NULL, "PEM private key of --sip-tls-cert" },
	{ "sip-trace", CONF_BOOL, "off", 0, 0, NULL, "log every SIP message sent and received" },
	{ "sip-tcp-idle-timeout", CONF_INT, "600", 1, 86400, NULL, "close a TCP connection idle this many seconds" },
	{ "sip-tcp-max-connections", CONF_INT, "8192", 1, 1000000, NULL, "TCP connections in all" },
	{ "sip-tcp-max-per-address", CONF_INT, "64", 1, 100000, NULL, "TCP connections from one source address" },
	{ "sip-t1", CONF_INT, "500", 10, 10000, NULL, "RFC 3261 T1 in ms (round-trip estimate)" },
	{ "sip-t2", CONF_INT, "4000", 100, 60000, NULL, "RFC 3261 T2 in ms (retransmission cap)" },
	{ "sip-t4", CONF_INT, "5000", 100, 60000, NULL, "RFC 3261 T4 in ms (network lifetime)" },
	{ "sip-timer-c", CONF_INT, "180", 1, 86400, NULL,
	  "RFC 3261 Timer C in s: an INVITE we sent that rang (a provisional) but got no final answer"
	  " this long after its last provisional is CANCELled" },
	{ "sip-server-name", CONF_STR, "pbxd", 0, 0, NULL, "Server and User-Agent header value" },
	{ "sip-max-transactions", CONF_INT, "200000", 100, 100000000, NULL,
	  "server transactions alive at once; beyond it requests get 503" },
	{ "sip-stateless-rate", CONF_INT, "50", 0, 1000000, NULL,
	  "answers per second one source (IPv4 address, IPv6 /64) gets to UDP requests answered"
	  " before authentication (challenges, OPTIONS, refusals); beyond, silence (0: no limit)" },
	{ "sip-stateless-burst", CONF_INT, "100", 1, 1000000, NULL,
	  "such answers one source may get at once before --sip-stateless-rate applies" },
};
const size_t sip_stack_opts_count = sizeof(sip_stack_opts) / sizeof(sip_stack_opts[0]);

/* Option tags pbxd implements; anything else in Require gets 420. */
static const char *const supported_tags[] = { NULL };

/* ---- the per-source budget of stateless answers ----
 *
 * A UDP request's source address can be forged, and its answer then goes to the
 * forged address: pbxd would reflect traffic at a victim. Answers stay lean (about
 * the request's size), and each source gets a token bucket of such answers: rate
 * per second, burst at once; beyond it pbxd stays silent, as a reflector should.
 *
 * The table is fixed-size whatever the number of (spoofed) sources: LIMIT_SETS
 * sets of LIMIT_WAYS entries, the set chosen by a hash keyed with a random seed so
 * that nobody can aim sources at one set. A new source takes a free way, else
 * the way whose bucket is fullest after refill (a full bucket is the same as no
 * entry, so evicting it forgets nothing), the least recently used on ties. To
 * flush a source that is being held back, an attacker would have to drain the
 * buckets of the other ways of its unknown set, i.e. of most of the table. */
enum {
	LIMIT_WAYS = 4,
	LIMIT_SETS = 2048, /* power of two: 8192 sources tracked at once */
	MILLI = 1000,      /* tokens are counted in thousandths of an answer */
};

struct limit_entry {
	uint64_t key;     /* IPv4 address, or the top 64 bits of an IPv6 address */
	uint64_t last_ms; /* when tokens was last brought up to date */
	uint32_t tokens;  /* thousandths of an answer */
	uint8_t af;       /* 0: free */
	bool quiet;       /* over budget since the last answer (logged once) */
};

struct sip_stack_limit {
	uint32_t rate, burst;
	uint64_t seed;
	struct limit_entry ents[LIMIT_SETS * LIMIT_WAYS];
};

int sip_stack_limit_alloc(struct sip_stack_limit **lp, uint32_t rate, uint32_t burst)
{
	if (!lp || !burst || burst > 1000000 || rate > 1000000)
		return EINVAL;
	struct sip_stack_limit *l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->rate = rate;
	l->burst = burst;
	/* Without randomness the table still works; only its sets become guessable. */
	if (getrandom(&l->seed, sizeof(l->seed), GRND_NONBLOCK) != (ssize_t)sizeof(l->seed))
		l->seed = loop_clock_ms() * 0x9e3779b97f4a7c15ull;
	*lp = l;
	return 0;
}

void sip_stack_limit_free(struct sip_stack_limit *l)
{
	free(l);
}

/* MurmurHash3's 64-bit finaliser over key and seed: every key bit moves every
 * set bit, and without the seed the set of a key cannot be told. */
static uint32_t limit_set(const struct sip_stack_limit *l, uint64_t key, uint8_t af)
{
	uint64_t h = (key ^ l->seed) + af;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h & (LIMIT_SETS - 1);
}

/* Tokens e holds at now_ms, refilled at rate per second up to burst. */
static uint32_t limit_tokens(const struct sip_stack_limit *l, const struct limit_entry *e, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)l->burst * MILLI;
	uint64_t dt = now_ms > e->last_ms ? now_ms - e->last_ms : 0;
	if (!l->rate)
		return e->tokens;
	/* rate answers/s is rate thousandths per ms; cap dt first so nothing overflows */
	if (dt >= cap / l->rate + 1)
		return (uint32_t)cap;
	uint64_t t = e->tokens + dt * l->rate;
	return (uint32_t)(t < cap ? t : cap);
}

bool sip_stack_limit_take(struct sip_stack_limit *l, const struct sa *src, uint64_t now_ms, bool *newly)
{
	uint64_t key = 0;
	uint8_t af = sa_source_key(src, &key);
	if (newly)
		*newly = false;
	if (!af)
		return true;
	struct limit_entry *set = &l->ents[limit_set(l, key, af) * LIMIT_WAYS], *e = NULL;
	for (size_t i = 0; i < LIMIT_WAYS && !e; i++) {
		if (set[i].af == af && set[i].key == key)
			e = &set[i];
	}
	if (!e) {
		uint32_t best = 0;
		for (size_t i = 0; i < LIMIT_WAYS; i++) {
			struct limit_entry *c = &set[i];
			uint32_t t = c->af ? limit_tokens(l, c, now_ms) : UINT32_MAX;
			if (!e || t > best || (t == best && c->last_ms < e->last_ms)) {
				e = c;
				best = t;
			}
		}
		*e = (struct limit_entry){ .key = key, .af = af, .last_ms = now_ms,
					   .tokens = l->burst * MILLI };
	}
	e->tokens = limit_tokens(l, e, now_ms);
	e->last_ms = now_ms;
	if (e->tokens < MILLI) {
		if (newly)
			*newly = !e->quiet;
		e->quiet = true;
		return false;
	}
	e->tokens -= MILLI;
	e->quiet = false;
	return true;
}

/* ---- the stack ---- */

struct sip_stack {
	struct loop *loop;
	struct sip_transport *tp;
	struct sip_tsx_layer *tsx;
	struct sip_listener chain[SIP_STACK_LISTENERS];
	size_t nchain;
	uint32_t methods; /* the union of the chain's */
	sip_filter_h *filter;
	void *filter_arg;
	bool trace;
	struct sip_stack_limit *limit; /* NULL: stateless answers are not limited */
	char tls_cert[4096], tls_key[4096]; /* what sip_stack_tls_reload reads again */
	char server_hdr[128];
	char allow[160];
};

static void trace_msg(const struct sip_stack *s, const char *dir, const struct sip_peer *p,
		      const void *data, size_t len)
{
	if (!s->trace)
		return;
	char a[64];
	log_trace("SIP %s %s %s (%zu bytes)\n%.*s", dir, sip_transport_name(p->tp), sa_str(&p->addr, a, sizeof(a)),
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
	/* No space after the commas: the list goes into stateless answers. */
	size_t n = (size_t)snprintf(s->allow, sizeof(s->allow), "OPTIONS,ACK,CANCEL");
	for (int m = 1; m < SIP_METHOD_COUNT && n < sizeof(s->allow); m++) {
		if ((s->methods & SIP_METHOD_BIT(m)) && m != SIP_OPTIONS && m != SIP_ACK && m != SIP_CANCEL)
			n += (size_t)snprintf(s->allow + n, sizeof(s->allow) - n, ",%s", sip_method_name((enum sip_method)m));
	}
}

const char *sip_stack_server_hdr(const struct sip_stack *s) { return s->server_hdr; }
struct sip_tsx_layer *sip_stack_tsx(struct sip_stack *s) { return s->tsx; }
struct sip_transport *sip_stack_transport(struct sip_stack *s) { return s->tp; }

void sip_stack_filter_set(struct sip_stack *s, sip_filter_h *h, void *arg)
{
	s->filter = h;
	s->filter_arg = arg;
}

int sip_stack_listen(struct sip_stack *s, const struct sip_listener *l)
{
	uint32_t valid = (SIP_METHOD_BIT(SIP_METHOD_COUNT) - 1) & ~SIP_METHOD_BIT(SIP_METHOD_OTHER);
	if (!l->h || !l->methods || (l->methods & ~valid) || (l->methods & SIP_METHOD_BIT(SIP_CANCEL)))
		return EINVAL;
	if (s->nchain == SIP_STACK_LISTENERS)
		return ENOSPC;
	s->chain[s->nchain++] = *l;
	s->methods |= l->methods;
	allow_build(s);
	return 0;
}

/* The body types a method takes or its answers carry: the first listener's that
 * names them. */
static const char *method_accept(const struct sip_stack *s, enum sip_method m)
{
	for (size_t i = 0; i < s->nchain; i++) {
		if ((s->chain[i].methods & SIP_METHOD_BIT(m)) && s->chain[i].accept)
			return s->chain[i].accept;
	}
	return NULL;
}

static const char *method_produces(const struct sip_stack *s, enum sip_method m)
{
	for (size_t i = 0; i < s->nchain; i++) {
		if ((s->chain[i].methods & SIP_METHOD_BIT(m)) && s->chain[i].produces)
			return s->chain[i].produces;
	}
	return NULL;
}

/* Offers req to each listener naming its method, in order; true when one took it. */
static bool chain_offer(struct sip_stack *s, struct sip_msg *req)
{
	for (size_t i = 0; i < s->nchain; i++) {
		const struct sip_listener *l = &s->chain[i];
		if ((l->methods & SIP_METHOD_BIT(req->mid)) && l->h(s, req, l->arg))
			return true;
	}
	return false;
}

/* A stateless To-tag must be the same for every retransmission of a request, so
 * it is derived from what identifies the request: 32 bits, as RFC 3261 §19.3 asks,
 * and not a byte more (each one is reflected to a forged source). */
static void stateless_tag(const struct sip_msg *req, char *buf, size_t size)
{
	uint32_t h = pl_hash(&req->callid, 0);
	h = pl_hash(&req->from.tag, h);
	h = pl_hash(&req->via.branch, h);
	h = (h ^ req->cseq.num) * 0x9e3779b1u;
	snprintf(buf, size, "%08x", h ^ (h >> 16));
}

/* Loopback sources are trusted: the kernel drops a datagram claiming one that
 * arrives on any other interface (a martian), so nobody on the network can forge
 * them, and an answer to one cannot leave the host. */
static bool source_local(const struct sa *sa)
{
	if (sa_af(sa) == AF_INET)
		return (ntohl(sa->u.in.sin_addr.s_addr) >> 24) == 127;
	if (sa_af(sa) != AF_INET6)
		return false;
	const struct in6_addr *a6 = &sa->u.in6.sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

/* Whether a stateless answer to req may go. A stream's source proved itself in
 * the handshake and loopback cannot be forged; any other UDP source spends a
 * token of its budget, and over it gets silence. */
static bool budget_allows(struct sip_stack *s, const struct sip_msg *req)
{
	if (!s->limit || req->src.tp != SIP_TP_UDP || source_local(&req->src.addr))
		return true;
	bool newly = false;
	if (sip_stack_limit_take(s->limit, &req->src.addr, loop_now(s->loop), &newly))
		return true;
	if (newly) {
		char a[64];
		log_debug("SIP %s is over its budget of stateless answers: silent until it slows down",
			  sa_str(&req->src.addr, a, sizeof(a)));
	}
	return false;
}

/* budgeted: false only for answers within a transaction the source already has
 * (the 200 to a CANCEL that found its INVITE). Stateless answers are lean:
 * compact header names, no Server line. */
static int reply_stateless(struct sip_stack *s, const struct sip_msg *req, uint16_t scode,
			   const char *reason, const char *extra, bool budgeted)
{
	if (budgeted && !budget_allows(s, req))
		return EAGAIN;
	char tag[16];
	stateless_tag(req, tag, sizeof(tag));
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	if (!mb)
		return ENOMEM;
	int err = sip_print_response_compact(mb, req, scode, reason, tag, extra);
	if (!err)
		err = stack_send(s, &req->src, mb);
	mem_deref(mb);
	return err;
}

int sip_stack_reply_stateless(struct sip_stack *s, const struct sip_msg *req, uint16_t scode,
			      const char *reason, const char *extra)
{
	return reply_stateless(s, req, scode, reason, extra, true);
}

int sip_stack_reply_begin(struct sip_stack *s, const struct sip_msg *req, uint16_t scode, size_t *room)
{
	if (!budget_allows(s, req))
		return EAGAIN;
	*room = sip_stack_reply_room(req, scode);
	return 0;
}

int sip_stack_reply_begun(struct sip_stack *s, const struct sip_msg *req, uint16_t scode, const char *reason,
			  const char *extra)
{
	return reply_stateless(s, req, scode, reason, extra, false);
}

size_t sip_stack_reply_room(const struct sip_msg *req, uint16_t scode)
{
	char tag[16];
	stateless_tag(req, tag, sizeof(tag));
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	size_t cap = SIP_STACK_REPLY_MAX_RATIO * req->len, room = 0;
	if (mb && !sip_print_response_compact(mb, req, scode, NULL, tag, NULL) && mb->end < cap)
		room = cap - mb->end;
	mem_deref(mb);
	return room;
}

/* RFC 3261 §11.2 lists Allow, Accept, Accept-Encoding, Accept-Language and
 * Supported as SHOULD. The two left out say nothing their absence does not: no
 * Accept-Encoding means identity (§20.2), no Accept-Language any language
 * (§20.3), and pbxd has neither another encoding nor another language; the
 * answer's size is what a forged OPTIONS reflects. */
static void reply_options(struct sip_stack *s, const struct sip_msg *req)
{
	const char *acc = method_accept(s, SIP_INVITE);
	char extra[512];
	snprintf(extra, sizeof(extra), "Allow: %s\r\nAccept: %s\r\nk: \r\n", s->allow,
		 acc ? acc : "application/sdp");
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
		if (pl_caseeq(&v, &t))
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
	if (!(s->methods & SIP_METHOD_BIT(req->mid)) && req->mid != SIP_OPTIONS && req->mid != SIP_CANCEL) {
		char extra[200];
		snprintf(extra, sizeof(extra), "Allow: %s\r\n", s->allow);
		sip_stack_reply_stateless(s, req, 405, NULL, extra);
		return true;
	}
	if (req->ruri.scheme_id == SIP_SCHEME_OTHER) {
		sip_stack_reply_stateless(s, req, 416, NULL, NULL);
		return true;
	}
	/* §8.2.2.2: the request of a live transaction, come again along another
	 * path (forked upstream): a loop, answered as one. */
	if (sip_tsx_request_merged(s->tsx, req)) {
		sip_stack_reply_stateless(s, req, 482, NULL, NULL);
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
		const char *acc = method_accept(s, req->mid);
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
	const char *produces = method_produces(s, req->mid);
	if (produces && sip_msg_hdr(req, SIP_HDR_ACCEPT) &&
	    sip_msg_hdr_apply(req, SIP_HDR_ACCEPT, accept_find, (void *)(uintptr_t)produces) != 1) {
		char extra[200];
		snprintf(extra, sizeof(extra), "Accept: %s\r\n", produces);
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
	 * INVITE again and gets the same 200. It belongs to a transaction the source
	 * already has, so it spends no budget. */
	reply_stateless(s, req, 200, NULL, NULL, false);
	sip_stsx_cancel(inv, s->server_hdr);
}

static void handle_request(struct sip_stack *s, struct sip_msg *req)
{
	if (s->filter && !s->filter(req, s->filter_arg))
		return;
	if (sip_tsx_request_absorb(s->tsx, req))
		return;
	if (req->mid == SIP_ACK) {
		chain_offer(s, req);
		return;
	}
	if (uas_checks(s, req))
		return;
	if (req->mid == SIP_CANCEL) {
		handle_cancel(s, req);
		return;
	}
	if (chain_offer(s, req))
		return;
	if (req->mid == SIP_OPTIONS)
		reply_options(s, req);
	else
		sip_stack_reply_stateless(s, req, 404, NULL, NULL);
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
	/* Over WebSocket the framing delimits the message, as a datagram does. */
	bool stream = src->tp == SIP_TP_TCP || src->tp == SIP_TP_TLS;
	int err = sip_msg_parse(&msg, data, len, stream ? SIP_PARSE_STREAM : 0, &perr);
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
		if (msg && perr.scode && msg->mid != SIP_ACK && msg->req && (!s->filter || s->filter(msg, s->filter_arg)))
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

/* A stream connection failed with requests of ours on it (RFC 3261 §17.1.4). */
static void on_tp_err(const struct sip_peer *p, int err, void *arg)
{
	struct sip_stack *s = arg;
	sip_tsx_transport_error(s->tsx, p, err);
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
	uint16_t tlsport = (uint16_t)conf_int(conf, "sip-tls-port");
	uint16_t wssport = (uint16_t)conf_int(conf, "sip-wss-port");
	uint16_t wsport = (uint16_t)conf_int(conf, "sip-ws-port");
	int err = 0, nok = 0;
	for (char *a = strtok_r(list, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
		struct sa sa;
		if (sa_set(&sa, a, 0)) {
			log_error("sip-address: '%s' is not an IP address", a);
			err = EINVAL;
			break;
		}
		const struct { enum sip_transport_kind k; uint16_t port; } want[] = {
			{ SIP_TP_UDP, uport }, { SIP_TP_TCP, tport }, { SIP_TP_TLS, tlsport },
			{ SIP_TP_WSS, wssport }, { SIP_TP_WS, wsport },
		};
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
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

/* TLS and WSS need the certificate before they listen. The paths are resolved
 * by the caller (main: the HTTPS pair unless --sip-tls-cert is given). */
static int tls_setup(struct sip_stack *s, const struct conf *conf)
{
	if (!conf_int(conf, "sip-tls-port") && !conf_int(conf, "sip-wss-port"))
		return 0;
	const char *cert = conf_str(conf, "sip-tls-cert"), *key = conf_str(conf, "sip-tls-key");
	if (!cert || !*cert || !key || !*key) {
		log_error("SIP TLS/WSS: --sip-tls-cert and --sip-tls-key are needed (or turn off --sip-tls-port and"
			  " --sip-wss-port)");
		return EINVAL;
	}
	snprintf(s->tls_cert, sizeof(s->tls_cert), "%s", cert);
	snprintf(s->tls_key, sizeof(s->tls_key), "%s", key);
	char why[512];
	int e = sip_transport_tls_load(s->tp, s->tls_cert, s->tls_key, why, sizeof(why));
	if (e)
		log_error("SIP TLS: %s", why);
	return e;
}

int sip_stack_tls_reload(struct sip_stack *s)
{
	if (!s->tls_cert[0])
		return ENOENT;
	char why[512];
	int e = sip_transport_tls_load(s->tp, s->tls_cert, s->tls_key, why, sizeof(why));
	if (e)
		log_error("SIP TLS: the certificate was not reloaded, the one in use stays: %s", why);
	return e;
}

int sip_stack_alloc(struct sip_stack **sp, struct loop *loop, const struct conf *conf)
{
	struct sip_stack *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->loop = loop;
	s->trace = conf_bool(conf, "sip-trace");
	uint32_t rate = (uint32_t)conf_int(conf, "sip-stateless-rate");
	int e = rate ? sip_stack_limit_alloc(&s->limit, rate, (uint32_t)conf_int(conf, "sip-stateless-burst")) : 0;
	if (e) {
		free(s);
		return e;
	}
	snprintf(s->server_hdr, sizeof(s->server_hdr), "Server: %s\r\n", conf_str(conf, "sip-server-name"));
	allow_build(s);
	struct sip_tp_conf tc = {
		.tcp_max_conns = (unsigned)conf_int(conf, "sip-tcp-max-connections"),
		.tcp_max_conns_per_ip = (unsigned)conf_int(conf, "sip-tcp-max-per-address"),
		.tcp_idle_s = (unsigned)conf_int(conf, "sip-tcp-idle-timeout"),
	};
	struct sip_tsx_timers tm = {
		(uint32_t)conf_int(conf, "sip-t1"), (uint32_t)conf_int(conf, "sip-t2"), (uint32_t)conf_int(conf, "sip-t4"),
		(uint32_t)conf_int(conf, "sip-timer-c") * 1000,
	};
	int err = sip_transport_alloc(&s->tp, loop, &tc, on_recv, s);
	if (!err)
		err = sip_tsx_layer_alloc(&s->tsx, loop_timers(loop), &tm, tsx_send, s);
	if (!err) {
		sip_transport_err_handler_set(s->tp, on_tp_err, s);
		sip_tsx_layer_max_set(s->tsx, (size_t)conf_int(conf, "sip-max-transactions"));
		err = tls_setup(s, conf);
	}
	if (!err) {
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
	sip_stack_limit_free(s->limit);
	free(s);
}
