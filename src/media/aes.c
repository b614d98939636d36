/* AES-128 CTR and GCM on AES-NI and PCLMULQDQ (see aes.h). Why not OpenSSL's
 * EVP for each packet: in OpenSSL 3 a GCM packet is five calls through the
 * provider layer (IV, AAD, data, tag as OSSL_PARAMs looked up by name, final)
 * over three separately allocated contexts; with hundreds of sessions each
 * packet finds them cold, and bench/media/srtp measured 1.3 us of libcrypto per
 * packet where the cipher itself is about 0.1 us. Here the whole state of a
 * key is 192 bytes in the caller's struct.
 *
 * GHASH works on blocks byte-reversed into the register, where bit i is the
 * coefficient of x^(127-i) (GCM numbers a block's bits from the first byte's
 * top bit as x^0): a carry-less product of two such values is the reflected
 * product shifted by one, and the reduction modulo x^128 + x^7 + x^2 + x + 1
 * is done in that reflected form with shifts (Gueron and Kounavis, "Intel
 * Carry-Less Multiplication Instruction and its Usage for Computing the GCM
 * Mode", algorithms 1 and 5). The tests compare every length and split of the
 * data against OpenSSL. */
#include "media/aes.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define HW __attribute__((target("aes,pclmul,sse4.1")))

static _Atomic int hw_state = -1; /* -1: not asked yet */

bool media_aes_hw(void)
{
	int s = hw_state;
	if (s < 0) {
		__builtin_cpu_init();
		s = __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") &&
		    __builtin_cpu_supports("sse4.1");
		hw_state = s;
	}
	return s > 0;
}

void media_aes_hw_set(bool on)
{
	hw_state = -1;
	if (!on)
		hw_state = 0;
}

/* --- AES-128 --------------------------------------------------------------------------- */

HW static inline __m128i expand(__m128i k, __m128i gen)
{
	gen = _mm_shuffle_epi32(gen, 0xff);
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, gen);
}

HW static void key_expand(__m128i rk[MEDIA_AES_ROUND_KEYS], const uint8_t key[16])
{
	rk[0] = _mm_loadu_si128((const __m128i *)key);
	/* aeskeygenassist takes its round constant as an immediate */
	rk[1] = expand(rk[0], _mm_aeskeygenassist_si128(rk[0], 0x01));
	rk[2] = expand(rk[1], _mm_aeskeygenassist_si128(rk[1], 0x02));
	rk[3] = expand(rk[2], _mm_aeskeygenassist_si128(rk[2], 0x04));
	rk[4] = expand(rk[3], _mm_aeskeygenassist_si128(rk[3], 0x08));
	rk[5] = expand(rk[4], _mm_aeskeygenassist_si128(rk[4], 0x10));
	rk[6] = expand(rk[5], _mm_aeskeygenassist_si128(rk[5], 0x20));
	rk[7] = expand(rk[6], _mm_aeskeygenassist_si128(rk[6], 0x40));
	rk[8] = expand(rk[7], _mm_aeskeygenassist_si128(rk[7], 0x80));
	rk[9] = expand(rk[8], _mm_aeskeygenassist_si128(rk[8], 0x1b));
	rk[10] = expand(rk[9], _mm_aeskeygenassist_si128(rk[9], 0x36));
}

HW static inline __m128i enc1(const __m128i *rk, __m128i x)
{
	x = _mm_xor_si128(x, rk[0]);
	for (int i = 1; i < 10; i++)
		x = _mm_aesenc_si128(x, rk[i]);
	return _mm_aesenclast_si128(x, rk[10]);
}

/* Four blocks in flight: aesenc's latency is several cycles, its throughput one. */
HW static inline void enc4(const __m128i *rk, __m128i x[4])
{
	for (int j = 0; j < 4; j++)
		x[j] = _mm_xor_si128(x[j], rk[0]);
	for (int i = 1; i < 10; i++) {
		for (int j = 0; j < 4; j++)
			x[j] = _mm_aesenc_si128(x[j], rk[i]);
	}
	for (int j = 0; j < 4; j++)
		x[j] = _mm_aesenclast_si128(x[j], rk[10]);
}

/* The counter block with its last 32 bits (big-endian) set to v. */
HW static inline __m128i ctr_block(__m128i base, uint32_t v)
{
	return _mm_insert_epi32(base, (int)__builtin_bswap32(v), 3);
}

/* XORs the key stream from counter v on into p[0..n). */
HW static void ctr_xor(const __m128i *rk, __m128i base, uint32_t v, uint8_t *p, size_t n)
{
	while (n >= 64) {
		__m128i x[4] = { ctr_block(base, v), ctr_block(base, v + 1), ctr_block(base, v + 2),
				 ctr_block(base, v + 3) };
		enc4(rk, x);
		for (int j = 0; j < 4; j++) {
			__m128i *q = (__m128i *)(p + 16 * j);
			_mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), x[j]));
		}
		v += 4, p += 64, n -= 64;
	}
	while (n >= 16) {
		__m128i k = enc1(rk, ctr_block(base, v++));
		_mm_storeu_si128((__m128i *)p, _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), k));
		p += 16, n -= 16;
	}
	if (n) {
		uint8_t ks[16];
		_mm_storeu_si128((__m128i *)ks, enc1(rk, ctr_block(base, v)));
		for (size_t i = 0; i < n; i++)
			p[i] ^= ks[i];
	}
}

/* --- GHASH ----------------------------------------------------------------------------- */

HW static inline __m128i bswap128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* a * b in GF(2^128), both and the result in the reflected form above. */
HW static inline __m128i gf_mul(__m128i a, __m128i b)
{
	/* the 256-bit carry-less product hi:lo, schoolbook */
	__m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
	__m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
	__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	/* reflected operands leave the product one bit short: hi:lo <<= 1 */
	__m128i clo = _mm_srli_epi32(lo, 31), chi = _mm_srli_epi32(hi, 31);
	lo = _mm_slli_epi32(lo, 1);
	hi = _mm_slli_epi32(hi, 1);
	hi = _mm_or_si128(hi, _mm_srli_si128(clo, 12));
	hi = _mm_or_si128(hi, _mm_slli_si128(chi, 4));
	lo = _mm_or_si128(lo, _mm_slli_si128(clo, 4));
	/* reduce lo (the terms x^128 and above) into hi: first the part of
	 * x^7 + x^2 + x that folds back into lo itself... */
	__m128i t = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
				  _mm_slli_epi32(lo, 25));
	__m128i carry = _mm_srli_si128(t, 4);
	lo = _mm_xor_si128(lo, _mm_slli_si128(t, 12));
	/* ...then the rest, and lo's own multiple of 1 */
	__m128i u = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
				  _mm_srli_epi32(lo, 7));
	u = _mm_xor_si128(u, carry);
	lo = _mm_xor_si128(lo, u);
	return _mm_xor_si128(hi, lo);
}

struct ghash {
	__m128i x, h;
	uint8_t buf[16];
	size_t nbuf;
};

HW static inline void gh_block(struct ghash *g, const uint8_t *b)
{
	g->x = gf_mul(_mm_xor_si128(g->x, bswap128(_mm_loadu_si128((const __m128i *)b))), g->h);
}

/* Feeds bytes; a partial block waits in buf for more of the same kind. */
HW static void gh_update(struct ghash *g, const uint8_t *p, size_t n)
{
	if (g->nbuf) {
		size_t k = 16 - g->nbuf < n ? 16 - g->nbuf : n;
		memcpy(g->buf + g->nbuf, p, k);
		g->nbuf += k, p += k, n -= k;
		if (g->nbuf < 16)
			return;
		gh_block(g, g->buf);
		g->nbuf = 0;
	}
	for (; n >= 16; p += 16, n -= 16)
		gh_block(g, p);
	if (n) {
		memcpy(g->buf, p, n);
		g->nbuf = n;
	}
}

/* Ends one kind of input (AAD, ciphertext): a partial block is padded with zeros. */
HW static void gh_pad(struct ghash *g)
{
	if (!g->nbuf)
		return;
	memset(g->buf + g->nbuf, 0, 16 - g->nbuf);
	gh_block(g, g->buf);
	g->nbuf = 0;
}

/* --- the interface ---------------------------------------------------------------------- */

HW void media_aes_init(struct media_aes *a, const uint8_t key[16], bool gcm)
{
	__m128i rk[MEDIA_AES_ROUND_KEYS];
	key_expand(rk, key);
	for (int i = 0; i < MEDIA_AES_ROUND_KEYS; i++)
		_mm_store_si128((__m128i *)a->rk[i], rk[i]);
	__m128i h = gcm ? bswap128(enc1(rk, _mm_setzero_si128())) : _mm_setzero_si128();
	_mm_store_si128((__m128i *)a->h, h);
	OPENSSL_cleanse(rk, sizeof(rk));
}

HW void media_aes_ctr(const struct media_aes *a, const uint8_t iv[16], uint8_t *p, size_t n)
{
	const __m128i *rk = (const __m128i *)a->rk;
	uint32_t v = (uint32_t)iv[12] << 24 | (uint32_t)iv[13] << 16 | (uint32_t)iv[14] << 8 | iv[15];
	ctr_xor(rk, _mm_loadu_si128((const __m128i *)iv), v, p, n);
}

HW int media_aes_gcm(const struct media_aes *a, bool enc, const uint8_t iv[12], const uint8_t *a1, size_t a1_len,
		     const uint8_t *a2, size_t a2_len, uint8_t *p, size_t n, uint8_t tag[16])
{
	const __m128i *rk = (const __m128i *)a->rk;
	uint8_t j0[16];
	memcpy(j0, iv, 12);
	__m128i base = _mm_loadu_si128((const __m128i *)j0);
	struct ghash g = { .x = _mm_setzero_si128(), .h = _mm_load_si128((const __m128i *)a->h) };
	gh_update(&g, a1, a1_len);
	if (a2_len)
		gh_update(&g, a2, a2_len);
	gh_pad(&g);
	if (enc)
		ctr_xor(rk, base, 2, p, n);
	gh_update(&g, p, n);
	gh_pad(&g);
	uint64_t abits = (uint64_t)(a1_len + a2_len) * 8, cbits = (uint64_t)n * 8;
	/* the block len(A) || len(C), both 64-bit big-endian, byte-reversed */
	__m128i lens = _mm_set_epi64x((long long)abits, (long long)cbits);
	g.x = gf_mul(_mm_xor_si128(g.x, lens), g.h);
	uint8_t t[16];
	_mm_storeu_si128((__m128i *)t, _mm_xor_si128(bswap128(g.x), enc1(rk, ctr_block(base, 1))));
	if (enc) {
		memcpy(tag, t, 16);
		return 0;
	}
	int bad = CRYPTO_memcmp(t, tag, 16);
	OPENSSL_cleanse(t, sizeof(t));
	if (bad)
		return EBADMSG;
	ctr_xor(rk, base, 2, p, n);
	return 0;
}

#else /* no AES-NI on this architecture: srtp.c stays on EVP */

bool media_aes_hw(void)
{
	return false;
}

void media_aes_hw_set(bool on)
{
	(void)on;
}

void media_aes_init(struct media_aes *a, const uint8_t key[16], bool gcm)
{
	(void)a, (void)key, (void)gcm;
}

void media_aes_ctr(const struct media_aes *a, const uint8_t iv[16], uint8_t *p, size_t n)
{
	(void)a, (void)iv, (void)p, (void)n;
}

int media_aes_gcm(const struct media_aes *a, bool enc, const uint8_t iv[12], const uint8_t *a1, size_t a1_len,
		  const uint8_t *a2, size_t a2_len, uint8_t *p, size_t n, uint8_t tag[16])
{
	(void)a, (void)enc, (void)iv, (void)a1, (void)a1_len, (void)a2, (void)a2_len, (void)p, (void)n, (void)tag;
	return ENOSYS;
}

#endif

void media_aes_wipe(struct media_aes *a)
{
	OPENSSL_cleanse(a, sizeof(*a));
}
