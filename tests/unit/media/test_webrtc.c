/* Unit tests of a WebRTC side (src/media/webrtc.c) through a real media worker
 * and real UDP on 127.0.0.1: the test plays the browser with what a browser
 * does on the wire (an ICE check with STUN, OpenSSL as the DTLS client with
 * use_srtp, libsrtp2 for SRTP and SRTCP) and a plain RTP phone on the other
 * side. Media flows decrypted to the phone and encrypted to the browser only
 * after a check with pbxd's password and a DTLS handshake whose certificate is
 * the one the "SDP" pinned; before, from elsewhere, or with a wrong
 * fingerprint, nothing passes. Sockets block for at most 2 s. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <srtp2/srtp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/loop.h"
#include "core/mem.h"
#include "core/mqueue.h"
#include "core/tlsfiles.h"
#include "media/dtls.h"
#include "media/media.h"
#include "relay_ctl.h"
#include "media/stun.h"

#define PBX_UFRAG "pbxU"
#define PBX_PWD "pbxd-ice-password-0123456789"
#define BRW_UFRAG "brwU"

struct ctl {
	RELAY_CTL_FIELDS
	struct media_dtls_cert *cert;
	/* the browser */
	EVP_PKEY *bkey;
	X509 *bcrt;
	char bfp[200];
};

#define RELAY_CTL_FUNCTIONS
#include "relay_ctl.h"

static int setup(void **state)
{
	static struct ctl c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(loop_alloc(&c.loop), 0);
	assert_int_equal(mqueue_alloc(&c.mq, c.loop, on_reply, &c), 0);
	assert_int_equal(media_ports_alloc(&c.ports, "127.0.0.1", 23400, 23403), 0);
	assert_int_equal(media_worker_start(&c.w), 0);
	assert_int_equal(media_dtls_cert_new(&c.cert), 0);
	assert_int_equal(tls_selfsigned("browser", NULL, 2, &c.bkey, &c.bcrt), 0);
	assert_int_equal(media_dtls_fingerprint_of(c.bcrt, c.bfp, sizeof(c.bfp)), 0);
	assert_int_equal(media_srtp_init(), 0);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctl *c = *state;
	media_worker_stop(c->w);
	assert_int_equal(media_ports_in_use(c->ports), 0);
	media_ports_free(c->ports);
	mem_deref(c->cert);
	X509_free(c->bcrt);
	EVP_PKEY_free(c->bkey);
	mqueue_free(c->mq);
	loop_free(c->loop);
	return 0;
}

static int udp(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sa a;
	sa_set(&a, "127.0.0.1", 0);
	assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
	struct timeval tv = { .tv_sec = 2 };
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static struct sa local_of(int fd)
{
	struct sa a = { .len = sizeof(a.u) };
	assert_int_equal(getsockname(fd, &a.u.sa, &a.len), 0);
	return a;
}

static void send_to(int fd, uint16_t port, const void *buf, size_t len)
{
	struct sa a;
	sa_set(&a, "127.0.0.1", port);
	assert_int_equal(sendto(fd, buf, len, 0, &a.u.sa, a.len), (ssize_t)len);
}

static bool quiet(int fd, int ms)
{
	struct timeval tv = { .tv_usec = ms * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char b[64];
	bool none = recv(fd, b, sizeof(b), 0) < 0;
	tv = (struct timeval){ .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return none;
}

static size_t rtp_packet(uint8_t *b, uint16_t seq, uint8_t pt, uint8_t fillc)
{
	memset(b, 0, 12);
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[7] = (uint8_t)(seq * 160);
	b[8] = 0x12, b[9] = 0x34, b[10] = 0x56, b[11] = (uint8_t)(0x78 + fillc);
	for (int i = 0; i < 160; i++)
		b[12 + i] = (uint8_t)(fillc + i + seq);
	return 172;
}

/* An ICE check from the browser as username with pwd: returns the response's
 * type, checks its integrity with key (when a success) and the mapped address. */
static uint16_t check_as(int fd, uint16_t port, const char *username, const char *pwd, const char *key,
			 bool nominate)
{
	uint8_t tid[12], out[512], in[512];
	for (int i = 0; i < 12; i++)
		tid[i] = (uint8_t)(i * 17 + (nominate ? 1 : 0) + pwd[0] + username[0]);
	struct stun_check ck = { .username = username, .priority = 1845501695, .use_candidate = nominate,
				 .controlling = true, .tiebreaker = 0x1122334455667788ull };
	size_t n = stun_binding_request(out, sizeof(out), tid, &ck, pwd, strlen(pwd));
	assert_true(n > 0);
	send_to(fd, port, out, n);
	ssize_t r = recv(fd, in, sizeof(in), 0);
	assert_true(r > 0);
	struct stun_msg m;
	assert_int_equal(stun_parse(in, (size_t)r, &m), 0);
	assert_memory_equal(m.tid, tid, 12);
	assert_true(stun_fingerprint_ok(&m));
	if (m.type == STUN_BINDING_SUCCESS) {
		assert_true(stun_integrity_ok(&m, key, strlen(key)));
		struct sa mapped, me = local_of(fd);
		assert_int_equal(stun_xor_mapped(&m, &mapped), 0);
		assert_true(sa_eq(&mapped, &me));
	}
	return m.type;
}

static uint16_t check(int fd, uint16_t port, const char *pwd, bool nominate)
{
	return check_as(fd, port, PBX_UFRAG ":" BRW_UFRAG, pwd, PBX_PWD, nominate);
}

struct browser {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	srtp_t in, out;
	char server_fp[200];
};

/* The browser's DTLS client over its (connected) socket, then its SRTP keys. */
static bool browser_dtls(struct ctl *c, struct browser *b, uint16_t port, const char *profiles)
{
	b->ctx = SSL_CTX_new(DTLS_client_method());
	assert_non_null(b->ctx);
	assert_int_equal(SSL_CTX_use_certificate(b->ctx, c->bcrt), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(b->ctx, c->bkey), 1);
	assert_int_equal(SSL_CTX_set_tlsext_use_srtp(b->ctx, profiles), 0);
	struct sa peer;
	sa_set(&peer, "127.0.0.1", port);
	assert_int_equal(connect(b->fd, &peer.u.sa, peer.len), 0);
	BIO *bio = BIO_new_dgram(b->fd, BIO_NOCLOSE);
	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer.u.sa);
	b->ssl = SSL_new(b->ctx);
	SSL_set_bio(b->ssl, bio, bio);
	if (SSL_connect(b->ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return false;
	}
	X509 *srv = SSL_get1_peer_certificate(b->ssl);
	assert_non_null(srv);
	assert_int_equal(media_dtls_fingerprint_of(srv, b->server_fp, sizeof(b->server_fp)), 0);
	X509_free(srv);
	const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(b->ssl);
	assert_non_null(sp);
	size_t salt = sp->id == SRTP_AEAD_AES_128_GCM ? 12 : 14;
	srtp_profile_t prof = sp->id == SRTP_AEAD_AES_128_GCM ? srtp_profile_aead_aes_128_gcm
							      : srtp_profile_aes128_cm_sha1_80;
	uint8_t km[60], kin[30], kout[30];
	assert_int_equal(SSL_export_keying_material(b->ssl, km, 2 * (16 + salt), "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0),
			 1);
	/* the browser is the client: it sends with the client's key */
	memcpy(kout, km, 16);
	memcpy(kout + 16, km + 32, salt);
	memcpy(kin, km + 16, 16);
	memcpy(kin + 16, km + 32 + salt, salt);
	srtp_policy_t p;
	memset(&p, 0, sizeof(p));
	srtp_crypto_policy_set_from_profile_for_rtp(&p.rtp, prof);
	srtp_crypto_policy_set_from_profile_for_rtcp(&p.rtcp, prof);
	p.ssrc.type = ssrc_any_outbound;
	p.key = kout;
	p.window_size = 128;
	assert_int_equal(srtp_create(&b->out, &p), srtp_err_status_ok);
	p.ssrc.type = ssrc_any_inbound;
	p.key = kin;
	assert_int_equal(srtp_create(&b->in, &p), srtp_err_status_ok);
	return true;
}

static void browser_free(struct browser *b)
{
	if (b->ssl)
		SSL_free(b->ssl);
	SSL_CTX_free(b->ctx);
	if (b->in)
		srtp_dealloc(b->in);
	if (b->out)
		srtp_dealloc(b->out);
	close(b->fd);
}

struct call {
	struct media_sockpair sp[2];
	int phone, phone_rtcp;
};

static void relay_up(struct ctl *c, struct call *k, uint64_t id, const char *remote_fp)
{
	for (int i = 0; i < 2; i++)
		assert_int_equal(media_ports_get(c->ports, &k->sp[i]), 0);
	k->phone = udp();
	k->phone_rtcp = udp();
	struct media_hint hints[2] = { 0 };
	hints[0] = (struct media_hint){ 0 };
	sa_set(&hints[0].rtp, "127.0.0.1", 9); /* the browser's SDP address: never used */
	hints[1].rtp = local_of(k->phone);
	hints[1].rtcp = local_of(k->phone_rtcp);
	struct media_webrtc_params wp = { .local_ufrag = PBX_UFRAG, .local_pwd = PBX_PWD, .remote_ufrag = BRW_UFRAG,
					  .role = MEDIA_DTLS_SERVER };
	snprintf(wp.remote_fp, sizeof(wp.remote_fp), "%s", remote_fp);
	const struct media_webrtc_params *wr[2] = { &wp, NULL };
	assert_int_equal(media_relay_create_webrtc(c->w, id, k->sp, hints, wr, c->cert, c->mq), 0);
	/* the creation is answered only on failure: a stats round trip orders it */
	(void)stats_of(c, id, 0);
}

static void relay_down(struct ctl *c, struct call *k, uint64_t id)
{
	assert_int_equal(media_relay_destroy(c->w, id), 0);
	struct media_relay_report *r = wait_reply(c, MEDIA_MSG_DONE);
	for (int i = 0; i < 2; i++)
		media_ports_put(c->ports, &r->side[i]);
	mem_deref(r);
	close(k->phone);
	close(k->phone_rtcp);
}

/* 20 packets each way from sequence number seq0 on (SRTP refuses a number twice). */
static void media_both_ways(struct call *k, struct browser *b, uint16_t seq0)
{
	uint8_t buf[2048], want[2048];
	/* browser -> phone: SRTP in, plain RTP out, byte for byte */
	for (uint16_t s = seq0; s < seq0 + 20; s++) {
		size_t n = rtp_packet(buf, s, 0, 1);
		memcpy(want, buf, n);
		int len = (int)n;
		assert_int_equal(srtp_protect(b->out, buf, &len), srtp_err_status_ok);
		assert_int_equal(send(b->fd, buf, (size_t)len, 0), len);
		ssize_t r = recv(k->phone, buf, sizeof(buf), 0);
		assert_int_equal(r, (ssize_t)n);
		assert_memory_equal(buf, want, n);
	}
	/* phone -> browser: plain in, SRTP out */
	for (uint16_t s = seq0; s < seq0 + 20; s++) {
		size_t n = rtp_packet(buf, s, 8, 2);
		memcpy(want, buf, n);
		send_to(k->phone, k->sp[1].port, buf, n);
		ssize_t r = recv(b->fd, buf, sizeof(buf), 0);
		assert_true(r > (ssize_t)n); /* the authentication tag */
		assert_memory_not_equal(buf + 12, want + 12, n - 12);
		int len = (int)r;
		assert_int_equal(srtp_unprotect(b->in, buf, &len), srtp_err_status_ok);
		assert_int_equal(len, (int)n);
		assert_memory_equal(buf, want, n);
	}
	/* SRTCP over the one port (rtcp-mux) reaches the phone's RTCP socket */
	uint8_t sr[28] = { 0x80, 200, 0, 6, 0x12, 0x34, 0x56, 0x79 };
	memcpy(want, sr, sizeof(sr));
	int len = sizeof(sr);
	memcpy(buf, sr, sizeof(sr));
	assert_int_equal(srtp_protect_rtcp(b->out, buf, &len), srtp_err_status_ok);
	assert_int_equal(send(b->fd, buf, (size_t)len, 0), len);
	assert_int_equal(recv(k->phone_rtcp, buf, sizeof(buf), 0), (ssize_t)sizeof(sr));
	assert_memory_equal(buf, want, sizeof(sr));
}

static void webrtc_call(void **state, const char *profiles)
{
	struct ctl *c = *state;
	struct call k;
	relay_up(c, &k, 1, c->bfp);
	struct browser b = { .fd = udp() };
	uint16_t port = k.sp[0].port;
	uint8_t buf[2048];

	/* Nothing passes before ICE: not even well-formed RTP. */
	size_t n = rtp_packet(buf, 1, 0, 0);
	send_to(b.fd, port, buf, n);
	assert_true(quiet(k.phone, 200));
	/* A check with the wrong password is refused (401), one with pbxd's passes. */
	assert_int_equal(check(b.fd, port, "not-the-password-at-all", true), STUN_BINDING_ERROR);
	assert_int_equal(check(b.fd, port, PBX_PWD, true), STUN_BINDING_SUCCESS);

	assert_true(browser_dtls(c, &b, port, profiles));
	assert_string_equal(b.server_fp, media_dtls_cert_fingerprint(c->cert)); /* what pbxd's SDP will say */
	media_both_ways(&k, &b, 1);
	/* The browser's side too has its twin connected where ICE chose (uring.c). */
	uint16_t rp;
	bool twins = uring_works();
	assert_int_equal(udp_sockets_on(port, &rp), twins ? 2 : 1);
	assert_int_equal(rp, twins ? port_of(b.fd) : 0);

	/* An ICE restart (new credentials both ways, the same fingerprint): the old
	 * ones are refused, the new answered, and DTLS and SRTP go on as they were. */
	static const char new_pwd[] = "pbxd-new-ice-password-98765";
	struct media_webrtc_params np = { .local_ufrag = "pbxV", .remote_ufrag = "brwV", .role = MEDIA_DTLS_SERVER };
	snprintf(np.local_pwd, sizeof(np.local_pwd), "%s", new_pwd);
	snprintf(np.remote_fp, sizeof(np.remote_fp), "%s", c->bfp);
	assert_int_equal(media_relay_webrtc(c->w, 1, 0, &np, c->cert), 0);
	(void)stats_of(c, 1, 0); /* orders the update before the checks */
	assert_int_equal(check(b.fd, port, PBX_PWD, true), STUN_BINDING_ERROR);
	assert_int_equal(check_as(b.fd, port, "pbxV:brwV", new_pwd, new_pwd, true), STUN_BINDING_SUCCESS);
	media_both_ways(&k, &b, 21);

	/* From another address the same SRTP is dropped, and so are media from
	 * the phone's side to nowhere new. */
	int other = udp();
	n = rtp_packet(buf, 99, 0, 1);
	int len = (int)n;
	assert_int_equal(srtp_protect(b.out, buf, &len), srtp_err_status_ok);
	send_to(other, port, buf, (size_t)len);
	assert_true(quiet(k.phone, 200));
	close(other);

	struct media_stats st = stats_of(c, 1, 0);
	assert_true(st.dtls_up);
	assert_int_equal(st.ice_refused, 2); /* the wrong password, the old credentials */
	assert_true(st.ice_checks >= 1);
	assert_true(st.rx_foreign >= 2);
	assert_int_equal(st.srtp_failed, 0);
	browser_free(&b);
	relay_down(c, &k, 1);
}

static void test_webrtc_call_aes_cm(void **state)
{
	webrtc_call(state, "SRTP_AES128_CM_SHA1_80");
}

static void test_webrtc_call_aes_gcm(void **state)
{
	webrtc_call(state, "SRTP_AEAD_AES_128_GCM");
}

/* A certificate other than the one the SDP pinned: the handshake may end on the
 * browser's side, but pbxd keys nothing and relays nothing. */
static void test_wrong_fingerprint(void **state)
{
	struct ctl *c = *state;
	struct call k;
	char fp[200];
	snprintf(fp, sizeof(fp), "%s", c->bfp);
	fp[9] = fp[9] == 'A' ? 'B' : 'A';
	relay_up(c, &k, 2, fp);
	struct browser b = { .fd = udp() };
	uint16_t port = k.sp[0].port;
	assert_int_equal(check(b.fd, port, PBX_PWD, true), STUN_BINDING_SUCCESS);
	(void)browser_dtls(c, &b, port, "SRTP_AES128_CM_SHA1_80");
	if (b.out) {
		uint8_t buf[2048];
		int len = (int)rtp_packet(buf, 1, 0, 1);
		assert_int_equal(srtp_protect(b.out, buf, &len), srtp_err_status_ok);
		assert_int_equal(send(b.fd, buf, (size_t)len, 0), len);
	}
	assert_true(quiet(k.phone, 300));
	uint8_t buf[200];
	size_t n = rtp_packet(buf, 5, 0, 3);
	send_to(k.phone, k.sp[1].port, buf, n);
	assert_true(quiet(b.fd, 300)); /* nothing in the clear to the browser either */
	struct media_stats st = stats_of(c, 2, 0);
	assert_false(st.dtls_up);
	browser_free(&b);
	relay_down(c, &k, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_webrtc_call_aes_cm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webrtc_call_aes_gcm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_fingerprint, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
