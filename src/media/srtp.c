/* SRTP and SRTCP (see srtp.h): RFC 3711 AES_CM_128_HMAC_SHA1_80 and RFC 7714
 * AEAD_AES_128_GCM, written for the media worker's hot path.
 *
 * Why not libsrtp2: Debian builds it on NSS, whose PK11 layer sets up a
 * context per packet (5.6 us of CPU per packet for GCM, 11.6 for AES-CM, in
 * bench/media/srtp). Here a session keys everything once: per component (RTP,
 * RTCP) the expanded AES key for aes.c (AES-NI; where the CPU lacks it, an
 * EVP_CIPHER_CTX with the session key, reused for each packet with only a new
 * IV), and for AES-CM the HMAC's inner and outer SHA-1 states after the padded
 * key, which a packet resumes.
 * The HMAC is done with SHA-1's own API rather than EVP_MAC because OpenSSL
 * 3.0's EVP HMAC (and EVP_MD_CTX reuse) allocates a digest context for every
 * message: two mallocs and half as much time again per packet.
 *
 * Packet index (RFC 3711 §3.3.1): a stream keeps the highest index it has
 * seen; a sequence number is taken as the index nearest to it (the ROC one
 * less, the same or one more). As libsrtp does, until that index passes 2^15
 * the ROC is 0 (no stream starts with a packet from ROC -1).
 *
 * Replay (§3.3.2): a bitmap of the MEDIA_SRTP_WINDOW indices below the
 * highest; checked before authentication, updated only after it. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_Init/Update/Final: see above */
#include "media/srtp.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/mem.h"
#include "media/aes.h"
#include "media/media.h"
#include "media/rtp.h"

enum {
	KEY_LEN = 16,
	SALT_MAX = 14,
	AUTH_KEY_LEN = 20,
	CM_TAG = 10,
	GCM_TAG = 16,
	GCM_IV = 12,
	RTCP_HDR = 8,
	RTCP_TRAILER = 4,
	WIN_WORDS = MEDIA_SRTP_WINDOW / 64,
};

#define SRTCP_E_BIT 0x80000000u
#define SRTCP_INDEX_MAX 0x7fffffffu

/* RFC 3711 §4.3.1 labels */
enum { L_RTP_ENC = 0, L_RTP_AUTH, L_RTP_SALT, L_RTCP_ENC, L_RTCP_AUTH, L_RTCP_SALT };

/* A packet's work touches a session cold (the worker goes through every
 * call's between two packets of one), so what it reads is kept small and
 * together: a component's keys in about a cache line, a stream in one. */

/* One component's (RTP's or RTCP's) session keys, ready to use. */
struct comp_keys {
	struct media_aes aes; /* the key, when the CPU does AES (aes.c) */
	EVP_CIPHER_CTX *c;    /* else AES-128-CTR or AES-128-GCM, keyed; NULL: aes */
	uint8_t salt[SALT_MAX];
	/* AES-CM: SHA-1's chaining values after the first block of the HMAC's
	 * inner (key ^ ipad) and outer (key ^ opad) hashes */
	uint32_t ipad[5], opad[5];
};

struct window {
	uint64_t hi;              /* the highest index received */
	uint64_t bits[WIN_WORDS]; /* bit k: hi - k was received */
};

struct stream {
	uint32_t ssrc;
	uint32_t rtcp_tx; /* protect: the next SRTCP index */
	uint64_t tx_hi;   /* protect: the highest RTP index sent */
	struct window rtp_rx, rtcp_rx;
};

struct media_srtp {
	uint8_t suite, nstreams;
	unsigned tag;
	struct comp_keys rtp, rtcp;
	struct stream streams[MEDIA_SRTP_STREAMS];
};

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* --- libsrtp2, for whoever else in the process uses it ------------------------------- */

/* pbxd itself no longer links libsrtp2; the tests and the bench do, for the
 * browser's side, and libsrtp2's srtp_init must run once per process (media.h).
 * A weak reference: NULL when libsrtp2 is not in the program. */
extern int srtp_init(void) __attribute__((weak));

static pthread_once_t srtp2_once = PTHREAD_ONCE_INIT;
static int srtp2_status;

static void srtp2_init_once(void)
{
	srtp2_status = srtp_init ? srtp_init() : 0;
}

int media_srtp_init(void)
{
	pthread_once(&srtp2_once, srtp2_init_once);
	return srtp2_status == 0 ? 0 : EIO;
}

/* --- keys ----------------------------------------------------------------------------- */

/* The AES-CM PRF (RFC 3711 §4.3.1, §4.3.3) with key_derivation_rate 0: x is the
 * master salt (GCM's 12 bytes padded with zeros, RFC 7714 §11) with the label
 * in its eighth byte; the key stream of AES-CTR from x * 2^16. */
static int kdf(const uint8_t *mkey, const uint8_t msalt[SALT_MAX], int label, uint8_t *out, size_t n)
{
	uint8_t iv[16] = { 0 };
	memcpy(iv, msalt, SALT_MAX);
	iv[7] ^= (uint8_t)label;
	memset(out, 0, n);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl, ok = c && EVP_EncryptInit_ex2(c, EVP_aes_128_ctr(), mkey, iv, NULL) &&
		       EVP_EncryptUpdate(c, out, &outl, out, (int)n);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : EIO;
}

/* SHA-1 after one 64-byte block whose chaining values are h. */
static void sha1_resume(SHA_CTX *c, const uint32_t h[5])
{
	c->h0 = h[0], c->h1 = h[1], c->h2 = h[2], c->h3 = h[3], c->h4 = h[4];
	c->Nl = 512;
	c->Nh = 0;
	c->num = 0;
}

static void sha1_pad_block(uint32_t h[5], const uint8_t key[AUTH_KEY_LEN], uint8_t pad_byte)
{
	uint8_t pad[64];
	memset(pad, pad_byte, sizeof(pad));
	for (int i = 0; i < AUTH_KEY_LEN; i++)
		pad[i] ^= key[i];
	SHA_CTX c;
	SHA1_Init(&c);
	SHA1_Update(&c, pad, sizeof(pad));
	h[0] = c.h0, h[1] = c.h1, h[2] = c.h2, h[3] = c.h3, h[4] = c.h4;
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&c, sizeof(c));
}

static void hmac_keys(struct comp_keys *k, const uint8_t key[AUTH_KEY_LEN])
{
	sha1_pad_block(k->ipad, key, 0x36);
	sha1_pad_block(k->opad, key, 0x5c);
}

static int comp_init(struct media_srtp *s, struct comp_keys *k, const uint8_t *mkey, const uint8_t *msalt,
		     int l_enc, int l_auth, int l_salt)
{
	bool gcm = s->suite == MEDIA_SRTP_AEAD_AES_128_GCM;
	uint8_t enc[KEY_LEN], auth[AUTH_KEY_LEN];
	int e = kdf(mkey, msalt, l_enc, enc, sizeof(enc));
	if (!e)
		e = kdf(mkey, msalt, l_salt, k->salt, gcm ? GCM_IV : SALT_MAX);
	if (!e && !gcm) {
		e = kdf(mkey, msalt, l_auth, auth, sizeof(auth));
		if (!e)
			hmac_keys(k, auth);
	}
	if (!e && media_aes_hw()) {
		media_aes_init(&k->aes, enc, gcm);
	} else if (!e) {
		k->c = EVP_CIPHER_CTX_new();
		if (!k->c || !EVP_EncryptInit_ex2(k->c, gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), enc, NULL, NULL))
			e = k->c ? EIO : ENOMEM;
	}
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(auth, sizeof(auth));
	return e;
}

static void srtp_destroy(void *arg)
{
	struct media_srtp *s = arg;
	EVP_CIPHER_CTX_free(s->rtp.c);
	EVP_CIPHER_CTX_free(s->rtcp.c);
	OPENSSL_cleanse(s, sizeof(*s));
}

int media_srtp_new(struct media_srtp **sp, int suite, const uint8_t *key, size_t key_len, const uint8_t *salt,
		   size_t salt_len)
{
	if (!sp || !key || !salt || key_len != KEY_LEN ||
	    !((suite == MEDIA_SRTP_AES_CM_SHA1_80 && salt_len == 14) ||
	      (suite == MEDIA_SRTP_AEAD_AES_128_GCM && salt_len == 12)))
		return EINVAL;
	struct media_srtp *s = mem_zalloc(sizeof(*s), srtp_destroy);
	if (!s)
		return ENOMEM;
	s->suite = (uint8_t)suite;
	s->tag = suite == MEDIA_SRTP_AES_CM_SHA1_80 ? CM_TAG : GCM_TAG;
	uint8_t msalt[SALT_MAX] = { 0 };
	memcpy(msalt, salt, salt_len);
	int e = comp_init(s, &s->rtp, key, msalt, L_RTP_ENC, L_RTP_AUTH, L_RTP_SALT);
	if (!e)
		e = comp_init(s, &s->rtcp, key, msalt, L_RTCP_ENC, L_RTCP_AUTH, L_RTCP_SALT);
	OPENSSL_cleanse(msalt, sizeof(msalt));
	if (e) {
		mem_deref(s);
		return e;
	}
	*sp = s;
	return 0;
}

/* --- per packet ------------------------------------------------------------------------- */

/* HMAC-SHA1(auth key, a || b), the first CM_TAG bytes (RFC 3711 §4.2.1). */
static void hmac_tag(const struct comp_keys *k, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		     uint8_t tag[CM_TAG])
{
	uint8_t inner[SHA_DIGEST_LENGTH], out[SHA_DIGEST_LENGTH];
	SHA_CTX c;
	sha1_resume(&c, k->ipad);
	SHA1_Update(&c, a, alen);
	if (blen)
		SHA1_Update(&c, b, blen);
	SHA1_Final(inner, &c);
	sha1_resume(&c, k->opad);
	SHA1_Update(&c, inner, sizeof(inner));
	SHA1_Final(out, &c);
	memcpy(tag, out, CM_TAG);
}


/* The IV of either suite: the salt, with the SSRC at byte `at` and the 48-bit
 * index after it XORed in. AES-CM (RFC 3711 §4.1.1): 16 bytes, at 4, (salt *
 * 2^16) ^ (SSRC * 2^64) ^ (index * 2^16). GCM (RFC 7714 §8.1, §9.1): 12 bytes,
 * at 2, 00 00 || SSRC || ROC || SEQ for RTP, 00 00 || SSRC || 00 00 || index
 * for RTCP, XOR the salt. */
static void make_iv(uint8_t *iv, size_t iv_len, const uint8_t *salt, size_t salt_len, size_t at, uint32_t ssrc,
		    uint64_t index)
{
	memset(iv, 0, iv_len);
	memcpy(iv, salt, salt_len);
	for (int i = 0; i < 4; i++)
		iv[at + (size_t)i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
	for (int i = 0; i < 6; i++)
		iv[at + 4 + (size_t)i] ^= (uint8_t)(index >> (40 - 8 * i));
}

static int ctr_crypt(const struct comp_keys *k, uint32_t ssrc, uint64_t index, uint8_t *p, size_t n)
{
	uint8_t iv[16];
	make_iv(iv, sizeof(iv), k->salt, SALT_MAX, 4, ssrc, index);
	if (!k->c) {
		media_aes_ctr(&k->aes, iv, p, n);
		return 0;
	}
	int outl;
	if (!EVP_CipherInit_ex2(k->c, NULL, NULL, iv, 1, NULL) || (n && !EVP_CipherUpdate(k->c, p, &outl, p, (int)n)))
		return EIO;
	return 0;
}

/* AES-GCM in place over p[0..n) with AAD a || b; enc: writes the tag, else
 * checks it (EBADMSG when it does not match). */
static int gcm_crypt(const struct comp_keys *k, int enc, uint32_t ssrc, uint64_t index, const uint8_t *a,
		     size_t alen, const uint8_t *b, size_t blen, uint8_t *p, size_t n, uint8_t *tag)
{
	uint8_t iv[GCM_IV];
	make_iv(iv, sizeof(iv), k->salt, GCM_IV, 2, ssrc, index);
	if (!k->c)
		return media_aes_gcm(&k->aes, enc, iv, a, alen, b, blen, p, n, tag);
	int outl;
	if (!EVP_CipherInit_ex2(k->c, NULL, NULL, iv, enc, NULL) ||
	    !EVP_CipherUpdate(k->c, NULL, &outl, a, (int)alen) ||
	    (blen && !EVP_CipherUpdate(k->c, NULL, &outl, b, (int)blen)) ||
	    (n && !EVP_CipherUpdate(k->c, p, &outl, p, (int)n)))
		return EIO;
	if (!enc && !EVP_CIPHER_CTX_ctrl(k->c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag))
		return EIO;
	if (EVP_CipherFinal_ex(k->c, p + n, &outl) <= 0)
		return enc ? EIO : EBADMSG;
	if (enc && !EVP_CIPHER_CTX_ctrl(k->c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag))
		return EIO;
	return 0;
}

/* --- streams, indices, replay ---------------------------------------------------------- */

static struct stream *stream_find(struct media_srtp *s, uint32_t ssrc)
{
	for (unsigned i = 0; i < s->nstreams; i++) {
		if (s->streams[i].ssrc == ssrc)
			return &s->streams[i];
	}
	return NULL;
}

/* Protect: a new SSRC gets its stream at once (NULL: the table is full). */
static struct stream *stream_tx(struct media_srtp *s, uint32_t ssrc)
{
	struct stream *st = stream_find(s, ssrc);
	if (st || s->nstreams == MEDIA_SRTP_STREAMS)
		return st;
	st = &s->streams[s->nstreams++];
	*st = (struct stream){ .ssrc = ssrc };
	return st;
}

/* Unprotect: a new SSRC is worked on in *fresh, kept by stream_commit() only
 * once its packet authenticated. */
static int stream_rx(struct media_srtp *s, uint32_t ssrc, struct stream *fresh, struct stream **stp)
{
	*stp = stream_find(s, ssrc);
	if (*stp)
		return 0;
	if (s->nstreams == MEDIA_SRTP_STREAMS)
		return ENOSPC;
	*fresh = (struct stream){ .ssrc = ssrc };
	*stp = fresh;
	return 0;
}

static void stream_commit(struct media_srtp *s, const struct stream *st, const struct stream *fresh)
{
	if (st == fresh)
		s->streams[s->nstreams++] = *fresh;
}

/* The index of seq nearest to hi, the highest seen (RFC 3711 §3.3.1). */
static uint64_t rtp_index(uint64_t hi, uint16_t seq)
{
	if (hi <= 32768)
		return seq;
	uint64_t roc = hi >> 16;
	unsigned sl = (uint16_t)hi;
	if (sl < 32768) {
		if (seq > sl + 32768)
			roc--;
	} else if (seq < sl - 32768) {
		roc++;
	}
	return (roc << 16 | seq) & 0xffffffffffffull;
}

static bool window_seen(const struct window *w, uint64_t idx)
{
	if (idx > w->hi)
		return false;
	uint64_t d = w->hi - idx;
	return d >= MEDIA_SRTP_WINDOW || (w->bits[d / 64] >> (d % 64) & 1);
}

static void window_add(struct window *w, uint64_t idx)
{
	if (idx > w->hi) {
		uint64_t n = idx - w->hi;
		if (n >= MEDIA_SRTP_WINDOW) {
			memset(w->bits, 0, sizeof(w->bits));
		} else {
			/* bit k becomes bit k + n */
			unsigned words = (unsigned)(n / 64), bits = (unsigned)(n % 64);
			for (int i = WIN_WORDS - 1; i >= 0; i--) {
				int src = i - (int)words;
				uint64_t v = 0;
				if (src >= 0) {
					v = w->bits[src] << bits;
					if (bits && src > 0)
						v |= w->bits[src - 1] >> (64 - bits);
				}
				w->bits[i] = v;
			}
		}
		w->hi = idx;
	}
	uint64_t d = w->hi - idx;
	w->bits[d / 64] |= 1ull << (d % 64);
}

/* --- RTP ------------------------------------------------------------------------------------ */

int media_srtp_protect(struct media_srtp *s, uint8_t *pkt, size_t *len, size_t cap)
{
	size_t n = *len, hl;
	if (media_rtp_header_len(pkt, n, &hl))
		return EBADMSG;
	if (cap < n || cap - n < s->tag)
		return ENOBUFS;
	uint32_t ssrc = media_rtp_get32(pkt + 8);
	struct stream *st = stream_tx(s, ssrc);
	if (!st)
		return ENOSPC;
	uint64_t idx = rtp_index(st->tx_hi, (uint16_t)(pkt[2] << 8 | pkt[3]));
	int e;
	if (s->suite == MEDIA_SRTP_AEAD_AES_128_GCM) {
		e = gcm_crypt(&s->rtp, 1, ssrc, idx, pkt, hl, NULL, 0, pkt + hl, n - hl, pkt + n);
	} else {
		uint8_t roc[4];
		wr32(roc, (uint32_t)(idx >> 16));
		e = ctr_crypt(&s->rtp, ssrc, idx, pkt + hl, n - hl);
		if (!e)
			hmac_tag(&s->rtp, pkt, n, roc, sizeof(roc), pkt + n);
	}
	if (e)
		return e;
	if (idx > st->tx_hi)
		st->tx_hi = idx;
	*len = n + s->tag;
	return 0;
}

int media_srtp_unprotect(struct media_srtp *s, uint8_t *pkt, size_t *len)
{
	size_t n = *len, hl;
	if (n < s->tag)
		return EBADMSG;
	size_t body = n - s->tag;
	if (media_rtp_header_len(pkt, body, &hl))
		return EBADMSG;
	uint32_t ssrc = media_rtp_get32(pkt + 8);
	struct stream fresh, *st;
	int e = stream_rx(s, ssrc, &fresh, &st);
	if (e)
		return e;
	uint64_t idx = rtp_index(st->rtp_rx.hi, (uint16_t)(pkt[2] << 8 | pkt[3]));
	if (window_seen(&st->rtp_rx, idx))
		return EALREADY;
	if (s->suite == MEDIA_SRTP_AEAD_AES_128_GCM) {
		e = gcm_crypt(&s->rtp, 0, ssrc, idx, pkt, hl, NULL, 0, pkt + hl, body - hl, pkt + body);
	} else {
		uint8_t roc[4], tag[CM_TAG];
		wr32(roc, (uint32_t)(idx >> 16));
		hmac_tag(&s->rtp, pkt, body, roc, sizeof(roc), tag);
		e = CRYPTO_memcmp(tag, pkt + body, CM_TAG) ? EBADMSG
							      : ctr_crypt(&s->rtp, ssrc, idx, pkt + hl, body - hl);
	}
	if (e)
		return e;
	window_add(&st->rtp_rx, idx);
	stream_commit(s, st, &fresh);
	*len = body;
	return 0;
}

/* --- RTCP (RFC 3711 §3.4; RFC 7714 §9: the tag before E||index) ---------------------------- */

int media_srtp_protect_rtcp(struct media_srtp *s, uint8_t *pkt, size_t *len, size_t cap)
{
	size_t n = *len;
	if (n < RTCP_HDR || (pkt[0] & 0xc0) != 0x80)
		return EBADMSG;
	if (cap < n || cap - n < s->tag + RTCP_TRAILER)
		return ENOBUFS;
	uint32_t ssrc = media_rtp_get32(pkt + 4);
	struct stream *st = stream_tx(s, ssrc);
	if (!st)
		return ENOSPC;
	if (st->rtcp_tx > SRTCP_INDEX_MAX)
		return EOVERFLOW;
	uint32_t idx = st->rtcp_tx;
	uint8_t trailer[RTCP_TRAILER];
	wr32(trailer, SRTCP_E_BIT | idx);
	int e;
	if (s->suite == MEDIA_SRTP_AEAD_AES_128_GCM) {
		e = gcm_crypt(&s->rtcp, 1, ssrc, idx, pkt, RTCP_HDR, trailer, sizeof(trailer), pkt + RTCP_HDR,
			      n - RTCP_HDR, pkt + n);
		memcpy(pkt + n + GCM_TAG, trailer, sizeof(trailer));
	} else {
		e = ctr_crypt(&s->rtcp, ssrc, idx, pkt + RTCP_HDR, n - RTCP_HDR);
		memcpy(pkt + n, trailer, sizeof(trailer));
		if (!e)
			hmac_tag(&s->rtcp, pkt, n + RTCP_TRAILER, NULL, 0, pkt + n + RTCP_TRAILER);
	}
	if (e)
		return e;
	st->rtcp_tx++;
	*len = n + s->tag + RTCP_TRAILER;
	return 0;
}

int media_srtp_unprotect_rtcp(struct media_srtp *s, uint8_t *pkt, size_t *len)
{
	size_t n = *len;
	if (n < RTCP_HDR + RTCP_TRAILER + s->tag || (pkt[0] & 0xc0) != 0x80)
		return EBADMSG;
	bool gcm = s->suite == MEDIA_SRTP_AEAD_AES_128_GCM;
	size_t body = n - s->tag - RTCP_TRAILER; /* where the header and payload end */
	const uint8_t *trailer = gcm ? pkt + n - RTCP_TRAILER : pkt + body;
	uint32_t t = media_rtp_get32(trailer), idx = t & SRTCP_INDEX_MAX;
	bool encrypted = t & SRTCP_E_BIT;
	uint32_t ssrc = media_rtp_get32(pkt + 4);
	struct stream fresh, *st;
	int e = stream_rx(s, ssrc, &fresh, &st);
	if (e)
		return e;
	if (window_seen(&st->rtcp_rx, idx))
		return EALREADY;
	if (gcm) {
		/* E=0: all of header and payload is AAD, nothing is encrypted */
		size_t aad = encrypted ? RTCP_HDR : body;
		e = gcm_crypt(&s->rtcp, 0, ssrc, idx, pkt, aad, trailer, RTCP_TRAILER, pkt + aad, body - aad,
			      pkt + body);
	} else {
		uint8_t tag[CM_TAG];
		hmac_tag(&s->rtcp, pkt, body + RTCP_TRAILER, NULL, 0, tag);
		if (CRYPTO_memcmp(tag, pkt + body + RTCP_TRAILER, CM_TAG))
			e = EBADMSG;
		else if (encrypted)
			e = ctr_crypt(&s->rtcp, ssrc, idx, pkt + RTCP_HDR, body - RTCP_HDR);
	}
	if (e)
		return e;
	window_add(&st->rtcp_rx, idx);
	stream_commit(s, st, &fresh);
	*len = body;
	return 0;
}
