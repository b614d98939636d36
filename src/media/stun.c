/* STUN binding messages for ICE-lite (see stun.h). Every length read from the
 * wire is checked against what the datagram holds before it is used. */
#include "media/stun.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define COOKIE 0x2112A442u
#define FP_XOR 0x5354554eu

enum {
	A_MAPPED = 0x0001,
	A_USERNAME = 0x0006,
	A_INTEGRITY = 0x0008,
	A_ERROR_CODE = 0x0009,
	A_XOR_MAPPED = 0x0020,
	A_PRIORITY = 0x0024,
	A_USE_CANDIDATE = 0x0025,
	A_SOFTWARE = 0x8022,
	A_FINGERPRINT = 0x8028,
	A_CONTROLLED = 0x8029,
	A_CONTROLLING = 0x802A,
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* CRC-32 (ISO-HDLC, as zlib's) bit by bit: STUN messages are a hundred bytes. */
static uint32_t crc32_update(uint32_t c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c;
}

bool stun_is(const uint8_t *p, size_t len)
{
	return len >= STUN_HDR && p[0] < 4 && get32(p + 4) == COOKIE && (get16(p + 2) & 3) == 0 &&
	       (size_t)get16(p + 2) + STUN_HDR == len;
}

int stun_parse(const uint8_t *p, size_t len, struct stun_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (!stun_is(p, len))
		return EBADMSG;
	m->type = get16(p);
	memcpy(m->tid, p + 8, 12);
	m->buf = p;
	m->len = len;
	for (size_t at = STUN_HDR; at < len;) {
		if (len - at < 4)
			return EBADMSG;
		uint16_t t = get16(p + at), l = get16(p + at + 2);
		size_t padded = ((size_t)l + 3) & ~(size_t)3;
		if (padded > len - at - 4)
			return EBADMSG;
		const uint8_t *v = p + at + 4;
		if (m->fingerprint_at)
			return EBADMSG; /* FINGERPRINT is the last attribute */
		if (m->integrity_at && t != A_FINGERPRINT)
			return EBADMSG; /* after MESSAGE-INTEGRITY, only FINGERPRINT */
		switch (t) {
		case A_USERNAME:
			m->username = v;
			m->username_len = l;
			break;
		case A_INTEGRITY:
			if (l != 20)
				return EBADMSG;
			m->integrity_at = at;
			break;
		case A_FINGERPRINT:
			if (l != 4)
				return EBADMSG;
			m->fingerprint_at = at;
			break;
		case A_PRIORITY:
			if (l != 4)
				return EBADMSG;
			m->priority = get32(v);
			break;
		case A_USE_CANDIDATE:
			m->use_candidate = true;
			break;
		case A_CONTROLLED:
		case A_CONTROLLING:
			if (l != 8)
				return EBADMSG;
			m->tiebreaker = (uint64_t)get32(v) << 32 | get32(v + 4);
			if (t == A_CONTROLLING)
				m->controlling = true;
			else
				m->controlled = true;
			break;
		case A_MAPPED: case A_ERROR_CODE: case A_XOR_MAPPED:
			break;
		default:
			if (t < 0x8000 && !m->unknown_required)
				m->unknown_required = t;
			break;
		}
		at += 4 + padded;
	}
	return 0;
}

/* HMAC-SHA1 over the message up to the attribute at `at`, with the header's
 * length as if the message ended after a MESSAGE-INTEGRITY there (§15.4). */
static void integrity_of(const uint8_t *p, size_t at, const void *key, size_t keylen, uint8_t out[20])
{
	/* HMAC() is one shot: the adjusted header and the attributes after it go
	 * into one buffer (a datagram here is at most a few KiB). */
	uint8_t buf[4096], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (at > sizeof(buf)) {
		memset(out, 0, 20);
		return;
	}
	memcpy(buf, p, at);
	put16(buf + 2, (uint16_t)(at - STUN_HDR + 24));
	if (!HMAC(EVP_sha1(), key, (int)keylen, buf, at, md, &mdlen) || mdlen < 20) {
		memset(out, 0, 20);
		return;
	}
	memcpy(out, md, 20);
}

bool stun_integrity_ok(const struct stun_msg *m, const void *key, size_t keylen)
{
	if (!m->integrity_at || !key)
		return false;
	uint8_t mac[20];
	integrity_of(m->buf, m->integrity_at, key, keylen, mac);
	return CRYPTO_memcmp(mac, m->buf + m->integrity_at + 4, 20) == 0;
}

/* CRC-32 of the message up to the attribute at `at`, the header's length as if
 * it ended after a FINGERPRINT there, XORed with 0x5354554e (§15.5). */
static uint32_t fingerprint_of(const uint8_t *p, size_t at)
{
	uint8_t hdr[4];
	memcpy(hdr, p, 4);
	put16(hdr + 2, (uint16_t)(at - STUN_HDR + 8));
	uint32_t c = crc32_update(0xffffffffu, hdr, 4);
	c = crc32_update(c, p + 4, at - 4);
	return ~c ^ FP_XOR;
}

bool stun_fingerprint_ok(const struct stun_msg *m)
{
	return m->fingerprint_at && fingerprint_of(m->buf, m->fingerprint_at) == get32(m->buf + m->fingerprint_at + 4);
}

/* --- building ------------------------------------------------------------------------ */

struct wr {
	uint8_t *p;
	size_t cap, len;
	bool full;
};

static uint8_t *attr(struct wr *w, uint16_t type, size_t l)
{
	size_t padded = (l + 3) & ~(size_t)3;
	if (w->full || w->cap - w->len < 4 + padded) {
		w->full = true;
		return NULL;
	}
	uint8_t *a = w->p + w->len;
	put16(a, type);
	put16(a + 2, (uint16_t)l);
	memset(a + 4, 0, padded);
	w->len += 4 + padded;
	put16(w->p + 2, (uint16_t)(w->len - STUN_HDR));
	return a + 4;
}

static void attr_str(struct wr *w, uint16_t type, const char *s)
{
	size_t l = strlen(s);
	uint8_t *v = attr(w, type, l);
	if (v)
		memcpy(v, s, l);
	/* padding: RFC 5769 pads with spaces; zeros are as valid and simpler */
}

static void header(struct wr *w, uint16_t type, const uint8_t tid[12])
{
	if (w->cap < STUN_HDR) {
		w->full = true;
		return;
	}
	put16(w->p, type);
	put16(w->p + 2, 0);
	put32(w->p + 4, COOKIE);
	memcpy(w->p + 8, tid, 12);
	w->len = STUN_HDR;
}

static size_t finish(struct wr *w, const void *key, size_t keylen)
{
	if (key) {
		size_t at = w->len;
		uint8_t *v = attr(w, A_INTEGRITY, 20);
		if (v)
			integrity_of(w->p, at, key, keylen, v);
	}
	size_t at = w->len;
	uint8_t *v = attr(w, A_FINGERPRINT, 4);
	if (v)
		put32(v, fingerprint_of(w->p, at));
	return w->full ? 0 : w->len;
}

static void xor_address(struct wr *w, const uint8_t tid[12], const struct sa *a)
{
	bool v6 = sa_af(a) == AF_INET6;
	uint8_t *v = attr(w, A_XOR_MAPPED, v6 ? 20 : 8);
	if (!v)
		return;
	v[1] = v6 ? 2 : 1;
	put16(v + 2, (uint16_t)(sa_port(a) ^ (COOKIE >> 16)));
	uint8_t mask[16];
	put32(mask, COOKIE);
	memcpy(mask + 4, tid, 12);
	const uint8_t *ip = v6 ? a->u.in6.sin6_addr.s6_addr : (const uint8_t *)&a->u.in.sin_addr.s_addr;
	for (int i = 0; i < (v6 ? 16 : 4); i++)
		v[4 + i] = ip[i] ^ mask[i];
}

size_t stun_binding_success(uint8_t *out, size_t cap, const uint8_t tid[12], const struct sa *mapped,
			    const char *software, const void *key, size_t keylen)
{
	struct wr w = { .p = out, .cap = cap };
	header(&w, STUN_BINDING_SUCCESS, tid);
	if (software)
		attr_str(&w, A_SOFTWARE, software);
	xor_address(&w, tid, mapped);
	return finish(&w, key, keylen);
}

size_t stun_binding_error(uint8_t *out, size_t cap, const uint8_t tid[12], uint16_t code, const char *reason,
			  const void *key, size_t keylen)
{
	struct wr w = { .p = out, .cap = cap };
	header(&w, STUN_BINDING_ERROR, tid);
	size_t rl = strlen(reason);
	uint8_t *v = attr(&w, A_ERROR_CODE, 4 + rl);
	if (v) {
		v[2] = (uint8_t)(code / 100);
		v[3] = (uint8_t)(code % 100);
		memcpy(v + 4, reason, rl);
	}
	return finish(&w, key, keylen);
}

size_t stun_binding_request(uint8_t *out, size_t cap, const uint8_t tid[12], const struct stun_check *c,
			    const void *key, size_t keylen)
{
	struct wr w = { .p = out, .cap = cap };
	header(&w, STUN_BINDING_REQUEST, tid);
	if (c->software)
		attr_str(&w, A_SOFTWARE, c->software);
	uint8_t *v = attr(&w, A_PRIORITY, 4);
	if (v)
		put32(v, c->priority);
	v = attr(&w, c->controlling ? A_CONTROLLING : A_CONTROLLED, 8);
	if (v) {
		put32(v, (uint32_t)(c->tiebreaker >> 32));
		put32(v + 4, (uint32_t)c->tiebreaker);
	}
	if (c->use_candidate)
		attr(&w, A_USE_CANDIDATE, 0);
	if (c->username)
		attr_str(&w, A_USERNAME, c->username);
	return finish(&w, key, keylen);
}

int stun_xor_mapped(const struct stun_msg *m, struct sa *out)
{
	for (size_t at = STUN_HDR; at + 4 <= m->len;) {
		uint16_t t = get16(m->buf + at), l = get16(m->buf + at + 2);
		const uint8_t *v = m->buf + at + 4;
		if (t == A_XOR_MAPPED && (l == 8 || l == 20) && at + 4 + l <= m->len) {
			uint8_t mask[16];
			put32(mask, COOKIE);
			memcpy(mask + 4, m->tid, 12);
			uint16_t port = get16(v + 2) ^ (uint16_t)(COOKIE >> 16);
			memset(out, 0, sizeof(*out));
			if (v[1] == 1 && l == 8) {
				out->u.in.sin_family = AF_INET;
				uint8_t *ip = (uint8_t *)&out->u.in.sin_addr.s_addr;
				for (int i = 0; i < 4; i++)
					ip[i] = v[4 + i] ^ mask[i];
				out->len = sizeof(out->u.in);
			} else if (v[1] == 2 && l == 20) {
				out->u.in6.sin6_family = AF_INET6;
				for (int i = 0; i < 16; i++)
					out->u.in6.sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
				out->len = sizeof(out->u.in6);
			} else {
				return ENOENT;
			}
			sa_set_port(out, port);
			return 0;
		}
		at += 4 + (((size_t)l + 3) & ~(size_t)3);
	}
	return ENOENT;
}
