/* libFuzzer target for the registrar behind the real receive path: each input is
 * one SIP message fed to sip_stack_input() of a stack on which the whole pbx layer
 * is installed (pbx_alloc: directory, location service, security filter, authn,
 * registrar, keep-alives, calls), so the stack's checks, the security filter,
 * Authorization parsing and digest verification against a real extension, the
 * Contact/Expires/Path handling, the CSeq ordering and the location service all
 * run on fuzzed bytes, as does what the timers do later (transactions ending,
 * bindings expiring, keep-alives going unanswered, batches saved by the worker).
 *
 * The first byte is a set of flags; the rest is the message:
 *   0x01  arrives over TCP (without a connection: answers open one to a port
 *         nobody listens on, and are refused at once), else UDP
 *   0x02  with 0x04 too: from 127.0.0.2, an untrusted source that gets banned
 *         after 5 failed authentications within a second (for a second); all
 *         else comes from 127.0.0.1, which is trusted (never banned)
 *   0x04  the harness inserts a valid Authorization line after the request line:
 *         MD5, qop=auth, username 101 of realm fz.test, on a nonce the server
 *         issued (captured from a real 401 at start), with a fresh nc per input,
 *         so that what follows authentication is reached (the To must still be
 *         sip:101@fz.test for the credentials to be the AOR's own)
 *   0x08  SHA-256 instead of MD5
 *   0x10  the response computed with a wrong password (a failure, counted)
 *   0x20  username 102 instead of 101 (also an extension with a known password)
 * Set up once per process: a temp data dir with tenant fz.test (extensions 101,
 * 102, and 103 disabled) and a disabled tenant off.test, a loop that is pumped
 * once per input (timers at real time), a UDP listener on 127.0.0.1, the storage
 * worker. Answers go to UDP sockets of the harness bound on 127.0.0.1 and
 * 127.0.0.2, which read them back: when the input parsed, every message pbxd
 * sends must parse too (a response pbxd cannot parse itself is a finding; the
 * harness aborts). A refused input may be answered with its own broken headers.
 * The keep-alive OPTIONS pbxd sends registered devices arrive there too; the
 * harness answers those of about half the devices (chosen by their URI).
 * FUZZ_PBX_TRACE=1 prints what comes back, and pbxd's log at info level, to show
 * what an input reached. A crash leaves the data dir (/tmp/pbxd-fuzz-reg-*)
 * behind; a run that ends normally removes it. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "core/timer.h"
#include "media/media.h"
#include "pbx/call/call.h"
#include "pbx/keepalive.h"
#include "pbx/pbx.h"
#include "pbx/registrar/registrar.h"
#include "pbx/security.h"
#include "pbx/trunk/trunks.h"
#include "pbx/webhooks.h"
#include "sip/auth.h"
#include "sip/msg.h"
#include "sip/print.h"
#include "sip/stack.h"
#include "sip/transport.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DOMAIN "fz.test"
#define NONCE_REFRESH_S 3600 /* well within auth-nonce-lifetime below */

enum { F_TCP = 0x01, F_UNTRUSTED = 0x02, F_AUTH = 0x04, F_SHA256 = 0x08, F_WRONG = 0x10, F_USER102 = 0x20 };

static struct {
	bool ready;
	char dir[32];
	struct conf conf;
	struct conf_opt *opts;
	struct loop *loop;
	struct sip_stack *sip;
	struct store *st;
	struct store_worker *worker;
	struct pbx *pbx;
	struct sa local;   /* the stack's UDP listener */
	int udp[2], tcp[2]; /* per source (127.0.0.1, 127.0.0.2): answers come back on udp */
	struct sa src_udp[2], src_tcp[2];
	struct tmr stop;
	char nonce[128];
	uint32_t nc;
	time_t nonce_at;
	char *rbuf; /* answers read back */
	bool trace; /* FUZZ_PBX_TRACE=1: print them (to see what an input reaches) */
	bool check; /* the input parsed: what pbxd sends now must parse too */
} fz;

/* An invariant of the harness or of pbxd: checked in every build type. */
static void require(bool ok)
{
	if (!ok)
		abort();
}

/* ---- set-up ----------------------------------------------------------------- */

static void on_stop(void *arg)
{
	loop_stop(arg);
}

/* One turn of the loop: due timers fire (at the real monotonic time), ready
 * descriptors are handled, without waiting. */
static void pump(void)
{
	tmr_start(loop_timers(fz.loop), &fz.stop, 0, on_stop, fz.loop);
	loop_run(fz.loop);
	tmr_cancel(&fz.stop);
}

static int bound_socket(int type, const char *addr, struct sa *out)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sa sa;
	sa_set(&sa, addr, 0);
	socklen_t len = sizeof(sa.u);
	if (bind(fd, &sa.u.sa, sa.len) < 0 || getsockname(fd, &out->u.sa, &len) < 0) {
		close(fd);
		return -1;
	}
	out->len = len;
	return fd;
}

static const struct {
	const struct conf_opt *opts;
	const size_t *n;
} tables[] = {
	{ sip_stack_opts, &sip_stack_opts_count },   { sip_transport_opts, &sip_transport_opts_count },
	{ pbx_opts, &pbx_opts_count },               { registrar_opts, &registrar_opts_count },
	{ security_opts, &security_opts_count },     { keepalive_opts, &keepalive_opts_count },
	{ call_opts, &call_opts_count },             { media_opts, &media_opts_count },
	{ webhooks_opts, &webhooks_opts_count },     { trunk_opts, &trunk_opts_count },
};

static int conf_setup(uint16_t udp_port)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		n += *tables[i].n;
	fz.opts = calloc(n, sizeof(*fz.opts));
	if (!fz.opts)
		return ENOMEM;
	n = 0;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		memcpy(fz.opts + n, tables[i].opts, *tables[i].n * sizeof(*fz.opts));
		n += *tables[i].n;
	}
	if (conf_init(&fz.conf, fz.opts, n))
		return ENOMEM;
	char port[8];
	snprintf(port, sizeof(port), "%u", udp_port);
	const char *const set[][2] = {
		{ "sip-address", "127.0.0.1" },
		{ "sip-udp-port", port },
		{ "sip-tcp-port", "0" }, { "sip-tls-port", "0" }, { "sip-wss-port", "0" },
		/* transactions end within 64*T1 = 640 ms, so few are alive at once */
		{ "sip-t1", "10" },
		{ "sip-t2", "100" },
		{ "sip-t4", "100" },
		{ "sip-max-transactions", "20000" },
		{ "sip-source-rate", "0" },
		{ "register-rate", "0" },
		/* bindings that come and go within the run */
		{ "register-min-expires", "1" },
		{ "register-max-expires", "20" },
		{ "register-default-expires", "5" },
		{ "register-max-contacts", "10" },
		{ "register-keepalive", "1" },
		{ "register-keepalive-misses", "2" },
		{ "auth-nonce-lifetime", "86400" },
		{ "auth-max-failures", "5" },
		{ "auth-window", "1" },
		{ "auth-ban-time", "1" },
		{ "trusted-addresses", "127.0.0.1/32" },
	};
	char err[256];
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		if (conf_set(&fz.conf, set[i][0], set[i][1], err, sizeof(err))) {
			fprintf(stderr, "fuzz_pbx_register: %s=%s: %s\n", set[i][0], set[i][1], err);
			return EINVAL;
		}
	}
	return 0;
}

static int store_setup(void)
{
	int e = store_open(&fz.st, fz.dir);
	if (e)
		return e;
	struct store_tenant t = { .enabled = true }, off = { .enabled = false };
	snprintf(t.name, sizeof(t.name), "FZ");
	snprintf(t.domain, sizeof(t.domain), DOMAIN);
	snprintf(off.name, sizeof(off.name), "OFF");
	snprintf(off.domain, sizeof(off.domain), "off.test");
	if ((e = store_tenant_create(fz.st, &t, NULL)) || (e = store_tenant_create(fz.st, &off, NULL)))
		return e;
	const struct {
		uint64_t tenant;
		const char *user, *ext;
		bool enabled;
	} users[] = {
		{ t.id, "u101", "101", true },
		{ t.id, "u102", "102", true },
		{ t.id, "u103", "103", false },
		{ off.id, "o101", "101", true },
	};
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		struct store_user u = { .tenant_id = users[i].tenant, .enabled = users[i].enabled };
		snprintf(u.username, sizeof(u.username), "%s", users[i].user);
		snprintf(u.email, sizeof(u.email), "%s@fz.test", users[i].user);
		snprintf(u.ext_number, sizeof(u.ext_number), "%s", users[i].ext);
		snprintf(u.ext_password, sizeof(u.ext_password), "sip-secret-%s", users[i].ext);
		if ((e = store_pw_hash("fuzz-pass1", u.pw_hash, sizeof(u.pw_hash))) || (e = store_user_create(fz.st, &u)))
			return e;
	}
	return 0;
}

/* ---- sending and reading back ------------------------------------------------ */

static void input(const char *msg, size_t len, bool tcp, int src)
{
	/* A request the parser refuses may still be answered (400 and the like),
	 * and its answer then carries the broken headers back: only the answers to
	 * a message that parses are held to parsing themselves. */
	struct sip_msg *m = NULL;
	struct sip_perr perr;
	fz.check = sip_msg_parse(&m, msg, len, tcp ? SIP_PARSE_STREAM : 0, &perr) == 0;
	mem_deref(m);
	struct sip_peer peer = {
		.tp = tcp ? SIP_TP_TCP : SIP_TP_UDP,
		.addr = tcp ? fz.src_tcp[src] : fz.src_udp[src],
		.local = fz.local,
		.fd = -1,
	};
	sip_stack_input(fz.sip, &peer, msg, len);
}

/* The keep-alive OPTIONS pbxd sends a device get their 200 back when the
 * device's URI hashes even (so the response path and a device that answers are
 * covered); the others go unanswered (and the device is dropped as unreachable). */
static void answer_ping(const struct sip_msg *req, int src)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < req->ruri_raw.l; i++)
		h = (h ^ (uint8_t)req->ruri_raw.p[i]) * 16777619u;
	if (h & 1)
		return;
	struct mbuf *mb = mbuf_alloc(512, SIP_MSG_MAX_SIZE);
	require(mb != NULL);
	if (sip_print_response(mb, req, 200, NULL, "fzka", NULL, NULL, NULL) == 0) {
		bool check = fz.check;
		input((const char *)mb->buf, mb->end, false, src);
		fz.check = check;
	}
	mem_deref(mb);
}

/* Reads what pbxd sent to source src's socket; each datagram must parse. When
 * nonce is given, copies the nonce of the first challenge into it. */
static void read_back(int src, char *nonce, size_t size)
{
	for (;;) {
		ssize_t n = recv(fz.udp[src], fz.rbuf, SIP_MSG_MAX_SIZE + 1, MSG_DONTWAIT);
		if (n < 0)
			return;
		if (fz.trace)
			fprintf(stderr, "--- pbxd sent to source %d:\n%.*s\n", src, (int)n, fz.rbuf);
		struct sip_msg *m = NULL;
		struct sip_perr perr;
		int e = sip_msg_parse(&m, fz.rbuf, (size_t)n, 0, &perr);
		if (e && fz.check) {
			fprintf(stderr, "fuzz_pbx_register: pbxd sent a message it cannot parse (%s):\n%.*s\n",
				perr.reason ? perr.reason : strerror(e), (int)n, fz.rbuf);
			abort();
		}
		if (!e && nonce && !nonce[0] && !m->req && m->scode == 401) {
			fz.rbuf[n] = '\0';
			const char *p = strstr(fz.rbuf, "nonce=\"");
			const char *q = p ? strchr(p + 7, '"') : NULL;
			if (q && (size_t)(q - p - 7) < size) {
				memcpy(nonce, p + 7, (size_t)(q - p - 7));
				nonce[q - p - 7] = '\0';
			}
		}
		if (!e && m->req && m->mid == SIP_OPTIONS)
			answer_ping(m, src);
		mem_deref(m);
	}
}

/* A nonce the server issued: sends a REGISTER without credentials and reads the
 * 401's. */
static int nonce_fetch(void)
{
	static const char reg[] = "REGISTER sip:" DOMAIN " SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-fz-nonce\r\n"
				  "Max-Forwards: 70\r\n"
				  "From: <sip:101@" DOMAIN ">;tag=fz\r\n"
				  "To: <sip:101@" DOMAIN ">\r\n"
				  "Call-ID: fz-nonce\r\n"
				  "CSeq: 1 REGISTER\r\n"
				  "Contact: <sip:101@127.0.0.1:5099>\r\n"
				  "Content-Length: 0\r\n\r\n";
	char nonce[sizeof(fz.nonce)] = "";
	read_back(0, NULL, 0); /* whatever was pending */
	input(reg, sizeof(reg) - 1, false, 0);
	struct pollfd pfd = { .fd = fz.udp[0], .events = POLLIN };
	if (poll(&pfd, 1, 2000) != 1)
		return EIO;
	read_back(0, nonce, sizeof(nonce));
	if (!nonce[0])
		return EIO;
	memcpy(fz.nonce, nonce, sizeof(nonce));
	fz.nc = 0;
	fz.nonce_at = time(NULL);
	return 0;
}

static void teardown(void)
{
	if (!fz.ready)
		return;
	fz.ready = false;
	/* In pbxd's order (src/main.c): the worker finishes its jobs, then the PBX
	 * saves what is left itself and lets go. */
	store_worker_stop(fz.worker);
	pbx_free(fz.pbx);
	store_close(fz.st);
	sip_stack_free(fz.sip);
	tmr_cancel(&fz.stop);
	loop_free(fz.loop);
	conf_close(&fz.conf);
	free(fz.opts);
	free(fz.rbuf);
	for (int i = 0; i < 2; i++) {
		close(fz.udp[i]);
		close(fz.tcp[i]);
	}
	static const char *const files[] = { "pbxd.db", "pbxd.db-wal", "pbxd.db-shm", "pbxd.db-journal" };
	char p[64];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz.dir, files[i]);
		unlink(p);
	}
	rmdir(fz.dir);
}

static int setup(void)
{
	fz.trace = getenv("FUZZ_PBX_TRACE") && *getenv("FUZZ_PBX_TRACE") == '1';
	log_set_level(fz.trace ? LOG_INFO : LOG_ERROR);
	store_pw_set_fast(true);
	snprintf(fz.dir, sizeof(fz.dir), "/tmp/pbxd-fuzz-reg-XXXXXX");
	if (!mkdtemp(fz.dir))
		return errno;
	fz.rbuf = malloc(SIP_MSG_MAX_SIZE + 2);
	if (!fz.rbuf)
		return ENOMEM;
	static const char *const srcs[2] = { "127.0.0.1", "127.0.0.2" };
	for (int i = 0; i < 2; i++) {
		/* TCP: bound, never listening, so a connection to it is refused at once */
		fz.udp[i] = bound_socket(SOCK_DGRAM, srcs[i], &fz.src_udp[i]);
		fz.tcp[i] = bound_socket(SOCK_STREAM, srcs[i], &fz.src_tcp[i]);
		if (fz.udp[i] < 0 || fz.tcp[i] < 0)
			return EIO;
	}
	int e = loop_alloc(&fz.loop);
	if (e)
		return e;
	/* The stack listens on a port that was free a moment ago (0 means "off" in
	 * its options); another process may take it in between: try again. */
	for (int tries = 0; tries < 20; tries++) {
		struct sa probe;
		int fd = bound_socket(SOCK_DGRAM, "127.0.0.1", &probe);
		if (fd < 0)
			return EIO;
		close(fd);
		conf_close(&fz.conf);
		free(fz.opts);
		fz.opts = NULL;
		if ((e = conf_setup(sa_port(&probe))))
			return e;
		e = sip_stack_alloc(&fz.sip, fz.loop, &fz.conf);
		if (!e) {
			fz.local = probe;
			break;
		}
	}
	if (e)
		return e;
	sip_transport_configure(sip_stack_transport(fz.sip), &fz.conf);
	if ((e = store_setup()))
		return e;
	if ((e = store_worker_start(&fz.worker, fz.dir)))
		return e;
	if ((e = pbx_alloc(&fz.pbx, fz.loop, fz.sip, &fz.conf, fz.st, fz.worker)))
		return e;
	fz.ready = true;
	atexit(teardown);
	return nonce_fetch();
}

/* ---- credentials -------------------------------------------------------------- */

/* "Authorization: Digest ...\r\n" for the next nc of our nonce, into out. */
static size_t credentials(uint8_t flags, char *out, size_t size)
{
	if ((fz.nc >= 0xfffffff0u || time(NULL) - fz.nonce_at > NONCE_REFRESH_S) && nonce_fetch())
		abort(); /* the server stopped issuing nonces */
	const char *user = (flags & F_USER102) ? "102" : "101";
	const char *alg = (flags & F_SHA256) ? "SHA-256" : "MD5";
	unsigned nc = ++fz.nc;
	char hval[512];
	const char *fmt = "Digest username=\"%s\", realm=\"" DOMAIN "\", nonce=\"%s\", uri=\"sip:" DOMAIN
			  "\", response=\"%s\", algorithm=%s, qop=auth, nc=%08x, cnonce=\"fz%x\"";
	/* Parsed first with a dummy response, so that the client-side computation
	 * reads the same fields pbxd will. */
	static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
	snprintf(hval, sizeof(hval), fmt, user, fz.nonce, (flags & F_SHA256) ? zeros : zeros + 32, alg, nc, nc);
	struct sip_auth_cred c;
	struct pl hv = pl_cstr(hval);
	require(sip_auth_cred_parse(&c, &hv) == 0);
	char pw[32], ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];
	snprintf(pw, sizeof(pw), "sip-secret-%s%s", user, (flags & F_WRONG) ? "x" : "");
	struct pl u = pl_cstr(user), realm = PL(DOMAIN), method = PL("REGISTER");
	require(sip_auth_ha1_compute(ha1, sizeof(ha1), c.alg, &u, &realm, pw) == 0);
	require(sip_auth_response_compute(resp, sizeof(resp), &c, &method, ha1) == 0);
	int n = snprintf(out, size, "Authorization: ");
	n += snprintf(out + n, size - (size_t)n, fmt, user, fz.nonce, resp, alg, nc, nc);
	n += snprintf(out + n, size - (size_t)n, "\r\n");
	require(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* ---- the entry ------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz.ready && setup()) {
		fprintf(stderr, "fuzz_pbx_register: set-up failed\n");
		abort();
	}
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	if (fz.trace)
		fprintf(stderr, "--- input: flags 0x%02x, %zu bytes\n", flags, size - 1);
	const char *msg = (const char *)data + 1;
	size_t len = size - 1;
	bool tcp = flags & F_TCP;
	int src = (flags & (F_UNTRUSTED | F_AUTH)) == (F_UNTRUSTED | F_AUTH) ? 1 : 0;

	const char *nl = (flags & F_AUTH) ? memchr(msg, '\n', len) : NULL;
	if (nl) {
		/* The credentials go right after the request line: the first
		 * Authorization for our realm is the one pbxd checks. */
		char cred[640];
		size_t head = (size_t)(nl - msg) + 1, cl = credentials(flags, cred, sizeof(cred));
		char *buf = malloc(len + cl);
		require(buf != NULL);
		memcpy(buf, msg, head);
		memcpy(buf + head, cred, cl);
		memcpy(buf + head + cl, msg + head, len - head);
		input(buf, len + cl, tcp, src);
		free(buf);
	} else {
		input(msg, len, tcp, src);
	}
	pump();
	read_back(0, NULL, 0);
	read_back(1, NULL, 0);
	return 0;
}
