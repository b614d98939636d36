/* bench/media/srtp: what a browser's leg costs pbxd's media worker against a
 * plain leg, in one run on one machine (issue 14's figures: SRTP adds at most
 * 1 us of CPU per relayed packet; a WebRTC call's set-up, ICE and DTLS, costs
 * at most 5 ms of CPU).
 *
 * The parent process is pbxd's media engine as the call engine drives it: a port
 * allocator, a media worker thread, CALLS relays. The child is the phones: per
 * call a "browser" socket and one shared "phone" socket. Two phases, each timed
 * with the parent's CPU (getrusage: the worker thread does the work; the main
 * thread only waits for replies):
 *   plain   CALLS relays, both sides plain RTP;
 *   webrtc  CALLS relays whose side 0 is a browser's: the child makes every ICE
 *           check and DTLS handshake (OpenSSL client, use_srtp AES-128-GCM, as
 *           Chrome picks), then sends SRTP from the browsers and RTP from the
 *           phone.
 * Media: 50 packets/s each way per call (172-byte RTP, 160 bytes of payload),
 * the child pacing every 20 ms, for SECONDS; in the plain phase the child also
 * protects a copy of each browser packet (and drops it), so that it loads the
 * machine alike in both phases (SRTP_NO_BURN=1: it does not). What the relays sent is read from
 * their stats. Printed: CPU per relayed packet of each phase, their difference
 * (what SRTP adds), their ratio, and CPU per call set-up of each phase.
 *
 * The two phases alternate SRTP_ROUNDS times (3): each round's difference is
 * printed, then all rounds' together and the median round's.
 *
 * Not a test: nothing asserts on the figures. Run it in a private network
 * namespace (bench/media/srtp.sh does). usage: srtp [CALLS [SECONDS]]. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "core/tlsfiles.h"
#include "media/dtls.h"
#include "media/media.h"
#include "media/stun.h"

#define PWD "bench-ice-password-0123456789"

enum { PORT_MIN = 36000, PORT_MAX = 39999 };

static int calls = 200, seconds = 10;
static bool cm_profile;

/* --- the parent: pbxd's side ---------------------------------------------------- */

struct host {
	struct loop *loop;
	struct mqueue *mq;
	struct media_ports *ports;
	struct media_worker *w;
	struct media_dtls_cert *cert;
	struct media_sockpair (*sp)[2];
	int got;
	struct media_relay_report *rep;
};

static void on_reply(int id, void *data, void *arg)
{
	struct host *h = arg;
	h->got = id;
	h->rep = data;
	loop_stop(h->loop);
}

static struct media_relay_report *wait_reply(struct host *h)
{
	h->rep = NULL;
	while (!h->rep)
		loop_run(h->loop);
	return h->rep;
}

static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t relayed(struct host *h)
{
	uint64_t n = 0;
	for (int i = 0; i < calls; i++) {
		media_relay_stats(h->w, (uint64_t)i + 1);
		struct media_relay_report *r = wait_reply(h);
		n += r->stats[0].tx_pkts + r->stats[1].tx_pkts;
		mem_deref(r);
	}
	return n;
}

static void relays_down(struct host *h)
{
	for (int i = 0; i < calls; i++) {
		media_relay_destroy(h->w, (uint64_t)i + 1);
		struct media_relay_report *r = wait_reply(h);
		for (int s = 0; s < 2; s++)
			media_ports_put(h->ports, &r->side[s]);
		mem_deref(r);
	}
}

/* --- the child: the phones -------------------------------------------------------- */

struct peer {
	int fd;          /* the browser's socket (connected to the relay's side 0) */
	SSL *ssl;
	srtp_t out;
	uint16_t seq;
};

static int udp_to(uint16_t port, bool connect_it)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sa a;
	sa_set(&a, "127.0.0.1", 0);
	bind(fd, &a.u.sa, a.len);
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (connect_it) {
		sa_set(&a, "127.0.0.1", port);
		connect(fd, &a.u.sa, a.len);
	}
	return fd;
}

static size_t rtp(uint8_t *b, uint16_t seq, uint32_t ssrc)
{
	memset(b, 0, 172);
	b[0] = 0x80;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	uint32_t ts = (uint32_t)seq * 160;
	b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16), b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
	memset(b + 12, 0x55, 160);
	return 172;
}

/* The browser's ICE check and DTLS handshake, then its SRTP session. */
static int browser_up(struct peer *p, SSL_CTX *ctx, const char *ufrag)
{
	uint8_t tid[12], out[512], in[512];
	for (int i = 0; i < 12; i++)
		tid[i] = (uint8_t)rand();
	char user[64];
	snprintf(user, sizeof(user), "%s:brw", ufrag);
	struct stun_check ck = { .username = user, .priority = 1, .use_candidate = true, .controlling = true };
	size_t n = stun_binding_request(out, sizeof(out), tid, &ck, PWD, strlen(PWD));
	if (send(p->fd, out, n, 0) < 0 || recv(p->fd, in, sizeof(in), 0) <= 0) {
		fprintf(stderr, "srtp: no answer to the ICE check: %s\n", strerror(errno));
		return -1;
	}
	BIO *bio = BIO_new_dgram(p->fd, BIO_NOCLOSE);
	struct sa peer = { .len = sizeof(peer.u) };
	getpeername(p->fd, &peer.u.sa, &peer.len);
	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer.u.sa);
	p->ssl = SSL_new(ctx);
	SSL_set_bio(p->ssl, bio, bio);
	if (SSL_connect(p->ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	size_t salt = cm_profile ? 14 : 12;
	uint8_t km[60], key[30];
	SSL_export_keying_material(p->ssl, km, 2 * (16 + salt), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0);
	memcpy(key, km, 16);
	memcpy(key + 16, km + 32, salt);
	srtp_profile_t sp = cm_profile ? srtp_profile_aes128_cm_sha1_80 : srtp_profile_aead_aes_128_gcm;
	srtp_policy_t pol;
	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_from_profile_for_rtp(&pol.rtp, sp);
	srtp_crypto_policy_set_from_profile_for_rtcp(&pol.rtcp, sp);
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = key;
	pol.window_size = 128;
	return srtp_create(&p->out, &pol) == srtp_err_status_ok ? 0 : -1;
}

/* A libsrtp2 session of fixed keys: in the plain phase the load generator
 * protects a copy of every browser packet with it and sends the plain one, so
 * that it loads the machine as in the webrtc phase (its SRTP, on NSS, costs
 * several us per packet). Otherwise the two phases would share the two cores
 * differently, and what they differ by would not be pbxd's SRTP alone. */
static srtp_t burn_session(void)
{
	static uint8_t key[30] = { 1, 2, 3 };
	srtp_policy_t pol;
	memset(&pol, 0, sizeof(pol));
	srtp_profile_t sp = cm_profile ? srtp_profile_aes128_cm_sha1_80 : srtp_profile_aead_aes_128_gcm;
	srtp_crypto_policy_set_from_profile_for_rtp(&pol.rtp, sp);
	srtp_crypto_policy_set_from_profile_for_rtcp(&pol.rtcp, sp);
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = key;
	pol.window_size = 128;
	srtp_t s = NULL;
	return srtp_create(&s, &pol) == srtp_err_status_ok ? s : NULL;
}

/* Sends 50 packets/s each way per call for `secs`, paced every 20 ms. */
static void media(struct peer *peers, const struct media_sockpair (*sp)[2], bool secure, int secs)
{
	int phone = udp_to(0, false);
	srtp_t burn = secure || getenv("SRTP_NO_BURN") ? NULL : burn_session();
	uint8_t b[256], copy[256];
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int tick = 0; tick < secs * 50; tick++) {
		for (int i = 0; i < calls; i++) {
			struct peer *p = &peers[i];
			int len = (int)rtp(b, p->seq, 0x1000u + (uint32_t)i);
			if (secure) {
				srtp_protect(p->out, b, &len);
			} else if (burn) {
				int l2 = len;
				memcpy(copy, b, (size_t)len);
				copy[8] = (uint8_t)i, copy[9] = (uint8_t)(i >> 8); /* a stream per call, as in webrtc */
				srtp_protect(burn, copy, &l2);
			}
			send(p->fd, b, (size_t)len, MSG_DONTWAIT);
			len = (int)rtp(b, p->seq, 0x8000u + (uint32_t)i);
			struct sa to;
			sa_set(&to, "127.0.0.1", sp[i][1].port);
			sendto(phone, b, (size_t)len, MSG_DONTWAIT, &to.u.sa, to.len);
			p->seq++;
		}
		next.tv_nsec += 20000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	if (burn)
		srtp_dealloc(burn);
	close(phone);
}

/* The child: told by a byte on `go` which phase, answers a byte on `done`. */
static void child(int go, int done, const struct media_sockpair (*sp)[2], X509 *crt, EVP_PKEY *key)
{
	media_srtp_init();
	SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
	SSL_CTX_use_certificate(ctx, crt);
	SSL_CTX_use_PrivateKey(ctx, key);
	/* Chrome's choice (GCM), or SRTP_PROFILE=SRTP_AES128_CM_SHA1_80 */
	const char *prof = getenv("SRTP_PROFILE") ? getenv("SRTP_PROFILE") : "SRTP_AEAD_AES_128_GCM";
	SSL_CTX_set_tlsext_use_srtp(ctx, prof);
	cm_profile = strcmp(prof, "SRTP_AES128_CM_SHA1_80") == 0;
	struct peer *peers = calloc((size_t)calls, sizeof(*peers));
	char cmd;
	while (read(go, &cmd, 1) == 1) {
		if (cmd == 'P' || cmd == 'W') {
			/* plain: the browser's socket only sends; webrtc: check, handshake */
			for (int i = 0; i < calls; i++) {
				peers[i] = (struct peer){ .fd = udp_to(sp[i][0].port, true) };
				if (cmd == 'W' && browser_up(&peers[i], ctx, "benchU")) {
					fprintf(stderr, "srtp: call %d: no ICE/DTLS\n", i);
					_exit(1);
				}
			}
		} else if (cmd == 'p' || cmd == 'w') {
			media(peers, sp, cmd == 'w', seconds);
		} else if (cmd == 'x') {
			for (int i = 0; i < calls; i++) {
				if (peers[i].ssl)
					SSL_free(peers[i].ssl);
				if (peers[i].out)
					srtp_dealloc(peers[i].out);
				close(peers[i].fd);
				memset(&peers[i], 0, sizeof(peers[i]));
			}
		}
		if (write(done, "k", 1) != 1)
			break;
	}
	_exit(0);
}

static void ask(int go, int done, char cmd)
{
	char k;
	if (write(go, &cmd, 1) != 1 || read(done, &k, 1) != 1) {
		fprintf(stderr, "srtp: the load generator failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		calls = atoi(argv[1]);
	if (argc > 2)
		seconds = atoi(argv[2]);
	if (calls < 1 || calls > 900 || seconds < 1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (getenv("SRTP_DEBUG"))
		log_set_level(LOG_DEBUG);
	struct host h = { 0 };
	if (loop_alloc(&h.loop) || mqueue_alloc(&h.mq, h.loop, on_reply, &h) ||
	    media_ports_alloc(&h.ports, "127.0.0.1", PORT_MIN, PORT_MAX) || media_dtls_cert_new(&h.cert)) {
		fprintf(stderr, "srtp: cannot set up\n");
		return 1;
	}
	/* The ports are taken before the fork, so the child knows them. */
	h.sp = calloc((size_t)calls, sizeof(*h.sp));
	for (int i = 0; i < calls; i++) {
		if (media_ports_get(h.ports, &h.sp[i][0]) || media_ports_get(h.ports, &h.sp[i][1])) {
			fprintf(stderr, "srtp: no ports\n");
			return 1;
		}
	}
	EVP_PKEY *bkey;
	X509 *bcrt;
	char bfp[200];
	tls_selfsigned("bench browser", NULL, 2, &bkey, &bcrt);
	media_dtls_fingerprint_of(bcrt, bfp, sizeof(bfp));
	int go[2], done[2];
	if (pipe(go) || pipe(done))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		child(go[0], done[1], (const struct media_sockpair(*)[2])h.sp, bcrt, bkey);
	}
	close(go[0]);
	close(done[1]);
	if (media_worker_start(&h.w)) {
		fprintf(stderr, "srtp: no media worker\n");
		return 1;
	}
	/* The phases alternate ROUNDS times: the machine's drift between two
	 * phases of a single run was as large as the difference measured. */
	int rounds = getenv("SRTP_ROUNDS") ? atoi(getenv("SRTP_ROUNDS")) : 3;
	if (rounds < 1 || rounds > 20)
		rounds = 3;
	double setup[2] = { 0, 0 }, per_pkt[2] = { 0, 0 }, cpu_sum[2] = { 0, 0 }, adds[20];
	uint64_t pkts[2] = { 0, 0 };
	for (int r = 0; r < rounds; r++) {
	double round_pkt[2] = { 0, 0 };
	for (int phase = getenv("SRTP_ONLY") ? 1 : 0; phase < 2; phase++) {
		bool webrtc = phase == 1;
		struct media_webrtc_params wp = { .local_ufrag = "benchU", .local_pwd = PWD, .remote_ufrag = "brw",
						  .role = MEDIA_DTLS_SERVER };
		snprintf(wp.remote_fp, sizeof(wp.remote_fp), "%s", bfp);
		const struct media_webrtc_params *wr[2] = { webrtc ? &wp : NULL, NULL };
		double c0 = cpu_now();
		for (int i = 0; i < calls; i++) {
			/* the phone's hint: where the child's phone socket is not known, so
			 * the plain side latches on its first packet (as a NATed phone) */
			struct media_sockpair sp[2];
			/* a relay takes ownership of the sockets: give it duplicates */
			for (int s = 0; s < 2; s++) {
				sp[s].port = h.sp[i][s].port;
				sp[s].rtp = dup(h.sp[i][s].rtp);
				sp[s].rtcp = dup(h.sp[i][s].rtcp);
			}
			media_relay_create_webrtc(h.w, (uint64_t)i + 1, sp, NULL, wr, h.cert, h.mq);
		}
		ask(go[1], done[0], webrtc ? 'W' : 'P');
		(void)relayed(&h); /* a round trip per relay: every one was made, and handshook */
		setup[phase] += (cpu_now() - c0) / calls / rounds;
		double c1 = cpu_now();
		uint64_t before = relayed(&h);
		ask(go[1], done[0], webrtc ? 'w' : 'p');
		uint64_t n = relayed(&h) - before;
		double cpu = cpu_now() - c1;
		pkts[phase] += n;
		cpu_sum[phase] += cpu;
		round_pkt[phase] = n ? cpu / (double)n : 0;
		relays_down(&h);
		ask(go[1], done[0], 'x');
	}
	adds[r] = round_pkt[1] - round_pkt[0];
	printf("round %d: plain %.3f, webrtc %.3f us CPU/packet: SRTP adds %.3f\n", r + 1, round_pkt[0] * 1e6,
	       round_pkt[1] * 1e6, adds[r] * 1e6);
	fflush(stdout);
	}
	for (int phase = 0; phase < 2; phase++)
		per_pkt[phase] = pkts[phase] ? cpu_sum[phase] / (double)pkts[phase] : 0;
	/* the median round's difference */
	for (int i = 1; i < rounds; i++) {
		for (int j = i; j > 0 && adds[j] < adds[j - 1]; j--) {
			double t = adds[j];
			adds[j] = adds[j - 1];
			adds[j - 1] = t;
		}
	}
	double median = rounds % 2 ? adds[rounds / 2] : (adds[rounds / 2 - 1] + adds[rounds / 2]) / 2;
	close(go[1]);
	waitpid(pid, NULL, 0);
	printf("calls %d, %d s of media each way per phase, %d rounds\n", calls, seconds, rounds);
	printf("plain   %9llu packets relayed  %.3f us CPU/packet  set-up %.3f ms CPU/call\n",
	       (unsigned long long)pkts[0], per_pkt[0] * 1e6, setup[0] * 1e3);
	printf("webrtc  %9llu packets relayed  %.3f us CPU/packet  set-up %.3f ms CPU/call (ICE + DTLS)\n",
	       (unsigned long long)pkts[1], per_pkt[1] * 1e6, setup[1] * 1e3);
	printf("SRTP adds %.3f us CPU/packet (target <= 1; all rounds together %.3f, median round %.3f); ratio webrtc/plain "
	       "%.2f; WebRTC set-up %.3f ms (target <= 5)\n",
	       (per_pkt[1] - per_pkt[0]) * 1e6, (per_pkt[1] - per_pkt[0]) * 1e6, median * 1e6,
	       per_pkt[0] > 0 ? per_pkt[1] / per_pkt[0] : 0, setup[1] * 1e3);
	media_worker_stop(h.w);
	return 0;
}
