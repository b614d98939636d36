/* reggen: a REGISTER load generator with per-user digest credentials, which SIPp
 * 3.6 cannot do (its -au/-ap are one pair for the whole run).
 *
 * Users are the extensions FIRST .. FIRST+USERS-1 of one domain; the password of
 * extension N is PREFIX followed by N ("pw-1000"), so any server can be given the
 * same table. Each registration is what a phone does: REGISTER sip:DOMAIN without
 * credentials, then, on the 401 (or 407), the same request with MD5 digest
 * credentials (qop=auth with a fresh cnonce and nc=00000001 when the challenge
 * offers qop, RFC 2069 otherwise; of several challenges the first with algorithm
 * MD5, or none, is answered). Every user keeps its Call-ID and From tag and counts
 * its CSeq up, so a registrar sees refreshes of one binding per user.
 *
 * Registrations start at a fixed rate (per second) until COUNT have started or
 * SECONDS have passed, taking the users round robin and skipping those whose
 * previous registration is still in flight. A request unanswered after 500 ms is
 * sent once more; one unanswered TIMEOUT ms after its first sending is a timeout.
 * A final answer other than 200 (a 401 to credentials, 403, a 503 with or without
 * Retry-After, ...) is a failure. At the end the totals are printed, the last line
 * machine-readable:
 *   RESULT started=N ok=N failed=N timeouts=N retransmits=N elapsed=S
 *
 * A request reggen receives (an OPTIONS keep-alive to a registered Contact) is
 * answered 200, as a phone would.
 *
 * Exit status: 0 when the run happened (whatever its failures), 2 on bad usage
 * or when the socket cannot be set up.
 *
 * usage: reggen [-d DOMAIN] [-f FIRST] [-n USERS] [-p PREFIX] [-r RATE] [-c COUNT]
 *               [-t SECONDS] [-e EXPIRES] [-s SOCKETS] [-l LOCALADDR] [-T TIMEOUT_MS]
 *               [-q] HOST:PORT
 * Plain C17 and POSIX; links with libcrypto (OpenSSL) for MD5. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RETRANSMIT_MS 500
#define MAX_SOCKETS 64
#define MAX_STATUS 700

enum state { IDLE, WAIT_CHALLENGE, WAIT_FINAL };

struct user {
	enum state state;
	uint32_t cseq;
	uint32_t gen; /* bumped for every new request: it is in the Via branch */
	int sock;
	bool retransmitted;
	uint64_t sent_ms; /* first sending of the current request */
	char ext[16];
	char password[64];
	char callid[48];
	char tag[20];
	size_t len; /* the current request, kept for its retransmission */
	char *msg;
};

struct cfg {
	const char *domain;
	unsigned long first;
	unsigned long users;
	const char *prefix;
	double rate;
	unsigned long count;
	double seconds;
	unsigned long expires;
	int nsock;
	const char *local;
	unsigned long timeout_ms;
	bool quiet;
};

struct totals {
	unsigned long started, ok, failed, timeouts, retransmits, stray, bad_challenge;
	unsigned long status[MAX_STATUS];
};

static struct cfg cfg = { "bench.test", 1000, 200, "pw-", 1000, 0, 0, 3600, 1, "127.0.0.1", 2000, false };
static struct totals tot;
static struct user *users;
static int socks[MAX_SOCKETS];
static unsigned short sock_port[MAX_SOCKETS];
static struct sockaddr_in server;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

#define REQ_MAX 2048

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(void)
{
	/* xorshift64*: cnonces and tags need to differ, not to be secret */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

static void md5_hex(const char *s, size_t n, char out[33])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (!EVP_Digest(s, n, d, &dl, EVP_md5(), NULL) || dl != 16) {
		fprintf(stderr, "reggen: MD5 unavailable\n");
		exit(2);
	}
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---------------------------------------------------------------- parsing */

struct span {
	const char *p;
	size_t l;
};

static bool span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.l == n && strncasecmp(s.p, lit, n) == 0;
}

struct challenge {
	bool found;
	bool proxy;
	struct span realm, nonce, opaque, algorithm;
	bool qop_auth, has_qop;
};

/* Parses the parameters of one "Digest ..." challenge; false unless it is a
 * Digest challenge with a realm and a nonce. */
static bool parse_challenge(const char *p, const char *end, struct challenge *c)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 7 || strncasecmp(p, "Digest", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return false;
	p += 7;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *name = p;
		while (p < end && *p != '=' && *p != ',' && *p != ' ')
			p++;
		struct span n = { name, (size_t)(p - name) };
		while (p < end && *p == ' ')
			p++;
		struct span v = { p, 0 };
		if (p < end && *p == '=') {
			p++;
			while (p < end && *p == ' ')
				p++;
			if (p < end && *p == '"') {
				v.p = ++p;
				while (p < end && *p != '"') {
					if (*p == '\\' && p + 1 < end)
						p++;
					p++;
				}
				v.l = (size_t)(p - v.p);
				if (p < end)
					p++;
			} else {
				v.p = p;
				while (p < end && *p != ',' && *p != ' ' && *p != '\t')
					p++;
				v.l = (size_t)(p - v.p);
			}
		}
		if (span_ieq(n, "realm"))
			c->realm = v;
		else if (span_ieq(n, "nonce"))
			c->nonce = v;
		else if (span_ieq(n, "opaque"))
			c->opaque = v;
		else if (span_ieq(n, "algorithm"))
			c->algorithm = v;
		else if (span_ieq(n, "qop")) {
			c->has_qop = true;
			/* a list such as "auth,auth-int": look for the token auth */
			const char *q = v.p, *qe = v.p + v.l;
			while (q < qe) {
				while (q < qe && (*q == ',' || *q == ' '))
					q++;
				const char *t = q;
				while (q < qe && *q != ',' && *q != ' ')
					q++;
				if (span_ieq((struct span){ t, (size_t)(q - t) }, "auth"))
					c->qop_auth = true;
			}
		}
	}
	return c->realm.p && c->nonce.p;
}

struct response {
	int status;
	struct span branch;
	struct challenge ch;
};

/* Takes apart what reggen needs of a response: status, top Via branch and the
 * first MD5 digest challenge. */
static bool parse_response(const char *buf, size_t n, struct response *r)
{
	memset(r, 0, sizeof(*r));
	const char *p = buf, *end = buf + n;
	if (n < 12 || strncmp(p, "SIP/2.0 ", 8) != 0)
		return false;
	r->status = atoi(p + 8);
	if (r->status < 100 || r->status >= MAX_STATUS)
		return false;
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol)
		return false;
	p = eol + 1;
	bool via_seen = false;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *lend = le;
		if (lend > p && lend[-1] == '\r')
			lend--;
		if (lend == p)
			break; /* end of the headers */
		const char *colon = memchr(p, ':', (size_t)(lend - p));
		if (colon) {
			const char *ne = colon;
			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			struct span name = { p, (size_t)(ne - p) };
			const char *v = colon + 1;
			if (!via_seen && (span_ieq(name, "Via") || span_ieq(name, "v"))) {
				via_seen = true;
				const char *b = v;
				size_t bl = (size_t)(lend - v);
				for (size_t i = 0; i + 7 <= bl; i++) {
					if (strncasecmp(b + i, "branch=", 7) == 0) {
						const char *s = b + i + 7, *e = s;
						while (e < lend && *e != ';' && *e != ',' && *e != ' ')
							e++;
						r->branch = (struct span){ s, (size_t)(e - s) };
						break;
					}
				}
			} else if (!r->ch.found && (span_ieq(name, "WWW-Authenticate") ||
						    span_ieq(name, "Proxy-Authenticate"))) {
				struct challenge c = { 0 };
				c.proxy = span_ieq(name, "Proxy-Authenticate");
				if (parse_challenge(v, lend, &c) && (!c.algorithm.p || span_ieq(c.algorithm, "MD5"))) {
					c.found = true;
					r->ch = c;
				}
			}
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return true;
}

/* ---------------------------------------------------------------- requests */

static void send_current(struct user *u)
{
	ssize_t w = sendto(socks[u->sock], u->msg, u->len, 0, (const struct sockaddr *)&server, sizeof(server));
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != ECONNREFUSED)
		fprintf(stderr, "reggen: sendto: %s\n", strerror(errno));
}

/* Builds the next request of user u, with credentials when ch is given. */
static void build_request(struct user *u, unsigned idx, const struct challenge *ch)
{
	u->gen++;
	u->cseq++;
	char auth[1024] = "";
	if (ch) {
		char a1[512], ha1[33], ha2[33], resp[33], a2[256], kd[768];
		snprintf(a1, sizeof(a1), "%s:%.*s:%s", u->ext, (int)ch->realm.l, ch->realm.p, u->password);
		md5_hex(a1, strlen(a1), ha1);
		int n2 = snprintf(a2, sizeof(a2), "REGISTER:sip:%s", cfg.domain);
		md5_hex(a2, (size_t)n2, ha2);
		char cnonce[17];
		snprintf(cnonce, sizeof(cnonce), "%016" PRIx64, rnd());
		int nk;
		if (ch->qop_auth)
			nk = snprintf(kd, sizeof(kd), "%s:%.*s:00000001:%s:auth:%s", ha1, (int)ch->nonce.l,
				      ch->nonce.p, cnonce, ha2);
		else
			nk = snprintf(kd, sizeof(kd), "%s:%.*s:%s", ha1, (int)ch->nonce.l, ch->nonce.p, ha2);
		md5_hex(kd, (size_t)nk, resp);
		int n = snprintf(auth, sizeof(auth),
				 "%s: Digest username=\"%s\", realm=\"%.*s\", nonce=\"%.*s\", uri=\"sip:%s\", "
				 "response=\"%s\", algorithm=MD5",
				 ch->proxy ? "Proxy-Authorization" : "Authorization", u->ext, (int)ch->realm.l,
				 ch->realm.p, (int)ch->nonce.l, ch->nonce.p, cfg.domain, resp);
		if (ch->qop_auth)
			n += snprintf(auth + n, sizeof(auth) - (size_t)n, ", cnonce=\"%s\", qop=auth, nc=00000001",
				      cnonce);
		if (ch->opaque.p)
			n += snprintf(auth + n, sizeof(auth) - (size_t)n, ", opaque=\"%.*s\"", (int)ch->opaque.l,
				      ch->opaque.p);
		snprintf(auth + n, sizeof(auth) - (size_t)n, "\r\n");
	}
	int n = snprintf(u->msg, REQ_MAX,
			 "REGISTER sip:%s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-rg%ux%u;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:%s@%s>;tag=%s\r\n"
			 "To: <sip:%s@%s>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %" PRIu32 " REGISTER\r\n"
			 "Contact: <sip:%s@%s:%u>\r\n"
			 "Expires: %lu\r\n"
			 "User-Agent: reggen\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 cfg.domain, cfg.local, sock_port[u->sock], idx, u->gen, u->ext, cfg.domain, u->tag, u->ext,
			 cfg.domain, u->callid, u->cseq, u->ext, cfg.local, sock_port[u->sock], cfg.expires, auth);
	if (n < 0 || n >= REQ_MAX) {
		fprintf(stderr, "reggen: request too long\n");
		exit(2);
	}
	u->len = (size_t)n;
	u->retransmitted = false;
	u->sent_ms = now_ms();
}

static unsigned long in_flight;

static void finish(struct user *u, bool ok, int status)
{
	if (ok)
		tot.ok++;
	else
		tot.failed++;
	if (status > 0 && status < MAX_STATUS)
		tot.status[status]++;
	u->state = IDLE;
	in_flight--;
}

static void on_datagram(const char *buf, size_t n)
{
	struct response r;
	if (!parse_response(buf, n, &r) || !r.branch.p) {
		tot.stray++;
		return;
	}
	unsigned idx, gen;
	char b[64];
	if (r.branch.l >= sizeof(b)) {
		tot.stray++;
		return;
	}
	memcpy(b, r.branch.p, r.branch.l);
	b[r.branch.l] = '\0';
	if (sscanf(b, "z9hG4bK-rg%ux%u", &idx, &gen) != 2 || idx >= cfg.users) {
		tot.stray++;
		return;
	}
	struct user *u = &users[idx];
	if (u->state == IDLE || u->gen != gen) {
		tot.stray++; /* an answer to a retransmission, or after a timeout */
		return;
	}
	if (r.status < 200)
		return;
	if (u->state == WAIT_CHALLENGE && (r.status == 401 || r.status == 407)) {
		if (!r.ch.found) {
			tot.bad_challenge++;
			finish(u, false, r.status);
			return;
		}
		build_request(u, idx, &r.ch);
		u->state = WAIT_FINAL;
		send_current(u);
		return;
	}
	finish(u, r.status >= 200 && r.status < 300, r.status);
}

/* A request to reggen (an OPTIONS keep-alive to a registered contact): 200 with
 * the request's Via, From, To, Call-ID and CSeq, as a phone answers. */
static unsigned long requests_answered;

static void answer_request(int s, const char *buf, size_t n, const struct sockaddr_in *from)
{
	char out[4096];
	int o = snprintf(out, sizeof(out), "SIP/2.0 200 OK\r\n");
	const char *p = memchr(buf, '\n', n), *end = buf + n;
	if (!p)
		return;
	for (p++; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end, *lend = le;
		if (lend > p && lend[-1] == '\r')
			lend--;
		if (lend == p)
			break;
		const char *colon = memchr(p, ':', (size_t)(lend - p));
		if (colon) {
			struct span name = { p, (size_t)(colon - p) };
			while (name.l && (name.p[name.l - 1] == ' ' || name.p[name.l - 1] == '\t'))
				name.l--;
			static const char *const copy[] = { "Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq" };
			for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
				if (span_ieq(name, copy[i]) && o < (int)sizeof(out)) {
					o += snprintf(out + o, sizeof(out) - (size_t)o, "%.*s\r\n", (int)(lend - p), p);
					break;
				}
			}
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	if (o < (int)sizeof(out))
		o += snprintf(out + o, sizeof(out) - (size_t)o, "Content-Length: 0\r\n\r\n");
	if (o >= (int)sizeof(out))
		return;
	if (sendto(s, out, (size_t)o, 0, (const struct sockaddr *)from, sizeof(*from)) >= 0)
		requests_answered++;
}

static void drain(int s)
{
	char buf[8192];
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED && errno != EINTR)
				fprintf(stderr, "reggen: recv: %s\n", strerror(errno));
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;
		}
		buf[n] = '\0';
		if (n > 8 && strncmp(buf, "SIP/2.0 ", 8) != 0)
			answer_request(s, buf, (size_t)n, &from);
		else
			on_datagram(buf, (size_t)n);
	}
}

static void check_timers(uint64_t t)
{
	for (unsigned long i = 0; i < cfg.users; i++) {
		struct user *u = &users[i];
		if (u->state == IDLE)
			continue;
		uint64_t age = t - u->sent_ms;
		if (age >= cfg.timeout_ms) {
			tot.timeouts++;
			tot.failed++;
			u->state = IDLE;
			in_flight--;
		} else if (!u->retransmitted && age >= RETRANSMIT_MS) {
			u->retransmitted = true;
			tot.retransmits++;
			send_current(u);
		}
	}
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr, "usage: reggen [-d DOMAIN] [-f FIRST] [-n USERS] [-p PREFIX] [-r RATE] [-c COUNT]\n"
			"              [-t SECONDS] [-e EXPIRES] [-s SOCKETS] [-l LOCALADDR] [-T TIMEOUT_MS] [-q]\n"
			"              HOST:PORT\n");
	exit(2);
}

static unsigned long num(const char *s)
{
	char *e;
	errno = 0;
	unsigned long v = strtoul(s, &e, 10);
	if (errno || e == s || *e)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "d:f:n:p:r:c:t:e:s:l:T:q")) != -1) {
		switch (opt) {
		case 'd': cfg.domain = optarg; break;
		case 'f': cfg.first = num(optarg); break;
		case 'n': cfg.users = num(optarg); break;
		case 'p': cfg.prefix = optarg; break;
		case 'r': cfg.rate = (double)num(optarg); break;
		case 'c': cfg.count = num(optarg); break;
		case 't': cfg.seconds = strtod(optarg, NULL); break;
		case 'e': cfg.expires = num(optarg); break;
		case 's': cfg.nsock = (int)num(optarg); break;
		case 'l': cfg.local = optarg; break;
		case 'T': cfg.timeout_ms = num(optarg); break;
		case 'q': cfg.quiet = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || cfg.users == 0 || cfg.rate <= 0 || cfg.nsock < 1 || cfg.nsock > MAX_SOCKETS ||
	    cfg.timeout_ms <= RETRANSMIT_MS)
		usage();
	if (cfg.count == 0 && cfg.seconds <= 0)
		cfg.seconds = 10;

	char host[64];
	const char *colon = strrchr(argv[optind], ':');
	if (!colon || (size_t)(colon - argv[optind]) >= sizeof(host))
		usage();
	memcpy(host, argv[optind], (size_t)(colon - argv[optind]));
	host[colon - argv[optind]] = '\0';
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	server.sin_port = htons((unsigned short)num(colon + 1));
	if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
		fprintf(stderr, "reggen: %s: not an IPv4 address\n", host);
		return 2;
	}

	struct pollfd pfd[MAX_SOCKETS];
	for (int i = 0; i < cfg.nsock; i++) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in la = { .sin_family = AF_INET };
		if (s < 0 || inet_pton(AF_INET, cfg.local, &la.sin_addr) != 1 ||
		    bind(s, (struct sockaddr *)&la, sizeof(la)) < 0 || fcntl(s, F_SETFL, O_NONBLOCK) < 0) {
			fprintf(stderr, "reggen: socket on %s: %s\n", cfg.local, strerror(errno));
			return 2;
		}
		int sz = 4 << 20;
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		socklen_t ll = sizeof(la);
		getsockname(s, (struct sockaddr *)&la, &ll);
		socks[i] = s;
		sock_port[i] = ntohs(la.sin_port);
		pfd[i] = (struct pollfd){ .fd = s, .events = POLLIN };
	}

	rng_state ^= (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	users = calloc(cfg.users, sizeof(*users));
	char *msgs = malloc(cfg.users * REQ_MAX);
	if (!users || !msgs) {
		fprintf(stderr, "reggen: out of memory\n");
		return 2;
	}
	for (unsigned long i = 0; i < cfg.users; i++) {
		struct user *u = &users[i];
		u->msg = msgs + i * REQ_MAX;
		u->sock = (int)(i % (unsigned long)cfg.nsock);
		snprintf(u->ext, sizeof(u->ext), "%lu", cfg.first + i);
		snprintf(u->password, sizeof(u->password), "%s%lu", cfg.prefix, cfg.first + i);
		snprintf(u->callid, sizeof(u->callid), "%016" PRIx64 "-%lu@reggen", rnd(), cfg.first + i);
		snprintf(u->tag, sizeof(u->tag), "%012" PRIx64, rnd() >> 16);
		u->cseq = 0;
	}

	double t0 = now_s();
	unsigned long next_user = 0;
	uint64_t last_scan = now_ms();
	bool starting = true;
	double start_secs = 0; /* how long starting took */
	double drain_until = 0;
	for (;;) {
		double t = now_s() - t0;
		if (starting) {
			if ((cfg.count && tot.started >= cfg.count) || (cfg.seconds > 0 && t >= cfg.seconds)) {
				starting = false;
				start_secs = t;
				drain_until = t + (double)cfg.timeout_ms / 1000.0 + 0.5;
			}
		}
		if (starting) {
			unsigned long due = (unsigned long)(t * cfg.rate) + 1;
			if (cfg.count && due > cfg.count)
				due = cfg.count;
			while (tot.started < due) {
				unsigned long tries = 0;
				while (users[next_user].state != IDLE && tries < cfg.users) {
					next_user = (next_user + 1) % cfg.users;
					tries++;
				}
				if (tries == cfg.users)
					break; /* every user in flight: the rate outruns them */
				struct user *u = &users[next_user];
				build_request(u, (unsigned)next_user, NULL);
				u->state = WAIT_CHALLENGE;
				send_current(u);
				tot.started++;
				in_flight++;
				next_user = (next_user + 1) % cfg.users;
			}
		} else if (in_flight == 0 || t >= drain_until) {
			break;
		}
		uint64_t ms = now_ms();
		if (ms - last_scan >= 10) {
			check_timers(ms);
			last_scan = ms;
		}
		/* wait for answers until the next start is due (at most 1 ms) */
		int wait = 1;
		if (starting) {
			double next = ((double)tot.started + 1) / cfg.rate;
			if (next <= now_s() - t0)
				wait = 0;
		}
		int n = poll(pfd, (nfds_t)cfg.nsock, wait);
		if (n > 0)
			for (int i = 0; i < cfg.nsock; i++)
				if (pfd[i].revents & POLLIN)
					drain(socks[i]);
	}
	double elapsed = now_s() - t0;
	unsigned long lost = in_flight; /* still unanswered when the drain ended */
	tot.timeouts += lost;
	tot.failed += lost;

	if (!cfg.quiet) {
		printf("reggen: %lu registrations to %s for %lu users at %.0f/s in %.2f s: %lu ok, %lu failed "
		       "(%lu timeouts), %lu retransmits\n",
		       tot.started, argv[optind], cfg.users, cfg.rate, elapsed, tot.ok, tot.failed, tot.timeouts,
		       tot.retransmits);
		bool any = false;
		for (int s = 300; s < MAX_STATUS; s++) {
			if (!tot.status[s])
				continue;
			if (!any)
				printf("  failures by status:");
			any = true;
			printf(" %d x%lu", s, tot.status[s]);
		}
		if (any)
			printf("\n");
		if (tot.bad_challenge)
			printf("  %lu challenges without an MD5 digest offer\n", tot.bad_challenge);
		if (start_secs > 0 && (double)tot.started < 0.98 * cfg.rate * start_secs)
			printf("  rate not reached: %.0f/s started (every user was in flight at times)\n",
			       (double)tot.started / start_secs);
		if (requests_answered)
			printf("  %lu requests from the server (keep-alives) answered 200\n", requests_answered);
		if (tot.stray)
			printf("  %lu late, duplicate or unknown answers ignored\n", tot.stray);
	}
	printf("RESULT started=%lu ok=%lu failed=%lu timeouts=%lu retransmits=%lu elapsed=%.3f\n", tot.started,
	       tot.ok, tot.failed, tot.timeouts, tot.retransmits, elapsed);
	free(msgs);
	free(users);
	return 0;
}
