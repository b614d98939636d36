/* Unit tests of pbxd's SRTP (src/media/srtp.c): RFC 3711's key derivation
 * vectors, and both suites cross-checked with libsrtp2 (what browsers' stacks
 * descend from; linked only here): what pbxd protects is what libsrtp2
 * protects, byte for byte, and each unprotects the other's RTP and RTCP.
 * Then the rollover counter across a sequence wrap, replays, flipped bits,
 * header extensions and CSRCs, truncated packets (each copied into a buffer of
 * exactly its length, so that ASan sees any read past it) and the bounds.
 * All of it twice: on the AES-NI path (aes.c) and on OpenSSL's EVP. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <srtp2/srtp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "media/aes.h"
#include "media/media.h"
#include "media/srtp.h"

enum { CM = MEDIA_SRTP_AES_CM_SHA1_80, GCM = MEDIA_SRTP_AEAD_AES_128_GCM, BUF = 2048 };

static const uint8_t key[16] = { 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
				 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f };
static const uint8_t salt[14] = { 0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06, 0x17, 0x28, 0x39, 0x4a, 0x5b, 0x6c, 0x7d };

static size_t salt_len(int suite)
{
	return suite == GCM ? 12 : 14;
}

static size_t tag_len(int suite)
{
	return suite == GCM ? 16 : 10;
}

static struct media_srtp *pbx(int suite)
{
	struct media_srtp *s = NULL;
	assert_int_equal(media_srtp_new(&s, suite, key, sizeof(key), salt, salt_len(suite)), 0);
	return s;
}

static srtp_t lib(int suite, bool inbound)
{
	uint8_t master[30];
	memcpy(master, key, 16);
	memcpy(master + 16, salt, salt_len(suite));
	srtp_profile_t prof = suite == GCM ? srtp_profile_aead_aes_128_gcm : srtp_profile_aes128_cm_sha1_80;
	srtp_policy_t p;
	memset(&p, 0, sizeof(p));
	assert_int_equal(srtp_crypto_policy_set_from_profile_for_rtp(&p.rtp, prof), srtp_err_status_ok);
	assert_int_equal(srtp_crypto_policy_set_from_profile_for_rtcp(&p.rtcp, prof), srtp_err_status_ok);
	p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	p.key = master;
	p.window_size = 1024;
	srtp_t s;
	assert_int_equal(srtp_create(&s, &p), srtp_err_status_ok);
	return s;
}

/* An RTP packet: csrcs CSRCs, an extension of ext words when ext >= 0 (a
 * one-byte-header one, RFC 8285), plen bytes of payload. */
static size_t rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, int csrcs, int ext, size_t plen)
{
	size_t n = 12;
	b[0] = (uint8_t)(0x80 | (ext >= 0 ? 0x10 : 0) | csrcs);
	b[1] = 111;
	b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
	uint32_t ts = seq * 960u;
	b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16), b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
	for (int i = 0; i < csrcs * 4; i++)
		b[n++] = (uint8_t)(0xc0 + i);
	if (ext >= 0) {
		b[n++] = 0xbe, b[n++] = 0xde, b[n++] = 0, b[n++] = (uint8_t)ext;
		for (int i = 0; i < ext * 4; i++)
			b[n++] = (uint8_t)(0x30 + i);
	}
	for (size_t i = 0; i < plen; i++)
		b[n++] = (uint8_t)(i * 7 + seq);
	return n;
}

/* A sender report (28 bytes) and an SDES after it: a compound packet. */
static size_t rtcp(uint8_t *b, uint32_t ssrc, uint8_t fill)
{
	memset(b, 0, 44);
	b[0] = 0x80, b[1] = 200, b[2] = 0, b[3] = 6;
	b[4] = (uint8_t)(ssrc >> 24), b[5] = (uint8_t)(ssrc >> 16), b[6] = (uint8_t)(ssrc >> 8), b[7] = (uint8_t)ssrc;
	for (int i = 8; i < 28; i++)
		b[i] = (uint8_t)(fill + i);
	b[28] = 0x81, b[29] = 202, b[30] = 0, b[31] = 3;
	memcpy(b + 32, b + 4, 4);
	b[36] = 1, b[37] = 5;
	memcpy(b + 38, "pbxd!", 5);
	return 44;
}

static int pbx_protect(struct media_srtp *s, uint8_t *b, size_t *n)
{
	return media_srtp_protect(s, b, n, BUF);
}

static int setup(void **state)
{
	assert_int_equal(media_srtp_init(), 0);
	return 0;
}

/* --- RFC 3711 Appendix B --------------------------------------------------------------- */

/* AES-CM as §4.1.1 says, with OpenSSL's AES-CTR: the reference the RFC's own
 * keystream (B.2) checks, then used to check pbxd's session keys (B.3). */
static void ref_ctr(const uint8_t *k, const uint8_t *s14, uint32_t ssrc, uint64_t index, uint8_t *p, size_t n)
{
	uint8_t iv[16] = { 0 };
	memcpy(iv, s14, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
	for (int i = 0; i < 6; i++)
		iv[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl;
	assert_int_equal(EVP_EncryptInit_ex2(c, EVP_aes_128_ctr(), k, iv, NULL), 1);
	assert_int_equal(EVP_EncryptUpdate(c, p, &outl, p, (int)n), 1);
	EVP_CIPHER_CTX_free(c);
}

static void test_rfc3711_vectors(void **state)
{
	/* B.2: the AES-CM keystream of session key and salt, SSRC 0, index 0 */
	static const uint8_t b2_key[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					    0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
	static const uint8_t b2_salt[14] = { 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
					     0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd };
	static const uint8_t b2_ks[48] = {
		0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
		0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab,
		0x41, 0xe9, 0x5b, 0x3b, 0xb0, 0xa2, 0xe8, 0xdd, 0x47, 0x79, 0x01, 0xe4, 0xfc, 0xa8, 0x94, 0xc0,
	};
	uint8_t ks[48] = { 0 };
	ref_ctr(b2_key, b2_salt, 0, 0, ks, sizeof(ks));
	assert_memory_equal(ks, b2_ks, sizeof(ks));

	/* B.3: master key and salt, and the session keys they give */
	static const uint8_t mk[16] = { 0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
					0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39 };
	static const uint8_t ms[14] = { 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe,
					0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6 };
	static const uint8_t ck[16] = { 0xc6, 0x1e, 0x7a, 0x93, 0x74, 0x4f, 0x39, 0xee,
					0x10, 0x73, 0x4a, 0xfe, 0x3f, 0xf7, 0xa0, 0x87 };
	static const uint8_t cs[14] = { 0x30, 0xcb, 0xbc, 0x08, 0x86, 0x3d, 0x8c,
					0x85, 0xd4, 0x9d, 0xb3, 0x4a, 0x9a, 0xe1 };
	static const uint8_t ak[20] = { 0xce, 0xbe, 0x32, 0x1f, 0x6f, 0xf7, 0x71, 0x6b, 0x6f, 0xd4,
					0xab, 0x49, 0xaf, 0x25, 0x6a, 0x15, 0x6d, 0x38, 0xba, 0xa4 };
	struct media_srtp *s = NULL;
	assert_int_equal(media_srtp_new(&s, CM, mk, sizeof(mk), ms, sizeof(ms)), 0);
	uint8_t b[BUF], want[BUF];
	/* ROC 1 (after a wrap), so that the index's top half counts too */
	uint16_t seqs[] = { 65534, 65535, 0, 1 };
	for (int i = 0; i < 4; i++) {
		size_t n = rtp(b, seqs[i], 0xdeadbeef, 0, -1, 160);
		memcpy(want, b, n);
		uint64_t index = (i >= 2 ? 1ull << 16 : 0) | seqs[i];
		ref_ctr(ck, cs, 0xdeadbeef, index, want + 12, n - 12);
		uint8_t roc[4] = { 0, 0, 0, i >= 2 ? 1 : 0 }, mac[20];
		memcpy(want + n, roc, 4);
		unsigned ml;
		HMAC(EVP_sha1(), ak, sizeof(ak), want, n + 4, mac, &ml);
		memcpy(want + n, mac, 10);
		assert_int_equal(pbx_protect(s, b, &n), 0);
		assert_int_equal(n, 172 + 10);
		assert_memory_equal(b, want, n);
	}
	mem_deref(s);
}

/* --- against libsrtp2 -------------------------------------------------------------------- */

struct shape {
	int csrcs, ext;
	size_t plen;
};

static const struct shape shapes[] = {
	{ 0, -1, 160 }, { 2, -1, 160 }, { 0, 1, 100 }, { 3, 4, 33 }, { 0, 0, 1 }, { 15, 2, 0 }, { 1, -1, 1200 },
};

/* RTP over a sequence wrap, every shape, two SSRCs: pbxd's and libsrtp2's
 * protected packets are the same bytes, and each side unprotects them. */
static void cross_rtp(int suite)
{
	struct media_srtp *tx = pbx(suite), *rx = pbx(suite);
	srtp_t ltx = lib(suite, false), lrx = lib(suite, true);
	uint8_t a[BUF], b[BUF], plain[BUF];
	unsigned k = 0;
	for (uint32_t seq = 65500; seq < 65536 + 40; seq++) {
		for (uint32_t ssrc = 0x11111111; ssrc <= 0x22222222; ssrc += 0x11111111) {
			const struct shape *sh = &shapes[k++ % (sizeof(shapes) / sizeof(shapes[0]))];
			size_t n = rtp(plain, (uint16_t)seq, ssrc, sh->csrcs, sh->ext, sh->plen);
			memcpy(a, plain, n);
			memcpy(b, plain, n);
			size_t an = n;
			int bn = (int)n;
			assert_int_equal(pbx_protect(tx, a, &an), 0);
			assert_int_equal(srtp_protect(ltx, b, &bn), srtp_err_status_ok);
			assert_int_equal(an, (size_t)bn);
			assert_int_equal(an, n + tag_len(suite));
			assert_memory_equal(a, b, an);
			/* libsrtp2 reads pbxd's, pbxd reads libsrtp2's (the same bytes,
			 * but each through the other's receiver) */
			int ln = (int)an;
			assert_int_equal(srtp_unprotect(lrx, a, &ln), srtp_err_status_ok);
			assert_int_equal(ln, (int)n);
			assert_memory_equal(a, plain, n);
			size_t pn = (size_t)bn;
			assert_int_equal(media_srtp_unprotect(rx, b, &pn), 0);
			assert_int_equal(pn, n);
			assert_memory_equal(b, plain, n);
		}
	}
	srtp_dealloc(ltx);
	srtp_dealloc(lrx);
	mem_deref(tx);
	mem_deref(rx);
}

static void test_cross_rtp_cm(void **state)
{
	cross_rtp(CM);
}

static void test_cross_rtp_gcm(void **state)
{
	cross_rtp(GCM);
}

/* SRTCP: the index is pbxd's own (RFC 3711 §3.4 starts it at 0, libsrtp2 at
 * 1), so the bytes differ; each side unprotects the other's, with the E bit
 * and index it finds. */
static void cross_rtcp(int suite)
{
	struct media_srtp *tx = pbx(suite), *rx = pbx(suite);
	srtp_t ltx = lib(suite, false), lrx = lib(suite, true);
	uint8_t b[BUF], plain[BUF];
	for (int i = 0; i < 300; i++) {
		uint32_t ssrc = i % 3 ? 0xcafe0001 : 0xcafe0002;
		size_t n = rtcp(plain, ssrc, (uint8_t)i);
		memcpy(b, plain, n);
		size_t pn = n;
		assert_int_equal(media_srtp_protect_rtcp(tx, b, &pn, BUF), 0);
		assert_int_equal(pn, n + tag_len(suite) + 4);
		size_t trailer = suite == GCM ? pn - 4 : n;
		uint32_t want = 0x80000000u | (uint32_t)(i % 3 ? i - (i + 2) / 3 : i / 3);
		uint32_t got = (uint32_t)b[trailer] << 24 | b[trailer + 1] << 16 | b[trailer + 2] << 8 | b[trailer + 3];
		assert_int_equal(got, want);
		assert_memory_not_equal(b + 8, plain + 8, n - 8);
		int ln = (int)pn;
		assert_int_equal(srtp_unprotect_rtcp(lrx, b, &ln), srtp_err_status_ok);
		assert_int_equal(ln, (int)n);
		assert_memory_equal(b, plain, n);

		memcpy(b, plain, n);
		ln = (int)n;
		assert_int_equal(srtp_protect_rtcp(ltx, b, &ln), srtp_err_status_ok);
		pn = (size_t)ln;
		assert_int_equal(media_srtp_unprotect_rtcp(rx, b, &pn), 0);
		assert_int_equal(pn, n);
		assert_memory_equal(b, plain, n);
	}
	/* a replayed SRTCP packet */
	size_t n = rtcp(plain, 0xcafe0002, 1);
	int ln = (int)n;
	memcpy(b, plain, n);
	assert_int_equal(srtp_protect_rtcp(ltx, b, &ln), srtp_err_status_ok);
	uint8_t again[BUF];
	memcpy(again, b, (size_t)ln);
	size_t pn = (size_t)ln;
	assert_int_equal(media_srtp_unprotect_rtcp(rx, b, &pn), 0);
	pn = (size_t)ln;
	assert_int_equal(media_srtp_unprotect_rtcp(rx, again, &pn), EALREADY);
	srtp_dealloc(ltx);
	srtp_dealloc(lrx);
	mem_deref(tx);
	mem_deref(rx);
}

static void test_cross_rtcp_cm(void **state)
{
	cross_rtcp(CM);
}

static void test_cross_rtcp_gcm(void **state)
{
	cross_rtcp(GCM);
}

/* SRTCP sent without encryption (E = 0: libsrtp2's sec_serv_auth) is taken,
 * authenticated, as it is. */
static void test_rtcp_unencrypted(void **state)
{
	for (int suite = CM; suite <= GCM; suite++) {
		uint8_t master[30];
		memcpy(master, key, 16);
		memcpy(master + 16, salt, salt_len(suite));
		srtp_policy_t p;
		memset(&p, 0, sizeof(p));
		srtp_profile_t prof = suite == GCM ? srtp_profile_aead_aes_128_gcm : srtp_profile_aes128_cm_sha1_80;
		srtp_crypto_policy_set_from_profile_for_rtp(&p.rtp, prof);
		srtp_crypto_policy_set_from_profile_for_rtcp(&p.rtcp, prof);
		p.rtcp.sec_serv = sec_serv_auth;
		p.ssrc.type = ssrc_any_outbound;
		p.key = master;
		p.window_size = 128;
		srtp_t ltx;
		assert_int_equal(srtp_create(&ltx, &p), srtp_err_status_ok);
		struct media_srtp *rx = pbx(suite);
		uint8_t b[BUF], plain[BUF];
		size_t n = rtcp(plain, 0x5555, 9);
		memcpy(b, plain, n);
		int ln = (int)n;
		assert_int_equal(srtp_protect_rtcp(ltx, b, &ln), srtp_err_status_ok);
		assert_memory_equal(b + 8, plain + 8, n - 8); /* in the clear */
		uint8_t bad[BUF];
		memcpy(bad, b, (size_t)ln);
		bad[20] ^= 1;
		size_t pn = (size_t)ln;
		assert_int_equal(media_srtp_unprotect_rtcp(rx, bad, &pn), EBADMSG);
		pn = (size_t)ln;
		assert_int_equal(media_srtp_unprotect_rtcp(rx, b, &pn), 0);
		assert_int_equal(pn, n);
		assert_memory_equal(b, plain, n);
		srtp_dealloc(ltx);
		mem_deref(rx);
	}
}

/* --- the receiver's rules ---------------------------------------------------------------- */

/* Across 65535 -> 0 the ROC goes to 1; a packet from before the wrap that
 * arrives after it is still decrypted (ROC 0), once. */
static void test_wrap_late(void **state)
{
	for (int suite = CM; suite <= GCM; suite++) {
		srtp_t ltx = lib(suite, false);
		struct media_srtp *rx = pbx(suite);
		uint8_t pkts[8][BUF], plain[8][BUF];
		size_t lens[8], plens[8];
		uint16_t seqs[8] = { 65532, 65533, 65534, 65535, 0, 1, 2, 3 };
		for (int i = 0; i < 8; i++) {
			plens[i] = rtp(plain[i], seqs[i], 0xabcdef01, 0, -1, 160);
			memcpy(pkts[i], plain[i], plens[i]);
			int ln = (int)plens[i];
			assert_int_equal(srtp_protect(ltx, pkts[i], &ln), srtp_err_status_ok);
			lens[i] = (size_t)ln;
		}
		/* 65532, 65533, 65535, 0, 1, 2, 3, then 65534 late, then 65534 again */
		int order[] = { 0, 1, 3, 4, 5, 6, 7, 2 };
		for (int j = 0; j < 8; j++) {
			int i = order[j];
			uint8_t b[BUF];
			memcpy(b, pkts[i], lens[i]);
			size_t n = lens[i];
			assert_int_equal(media_srtp_unprotect(rx, b, &n), 0);
			assert_int_equal(n, plens[i]);
			assert_memory_equal(b, plain[i], n);
		}
		size_t n = lens[2];
		assert_int_equal(media_srtp_unprotect(rx, pkts[2], &n), EALREADY);
		srtp_dealloc(ltx);
		mem_deref(rx);
	}
}

/* A replay is refused, and so is a packet older than the window; one inside
 * the window not seen before passes. */
static void test_replay(void **state)
{
	for (int suite = CM; suite <= GCM; suite++) {
		struct media_srtp *tx = pbx(suite), *rx = pbx(suite);
		enum { W = MEDIA_SRTP_WINDOW, N = W + 200, H = W + 50 };
		static uint8_t pkts[N][200];
		static size_t lens[N];
		for (int i = 0; i < N; i++) {
			lens[i] = rtp(pkts[i], (uint16_t)(1000 + i), 0x77, 0, -1, 20);
			assert_int_equal(media_srtp_protect(tx, pkts[i], &lens[i], sizeof(pkts[i])), 0);
		}
		uint8_t b[BUF];
		size_t n;
#define RX(i, want)                                                      \
	do {                                                             \
		memcpy(b, pkts[i], lens[i]);                             \
		n = lens[i];                                             \
		assert_int_equal(media_srtp_unprotect(rx, b, &n), want); \
	} while (0)
		RX(0, 0);
		RX(0, EALREADY);
		RX(5, 0);
		RX(3, 0); /* late, not seen */
		RX(3, EALREADY);
		RX(H, 0);
		RX(H - W + 1, 0); /* the oldest the window holds */
		RX(H - W + 1, EALREADY);
		RX(H - W, EALREADY); /* just outside it */
		RX(5, EALREADY);
		RX(H + 1, 0);
		RX(H, EALREADY);
		RX(H + 100, 0);
		for (int i = H + 101; i < N; i++)
			RX(i, 0);
		for (int i = H + 100; i < N; i++)
			RX(i, EALREADY);
		for (int i = N - W; i < H + 100; i++) {
			if (i > H + 1)
				RX(i, 0); /* late, inside the window, not seen */
		}
#undef RX
		mem_deref(tx);
		mem_deref(rx);
	}
}

/* Any one bit flipped, in the header, the payload or the tag: refused, and
 * nothing of the stream's state changes (the packet itself passes after). */
static void test_bit_flips(void **state)
{
	for (int suite = CM; suite <= GCM; suite++) {
		struct media_srtp *tx = pbx(suite), *rx = pbx(suite);
		uint8_t p[BUF], b[BUF], plain[BUF];
		size_t pl = rtp(plain, 4242, 0x1234, 1, 1, 40);
		memcpy(p, plain, pl);
		size_t n = pl;
		assert_int_equal(pbx_protect(tx, p, &n), 0);
		for (size_t bit = 0; bit < n * 8; bit++) {
			memcpy(b, p, n);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			size_t m = n;
			assert_int_equal(media_srtp_unprotect(rx, b, &m), EBADMSG);
		}
		memcpy(b, p, n);
		size_t m = n;
		assert_int_equal(media_srtp_unprotect(rx, b, &m), 0);
		assert_memory_equal(b, plain, pl);

		/* and SRTCP */
		pl = rtcp(plain, 0x1234, 3);
		memcpy(p, plain, pl);
		n = pl;
		assert_int_equal(media_srtp_protect_rtcp(tx, p, &n, BUF), 0);
		for (size_t bit = 0; bit < n * 8; bit++) {
			memcpy(b, p, n);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			m = n;
			assert_int_equal(media_srtp_unprotect_rtcp(rx, b, &m), EBADMSG);
		}
		memcpy(b, p, n);
		m = n;
		assert_int_equal(media_srtp_unprotect_rtcp(rx, b, &m), 0);
		assert_memory_equal(b, plain, pl);
		mem_deref(tx);
		mem_deref(rx);
	}
}

/* Every truncation of a protected packet, in a buffer of exactly its length:
 * refused, without a read past it (ASan); and headers whose CSRC count or
 * extension length run past the packet. */
static void test_truncated(void **state)
{
	for (int suite = CM; suite <= GCM; suite++) {
		struct media_srtp *tx = pbx(suite), *rx = pbx(suite);
		uint8_t p[BUF];
		size_t n = rtp(p, 7, 0x99, 2, 3, 30);
		assert_int_equal(pbx_protect(tx, p, &n), 0);
		for (size_t len = 0; len < n; len++) {
			uint8_t *b = malloc(len ? len : 1);
			memcpy(b, p, len);
			size_t m = len;
			assert_int_equal(media_srtp_unprotect(rx, b, &m), EBADMSG);
			free(b);
		}
		n = rtcp(p, 0x99, 0);
		assert_int_equal(media_srtp_protect_rtcp(tx, p, &n, BUF), 0);
		for (size_t len = 0; len < n; len++) {
			uint8_t *b = malloc(len ? len : 1);
			memcpy(b, p, len);
			size_t m = len;
			assert_int_equal(media_srtp_unprotect_rtcp(rx, b, &m), EBADMSG);
			free(b);
		}
		/* 15 CSRCs claimed in 40 bytes; an extension of 0xffff words */
		uint8_t *b = malloc(40);
		rtp(b, 8, 0x99, 0, -1, 28);
		b[0] |= 0x0f;
		size_t m = 40;
		assert_int_equal(media_srtp_unprotect(rx, b, &m), EBADMSG);
		m = 40;
		assert_int_equal(media_srtp_protect(tx, b, &m, 40), EBADMSG);
		rtp(b, 8, 0x99, 0, 0, 24);
		b[14] = b[15] = 0xff;
		m = 40;
		assert_int_equal(media_srtp_unprotect(rx, b, &m), EBADMSG);
		free(b);
		mem_deref(tx);
		mem_deref(rx);
	}
}

/* Room for the tag, the bound on SSRCs, and what media_srtp_new refuses. */
static void test_limits(void **state)
{
	struct media_srtp *tx = pbx(GCM), *rx = pbx(GCM), *s = NULL;
	uint8_t b[BUF];
	size_t n = rtp(b, 1, 1, 0, -1, 160);
	assert_int_equal(media_srtp_protect(tx, b, &n, n + 15), ENOBUFS);
	assert_int_equal(n, 172);
	n = rtcp(b, 1, 0);
	assert_int_equal(media_srtp_protect_rtcp(tx, b, &n, n + 19), ENOBUFS);

	/* forged packets from new SSRCs take no room in the receiver's table */
	for (uint32_t ssrc = 100; ssrc < 200; ssrc++) {
		n = rtp(b, 1, ssrc, 0, -1, 160) + 16;
		assert_int_equal(media_srtp_unprotect(rx, b, &n), EBADMSG);
	}
	for (uint32_t ssrc = 1; ssrc <= MEDIA_SRTP_STREAMS + 1; ssrc++) {
		n = rtp(b, 1, ssrc, 0, -1, 160);
		int e = pbx_protect(tx, b, &n);
		assert_int_equal(e, ssrc <= MEDIA_SRTP_STREAMS ? 0 : ENOSPC);
		if (e)
			continue;
		assert_int_equal(media_srtp_unprotect(rx, b, &n), 0);
	}
	n = rtp(b, 2, MEDIA_SRTP_STREAMS + 1, 0, -1, 160) + 16;
	assert_int_equal(media_srtp_unprotect(rx, b, &n), ENOSPC);
	mem_deref(tx);
	mem_deref(rx);

	assert_int_equal(media_srtp_new(&s, CM, key, 16, salt, 12), EINVAL);
	assert_int_equal(media_srtp_new(&s, GCM, key, 16, salt, 14), EINVAL);
	assert_int_equal(media_srtp_new(&s, GCM, key, 32, salt, 12), EINVAL);
	assert_int_equal(media_srtp_new(&s, 7, key, 16, salt, 14), EINVAL);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3711_vectors),
		cmocka_unit_test(test_cross_rtp_cm),
		cmocka_unit_test(test_cross_rtp_gcm),
		cmocka_unit_test(test_cross_rtcp_cm),
		cmocka_unit_test(test_cross_rtcp_gcm),
		cmocka_unit_test(test_rtcp_unencrypted),
		cmocka_unit_test(test_wrap_late),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_limits),
	};
	/* Both of srtp.c's paths: AES-NI (aes.c) where the CPU has it, then EVP. */
	int failed = 0;
	if (media_aes_hw())
		failed += cmocka_run_group_tests_name("srtp on AES-NI", tests, setup, NULL);
	media_aes_hw_set(false);
	failed += cmocka_run_group_tests_name("srtp on EVP", tests, setup, NULL);
	return failed;
}
