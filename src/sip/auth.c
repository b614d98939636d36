/* SIP digest authentication (see auth.h): the server's challenges and checks, and
 * the client's answers to a trunk's challenges, on one parser and one hash path.
 *
 * A nonce is base64url, unpadded, of
 *     issue time (8 bytes, big-endian seconds) || salt (8 random bytes)
 *     || first 16 bytes of HMAC-SHA256(key, time || salt || realm).
 * The HMAC makes it unforgeable and binds it to one realm (tenant); the time gives
 * its age without any lookup. The salt makes every challenge's nonce unique: without
 * it, all clients challenged in the same second for the same realm would share a
 * nonce, and the second one to count nc=1 would look like a replay.
 *
 * Replay protection needs memory, so it is bounded: NC_SLOTS entries, keyed by the
 * nonce's MAC, each holding the highest nonce-count accepted, reused oldest first.
 * A nonce whose entry was pushed out while still fresh could be replayed, so once
 * that has happened any unknown nonce issued no later than the newest such evicted
 * one is answered STALE: the client fetches a new nonce and an attacker gains
 * nothing. Under normal load (fewer live nonces than slots) that never triggers. */
#include "sip/auth.h"
#include "sip/msg.h"
#include "sip/uri.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/list.h"
#include "core/mem.h"

enum {
	KEY_LEN = 32,
	SALT_LEN = 8,
	MAC_LEN = 16,
	NONCE_RAW = 8 + SALT_LEN + MAC_LEN,
	NONCE_LEN = (NONCE_RAW * 8 + 5) / 6, /* base64url characters, unpadded */
	OPAQUE_RAW = 8,
	NC_SLOTS = 4096,
	NC_BUCKETS = 1024, /* power of two */
};

struct nc_entry {
	struct le le;
	uint8_t mac[MAC_LEN];
	uint64_t issued;
	uint32_t nc; /* highest accepted; RFC 2069 use counts as 1 */
};

struct sip_auth {
	uint8_t key[KEY_LEN];
	char opaque[2 * OPAQUE_RAW + 1];
	uint32_t lifetime;
	uint32_t next;        /* the slot to reuse next */
	bool evicted;         /* a still-fresh entry has been pushed out */
	uint64_t evict_floor; /* newest issue time among those */
	enum sip_auth_alg offer[4]; /* challenged, most preferred first */
	size_t noffer;
	struct list buckets[NC_BUCKETS];
	struct nc_entry ents[NC_SLOTS];
};

static const struct alg_info {
	const char *name;
	bool sess;
	const EVP_MD *(*md)(void);
	size_t hexlen;
} algs[] = {
	[SIP_AUTH_MD5] = { "MD5", false, EVP_md5, 32 },
	[SIP_AUTH_MD5_SESS] = { "MD5-sess", true, EVP_md5, 32 },
	[SIP_AUTH_SHA256] = { "SHA-256", false, EVP_sha256, 64 },
	[SIP_AUTH_SHA256_SESS] = { "SHA-256-sess", true, EVP_sha256, 64 },
	[SIP_AUTH_SHA512_256] = { "SHA-512-256", false, EVP_sha512_256, 64 },
	[SIP_AUTH_SHA512_256_SESS] = { "SHA-512-256-sess", true, EVP_sha512_256, 64 },
};

#define NALGS (sizeof(algs) / sizeof(algs[0]))

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *sip_auth_alg_name(enum sip_auth_alg alg)
{
	return (size_t)alg < NALGS ? algs[alg].name : "?";
}

static void adv(struct pl *c, size_t n)
{
	c->p += n;
	c->l -= n;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_hex_len(const struct pl *pl, size_t n)
{
	if (!pl->p || pl->l != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (hexval(pl->p[i]) < 0)
			return false;
	}
	return true;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- hashing ---- */

/* Lowercase hex of H(parts[0] ":" parts[1] ":" ...). */
static int digest_hex(enum sip_auth_alg alg, const struct pl *parts, size_t n, char *out,
		      size_t size)
{
	const struct alg_info *ai = &algs[alg];
	if (size < ai->hexlen + 1)
		return ENOSPC;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, ai->md(), NULL);
	for (size_t i = 0; ok && i < n; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && parts[i].l)
			ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].l);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || (size_t)mdlen * 2 != ai->hexlen)
		return EIO;
	hex_encode(md, mdlen, out);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int sip_auth_ha1_compute(char *out, size_t size, enum sip_auth_alg alg, const struct pl *user,
			 const struct pl *realm, const char *password)
{
	if (!out || (size_t)alg >= NALGS || !user || !realm || !password)
		return EINVAL;
	struct pl parts[3] = { *user, *realm, pl_cstr(password) };
	return digest_hex(alg, parts, 3, out, size);
}

/* What a response digest is computed over, every value already unquoted; qop.p is
 * NULL for RFC 2069 (then cnonce is only used by the -sess algorithms, nc not). */
struct digest_in {
	enum sip_auth_alg alg;
	struct pl method, uri, nonce, cnonce, nc, qop;
};

/* RFC 7616 §3.4.1 with qop, RFC 2069 without, from ha1: lowercase hex of the
 * algorithm's length. Shared by the server's check and the client's answer, so
 * both sides hash the same way. */
static int response_digest(char *out, size_t size, const struct digest_in *in, const struct pl *ha1)
{
	const struct alg_info *ai = &algs[in->alg];
	char sha1[SIP_AUTH_HEX_SIZE], ha2[SIP_AUTH_HEX_SIZE];
	struct pl a1 = *ha1;
	int err = 0;
	if (ai->sess) {
		/* RFC 7616 §3.4.2: HA1 = H(H(user:realm:pass):nonce:cnonce) */
		struct pl sp[3] = { *ha1, in->nonce, in->cnonce };
		err = digest_hex(in->alg, sp, 3, sha1, sizeof(sha1));
		a1 = pl_from(sha1, ai->hexlen);
	}
	struct pl hp[2] = { in->method, in->uri };
	err = err ? err : digest_hex(in->alg, hp, 2, ha2, sizeof(ha2));
	if (!err) {
		struct pl a2 = pl_from(ha2, ai->hexlen);
		if (in->qop.p) {
			struct pl rp[6] = { a1, in->nonce, in->nc, in->cnonce, in->qop, a2 };
			err = digest_hex(in->alg, rp, 6, out, size);
		} else {
			struct pl rp[3] = { a1, in->nonce, a2 };
			err = digest_hex(in->alg, rp, 3, out, size);
		}
	}
	OPENSSL_cleanse(sha1, sizeof(sha1));
	return err;
}

int sip_auth_response_compute(char *out, size_t size, const struct sip_auth_cred *c,
			      const struct pl *method, const char *ha1_hex)
{
	if (!out || !c || !method || !ha1_hex || (size_t)c->alg >= NALGS)
		return EINVAL;
	const struct alg_info *ai = &algs[c->alg];
	struct pl ha1 = pl_cstr(ha1_hex);
	if (!is_hex_len(&ha1, ai->hexlen))
		return EINVAL;
	bool qop = c->qop.p != NULL;
	if ((qop || ai->sess) && (!c->cnonce.p || (qop && !c->nc.p)))
		return EINVAL;

	char ubuf[SIP_AUTH_MAX_URI], nbuf[SIP_AUTH_MAX_FIELD], cbuf[SIP_AUTH_MAX_FIELD];
	char qbuf[SIP_AUTH_MAX_FIELD];
	struct digest_in in = { .alg = c->alg, .method = *method, .nc = c->nc };
	if (sip_auth_unquote(&c->uri, ubuf, sizeof(ubuf), &in.uri) ||
	    sip_auth_unquote(&c->nonce, nbuf, sizeof(nbuf), &in.nonce) ||
	    (c->cnonce.p && sip_auth_unquote(&c->cnonce, cbuf, sizeof(cbuf), &in.cnonce)) ||
	    (qop && sip_auth_unquote(&c->qop, qbuf, sizeof(qbuf), &in.qop)))
		return ENOSPC;
	/* Only qop=auth is offered; auth-int would need the body, and we never asked. */
	if (qop && !pl_caseeq_str(&in.qop, "auth"))
		return EINVAL;

	/* The stored HA1 may be uppercase hex; the digest is over lowercase. */
	char lha1[SIP_AUTH_HEX_SIZE];
	for (size_t i = 0; i < ha1.l; i++)
		lha1[i] = (char)(hexval(ha1.p[i]) < 10 ? ha1.p[i] : 'a' + hexval(ha1.p[i]) - 10);
	struct pl a1 = pl_from(lha1, ha1.l);
	int err = response_digest(out, size, &in, &a1);
	OPENSSL_cleanse(lha1, sizeof(lha1));
	return err;
}

/* ---- nonces ---- */

static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

/* Decodes exactly n bytes from exactly the right number of characters. */
static int b64url_decode(const struct pl *in, uint8_t *out, size_t n)
{
	if (in->l != (n * 8 + 5) / 6)
		return EINVAL;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < in->l; i++) {
		const char *f = in->p[i] ? strchr(b64url, in->p[i]) : NULL;
		if (!f)
			return EINVAL;
		acc = (acc << 6) | (uint32_t)(f - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Unused trailing bits must be zero, so each nonce has one spelling only. */
	return (acc & ((1u << bits) - 1)) ? EINVAL : 0;
}

static int nonce_mac(const struct sip_auth *a, const uint8_t *ts_salt, const struct pl *realm,
		     uint8_t mac[MAC_LEN])
{
	uint8_t buf[8 + SALT_LEN + SIP_AUTH_MAX_FIELD];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (realm->l > SIP_AUTH_MAX_FIELD)
		return EINVAL;
	memcpy(buf, ts_salt, 8 + SALT_LEN);
	if (realm->l)
		memcpy(buf + 8 + SALT_LEN, realm->p, realm->l);
	if (!HMAC(EVP_sha256(), a->key, KEY_LEN, buf, 8 + SALT_LEN + realm->l, md, &mdlen) ||
	    mdlen < MAC_LEN)
		return EIO;
	memcpy(mac, md, MAC_LEN);
	return 0;
}

static int nonce_make(const struct sip_auth *a, uint64_t now_s, const struct pl *realm,
		      char out[NONCE_LEN + 1])
{
	uint8_t raw[NONCE_RAW];
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(now_s >> (56 - 8 * i));
	if (RAND_bytes(raw + 8, SALT_LEN) != 1)
		return EIO;
	int err = nonce_mac(a, raw, realm, raw + 8 + SALT_LEN);
	if (err)
		return err;
	b64url_encode(raw, NONCE_RAW, out);
	return 0;
}

/* Returns 0 with the issue time and MAC when we issued nonce for realm. */
static int nonce_check(const struct sip_auth *a, const struct pl *nonce, const struct pl *realm,
		       uint64_t *issued, uint8_t mac[MAC_LEN])
{
	uint8_t raw[NONCE_RAW];
	if (b64url_decode(nonce, raw, NONCE_RAW) || nonce_mac(a, raw, realm, mac))
		return EBADMSG;
	if (CRYPTO_memcmp(mac, raw + 8 + SALT_LEN, MAC_LEN))
		return EBADMSG;
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t = (t << 8) | raw[i];
	*issued = t;
	return 0;
}

/* ---- the authenticator ---- */

static void auth_destroy(void *data)
{
	struct sip_auth *a = data;
	OPENSSL_cleanse(a->key, sizeof(a->key));
}

int sip_auth_alloc(struct sip_auth **ap, uint32_t nonce_lifetime_s)
{
	if (!ap || !nonce_lifetime_s)
		return EINVAL;
	struct sip_auth *a = mem_zalloc(sizeof(*a), auth_destroy);
	if (!a)
		return ENOMEM;
	a->lifetime = nonce_lifetime_s;
	a->offer[0] = SIP_AUTH_SHA256;
	a->offer[1] = SIP_AUTH_MD5;
	a->noffer = 2;
	if (RAND_bytes(a->key, KEY_LEN) != 1) {
		mem_deref(a);
		return EIO;
	}
	/* The opaque only has to come back unchanged; deriving it from the key makes
	 * it differ per run without storing anything. */
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!HMAC(EVP_sha256(), a->key, KEY_LEN, (const uint8_t *)"opaque", 6, md, &mdlen)) {
		mem_deref(a);
		return EIO;
	}
	hex_encode(md, OPAQUE_RAW, a->opaque);
	*ap = a;
	return 0;
}

/* Text that goes into a quoted-string: no control characters (no header injection). */
static bool text_ok(const struct pl *s)
{
	for (size_t i = 0; i < s->l; i++) {
		unsigned char ch = (unsigned char)s->p[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static bool realm_ok(const struct pl *realm)
{
	return realm->p && realm->l && realm->l <= SIP_AUTH_MAX_FIELD && text_ok(realm);
}

static int print_quoted(struct mbuf *mb, const struct pl *s)
{
	int err = 0;
	size_t from = 0;
	for (size_t i = 0; i <= s->l && !err; i++) {
		if (i < s->l && s->p[i] != '"' && s->p[i] != '\\')
			continue;
		struct pl run = pl_from(s->p + from, i - from);
		err = mbuf_write_pl(mb, &run);
		if (!err && i < s->l)
			err = mbuf_write_mem(mb, "\\", 1);
		from = i;
	}
	return err;
}

int sip_auth_offer_set(struct sip_auth *a, const enum sip_auth_alg *algs_in, size_t n)
{
	if (!n || n > sizeof(a->offer) / sizeof(a->offer[0]))
		return EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (algs_in[i] != SIP_AUTH_MD5 && algs_in[i] != SIP_AUTH_SHA256 && algs_in[i] != SIP_AUTH_SHA512_256)
			return EINVAL;
		a->offer[i] = algs_in[i];
	}
	a->noffer = n;
	return 0;
}

int sip_auth_offer_parse(const char *list, enum sip_auth_alg *out, size_t max, size_t *n)
{
	*n = 0;
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, ", ");
		struct pl name = pl_from(p, l);
		size_t i = 0;
		for (; i < sizeof(algs) / sizeof(algs[0]); i++) {
			if (!algs[i].sess && pl_caseeq_str(&name, algs[i].name))
				break;
		}
		if (i == sizeof(algs) / sizeof(algs[0]) || *n >= max)
			return EINVAL;
		out[(*n)++] = (enum sip_auth_alg)i;
		p += l;
	}
	return *n ? 0 : EINVAL;
}

/* One challenge line per offered algorithm, the first always; each further one
 * only while everything written stays within room bytes. */
static int challenge_print(struct mbuf *mb, struct sip_auth *a, bool proxy, const struct pl *realm,
			   bool stale, uint64_t now_s, bool opaque, size_t room)
{
	if (!mb || !a || !realm || !realm_ok(realm))
		return EINVAL;
	size_t end0 = mb->end, pos0 = mb->pos;
	int err = 0;
	for (size_t i = 0; i < a->noffer && !err; i++) {
		size_t line0 = mb->end;
		/* A nonce per line: each is its own challenge (RFC 7616 §3.7). */
		char nonce[NONCE_LEN + 1];
		err = nonce_make(a, now_s, realm, nonce);
		if (!err)
			err = mbuf_printf(mb, "%s: Digest realm=\"",
					  proxy ? "Proxy-Authenticate" : "WWW-Authenticate");
		if (!err)
			err = print_quoted(mb, realm);
		if (!err)
			err = mbuf_printf(mb, "\", nonce=\"%s\"%s%s%s, algorithm=%s, qop=\"auth\"%s\r\n", nonce,
					  opaque ? ", opaque=\"" : "", opaque ? a->opaque : "", opaque ? "\"" : "",
					  algs[a->offer[i]].name, stale ? ", stale=true" : "");
		if (!err && i && mb->end - end0 > room) {
			mb->end = line0;
			break;
		}
	}
	if (err) {
		mb->end = end0;
		mb->pos = pos0;
	}
	return err;
}

int sip_auth_challenge_print(struct mbuf *mb, struct sip_auth *a, bool proxy,
			     const struct pl *realm, bool stale, uint64_t now_s)
{
	return challenge_print(mb, a, proxy, realm, stale, now_s, true, SIZE_MAX);
}

int sip_auth_challenge_print_lean(struct mbuf *mb, struct sip_auth *a, bool proxy,
				  const struct pl *realm, bool stale, uint64_t now_s, size_t room)
{
	return challenge_print(mb, a, proxy, realm, stale, now_s, false, room);
}

/* ---- credentials parsing (RFC 3261 §25.1 credentials, RFC 7616 §3.4) ---- */

static struct pl take_token(struct pl *c)
{
	struct pl t = { c->p, 0 };
	while (t.l < c->l && sip_token_char(c->p[t.l]))
		t.l++;
	adv(c, t.l);
	return t;
}

/* Length of a line break at p (CRLF, or a lone CR or LF), 0 when none. */
static size_t line_break(const char *p, size_t l)
{
	if (!l || (*p != '\r' && *p != '\n'))
		return 0;
	return (*p == '\r' && l > 1 && p[1] == '\n') ? 2 : 1;
}

/* Skips LWS. A line break is whitespace only as a fold (followed by SP or HTAB);
 * anything else would be the end of the header and is an error here. */
static bool skip_lws(struct pl *c)
{
	while (c->l) {
		size_t nl = line_break(c->p, c->l);
		if (nl) {
			if (nl >= c->l || !is_wsp(c->p[nl]))
				return false;
			adv(c, nl);
		} else if (is_wsp(*c->p)) {
			adv(c, 1);
		} else {
			break;
		}
	}
	return true;
}

/* quoted-string at c (which starts with '"'); val is what lies between the quotes. */
static int take_quoted(struct pl *c, struct pl *val)
{
	size_t i = 1;
	while (i < c->l) {
		unsigned char ch = (unsigned char)c->p[i];
		size_t nl = line_break(c->p + i, c->l - i);
		if (ch == '"') {
			*val = pl_from(c->p + 1, i - 1);
			adv(c, i + 1);
			return 0;
		}
		if (ch == '\\') {
			/* RFC 3261 lets quoted-pair escape any ASCII but CR/LF; control
			 * characters are refused too, as nothing legitimate needs them and
			 * they would reach the store's lookups. */
			if (i + 1 >= c->l)
				return EBADMSG;
			unsigned char e = (unsigned char)c->p[i + 1];
			if ((e < 0x20 && e != '\t') || e >= 0x7f)
				return EBADMSG;
			i += 2;
		} else if (nl) {
			if (i + nl >= c->l || !is_wsp(c->p[i + nl]))
				return EBADMSG;
			i += nl;
		} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			return EBADMSG;
		} else {
			i++;
		}
	}
	return EBADMSG; /* unterminated */
}

/* name EQUAL (token / quoted-string), with LWS around '='. */
static int param_next(struct pl *c, struct pl *name, struct pl *val)
{
	if (!skip_lws(c))
		return EBADMSG;
	*name = take_token(c);
	if (!name->l || !skip_lws(c) || !c->l || *c->p != '=')
		return EBADMSG;
	adv(c, 1);
	if (!skip_lws(c) || !c->l)
		return EBADMSG;
	if (*c->p == '"')
		return take_quoted(c, val);
	*val = take_token(c);
	return val->l ? 0 : EBADMSG;
}

/* A known parameter: where its slice goes in the struct being filled, and how long
 * its value may be. */
struct field {
	const char *name;
	size_t off;
	size_t max;
};

static const struct field cred_fields[] = {
	{ "username", offsetof(struct sip_auth_cred, username), SIP_AUTH_MAX_FIELD },
	{ "realm", offsetof(struct sip_auth_cred, realm), SIP_AUTH_MAX_FIELD },
	{ "nonce", offsetof(struct sip_auth_cred, nonce), SIP_AUTH_MAX_FIELD },
	{ "uri", offsetof(struct sip_auth_cred, uri), SIP_AUTH_MAX_URI },
	{ "response", offsetof(struct sip_auth_cred, response), SIP_AUTH_MAX_FIELD },
	{ "algorithm", offsetof(struct sip_auth_cred, algorithm), SIP_AUTH_MAX_FIELD },
	{ "cnonce", offsetof(struct sip_auth_cred, cnonce), SIP_AUTH_MAX_FIELD },
	{ "opaque", offsetof(struct sip_auth_cred, opaque), SIP_AUTH_MAX_FIELD },
	{ "qop", offsetof(struct sip_auth_cred, qop), SIP_AUTH_MAX_FIELD },
	{ "nc", offsetof(struct sip_auth_cred, nc), SIP_AUTH_MAX_FIELD },
};

static int param_store(void *dst, const struct field *tab, size_t ntab, const struct pl *name,
		       const struct pl *val)
{
	for (size_t i = 0; i < ntab; i++) {
		if (!pl_caseeq_str(name, tab[i].name))
			continue;
		if (val->l > tab[i].max)
			return EBADMSG;
		*(struct pl *)(void *)((char *)dst + tab[i].off) = *val;
		return 0;
	}
	return val->l > SIP_AUTH_MAX_FIELD ? EBADMSG : 0;
}

/* The algorithm named (case-insensitively, RFC 7616 §3.3); 0 or ENOTSUP. */
static int alg_find(const struct pl *name, enum sip_auth_alg *alg)
{
	for (size_t i = 0; i < NALGS; i++) {
		if (pl_caseeq_str(name, algs[i].name)) {
			*alg = (enum sip_auth_alg)i;
			return 0;
		}
	}
	return ENOTSUP;
}

/* What the grammar alone does not say: required fields and their formats. */
static int cred_check(struct sip_auth_cred *c)
{
	if (!c->username.p || !c->realm.p || !c->nonce.p || !c->uri.p || !c->response.p)
		return EBADMSG;
	c->alg = SIP_AUTH_MD5;
	if (c->algorithm.p && alg_find(&c->algorithm, &c->alg))
		return EBADMSG; /* we never offer what we do not know */
	if (c->nc.p) {
		if (!is_hex_len(&c->nc, 8))
			return EBADMSG;
		for (size_t i = 0; i < 8; i++)
			c->ncv = (c->ncv << 4) | (uint32_t)hexval(c->nc.p[i]);
		if (!c->ncv) /* counting starts at 1 (RFC 7616 §3.4) */
			return EBADMSG;
	}
	if (c->qop.p && (!c->qop.l || !c->cnonce.p || !c->nc.p))
		return EBADMSG;
	if (!is_hex_len(&c->response, algs[c->alg].hexlen))
		return EBADMSG;
	return 0;
}

/* The grammar credentials and challenges share (RFC 3261 §25.1):
 *     auth-scheme LWS auth-param *(COMMA auth-param)
 * Each parameter named in tab goes into dst; the others are only checked against
 * the limits. Returns 0, ENOTSUP when the scheme is not Digest, or EBADMSG. */
static int params_parse(const struct pl *hval, struct pl *scheme, const struct field *tab,
			size_t ntab, void *dst)
{
	if (!hval->p || hval->l > SIP_AUTH_MAX_HVAL)
		return EBADMSG;
	struct pl cur = *hval;
	if (!skip_lws(&cur))
		return EBADMSG;
	*scheme = take_token(&cur);
	if (!scheme->l || (cur.l && !is_wsp(*cur.p) && !line_break(cur.p, cur.l)))
		return EBADMSG;
	if (!pl_caseeq_str(scheme, "Digest"))
		return ENOTSUP;

	struct pl seen[SIP_AUTH_MAX_PARAMS];
	size_t nseen = 0;
	for (;;) {
		struct pl name, val;
		int err = param_next(&cur, &name, &val);
		if (err)
			return err;
		/* RFC 7616 §3.3/§3.4: each parameter at most once, known or not. */
		for (size_t i = 0; i < nseen; i++) {
			if (pl_caseeq(&seen[i], &name))
				return EBADMSG;
		}
		if (nseen == SIP_AUTH_MAX_PARAMS)
			return EBADMSG;
		seen[nseen++] = name;
		err = param_store(dst, tab, ntab, &name, &val);
		if (err)
			return err;
		if (!skip_lws(&cur))
			return EBADMSG;
		if (!cur.l)
			break;
		if (*cur.p != ',')
			return EBADMSG;
		adv(&cur, 1);
	}
	return 0;
}

int sip_auth_cred_parse(struct sip_auth_cred *c, const struct pl *hval)
{
	if (!c || !hval)
		return EINVAL;
	memset(c, 0, sizeof(*c));
	int err = params_parse(hval, &c->scheme, cred_fields, sizeof(cred_fields) / sizeof(cred_fields[0]), c);
	return err ? err : cred_check(c);
}

int sip_auth_unquote(const struct pl *val, char *buf, size_t size, struct pl *out)
{
	if (!val || !buf || !out)
		return EINVAL;
	size_t n = 0;
	for (size_t i = 0; i < val->l; i++) {
		char ch = val->p[i];
		size_t nl = line_break(val->p + i, val->l - i);
		if (nl) {
			/* LWS around a fold means one SP (RFC 3261 §7.3.1). */
			while (n && is_wsp(buf[n - 1]))
				n--;
			i += nl;
			while (i < val->l && is_wsp(val->p[i]))
				i++;
			i--;
			ch = ' ';
		} else if (ch == '\\' && i + 1 < val->l) {
			ch = val->p[++i];
		}
		if (n >= size)
			return ENOSPC;
		buf[n++] = ch;
	}
	*out = pl_from(buf, n);
	return 0;
}

/* ---- verification ---- */

static uint32_t nc_bucket(const uint8_t mac[MAC_LEN])
{
	/* The MAC is uniformly distributed and not chosen by the client. */
	return ((uint32_t)mac[0] | (uint32_t)mac[1] << 8) & (NC_BUCKETS - 1);
}

static enum sip_auth_result nc_check(struct sip_auth *a, const uint8_t mac[MAC_LEN],
				     uint64_t issued, uint32_t ncv, uint64_t now_s)
{
	bool rfc2069 = ncv == 0;
	uint32_t want = rfc2069 ? 1 : ncv;
	struct list *b = &a->buckets[nc_bucket(mac)];
	LIST_FOREACH(b, le) {
		struct nc_entry *e = le->data;
		if (memcmp(e->mac, mac, MAC_LEN))
			continue;
		if (want <= e->nc)
			return rfc2069 ? SIP_AUTH_STALE : SIP_AUTH_FAIL;
		e->nc = want;
		return SIP_AUTH_OK;
	}
	if (a->evicted && issued <= a->evict_floor)
		return SIP_AUTH_STALE; /* may have been used and forgotten */

	struct nc_entry *e = &a->ents[a->next];
	a->next = (a->next + 1) % NC_SLOTS;
	if (le_linked(&e->le)) {
		list_unlink(&e->le);
		bool fresh = e->issued <= now_s && now_s - e->issued <= a->lifetime;
		if (fresh && (!a->evicted || e->issued > a->evict_floor)) {
			a->evicted = true;
			a->evict_floor = e->issued;
		}
	}
	memcpy(e->mac, mac, MAC_LEN);
	e->issued = issued;
	e->nc = want;
	list_append(b, &e->le, e);
	return SIP_AUTH_OK;
}

static bool response_equal(const char *expect, const struct pl *resp)
{
	char low[SIP_AUTH_HEX_SIZE];
	size_t n = strlen(expect);
	if (resp->l != n || n >= sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = resp->p[i];
		low[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch + 32) : ch;
	}
	return CRYPTO_memcmp(low, expect, n) == 0;
}

static enum sip_auth_result verify(struct sip_auth *a, const struct sip_auth_cred *c,
				   const struct pl *method, const struct pl *realm,
				   const char *password, const char *ha1_hex, uint64_t now_s)
{
	if (!a || !c || !method || !realm || !c->nonce.p || !c->realm.p || !c->username.p ||
	    !c->response.p || (size_t)c->alg >= NALGS)
		return SIP_AUTH_FAIL;

	uint64_t issued;
	uint8_t mac[MAC_LEN];
	if (nonce_check(a, &c->nonce, realm, &issued, mac))
		return SIP_AUTH_BAD_NONCE;
	if (c->opaque.p && !pl_eq_str(&c->opaque, a->opaque))
		return SIP_AUTH_BAD_NONCE;

	char rbuf[SIP_AUTH_MAX_FIELD];
	struct pl crealm;
	if (sip_auth_unquote(&c->realm, rbuf, sizeof(rbuf), &crealm) || !pl_eq(&crealm, realm))
		return SIP_AUTH_FAIL;

	char ha1[SIP_AUTH_HEX_SIZE], expect[SIP_AUTH_HEX_SIZE];
	if (password) {
		char ubuf[SIP_AUTH_MAX_FIELD];
		struct pl user;
		if (sip_auth_unquote(&c->username, ubuf, sizeof(ubuf), &user) ||
		    sip_auth_ha1_compute(ha1, sizeof(ha1), c->alg, &user, realm, password))
			return SIP_AUTH_FAIL;
		ha1_hex = ha1;
	}
	int err = sip_auth_response_compute(expect, sizeof(expect), c, method, ha1_hex);
	bool match = !err && response_equal(expect, &c->response);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(expect, sizeof(expect));
	if (!match)
		return SIP_AUTH_FAIL;

	/* Age after the digest: stale=true tells the client to retry without asking
	 * the user, so it is only said to one that proved it knows the password. */
	if (issued > now_s || now_s - issued > a->lifetime)
		return SIP_AUTH_STALE;
	return nc_check(a, mac, issued, c->qop.p ? c->ncv : 0, now_s);
}

enum sip_auth_result sip_auth_verify(struct sip_auth *a, const struct sip_auth_cred *c,
				     const struct pl *method, const struct pl *realm,
				     const char *password, uint64_t now_s)
{
	if (!password)
		return SIP_AUTH_FAIL;
	return verify(a, c, method, realm, password, NULL, now_s);
}

enum sip_auth_result sip_auth_verify_ha1(struct sip_auth *a, const struct sip_auth_cred *c,
					 const struct pl *method, const struct pl *realm,
					 const char *ha1_hex, uint64_t now_s)
{
	if (!ha1_hex)
		return SIP_AUTH_FAIL;
	return verify(a, c, method, realm, NULL, ha1_hex, now_s);
}

/* ---- client side: answering a server's challenge (RFC 3261 §22.2, §22.3) ---- */

/* A challenge as parsed, with the parameters struct sip_auth_chal does not keep. */
struct chal_raw {
	struct sip_auth_chal ch;
	struct pl stale, domain;
};

static const struct field chal_fields[] = {
	{ "realm", offsetof(struct chal_raw, ch.realm), SIP_AUTH_MAX_FIELD },
	{ "nonce", offsetof(struct chal_raw, ch.nonce), SIP_AUTH_MAX_FIELD },
	{ "opaque", offsetof(struct chal_raw, ch.opaque), SIP_AUTH_MAX_FIELD },
	{ "algorithm", offsetof(struct chal_raw, ch.algorithm), SIP_AUTH_MAX_FIELD },
	{ "qop", offsetof(struct chal_raw, ch.qop), SIP_AUTH_MAX_FIELD },
	{ "stale", offsetof(struct chal_raw, stale), SIP_AUTH_MAX_FIELD },
	/* A list of URIs (RFC 7616 §3.3): allowed a URI's length, not a field's. */
	{ "domain", offsetof(struct chal_raw, domain), SIP_AUTH_MAX_URI },
};

/* qop-options: a comma list; "auth" is the only option a request without its body
 * at hand can answer. 0, ENOTSUP (auth-int only) or EBADMSG (no option at all). */
static int qop_check(struct sip_auth_chal *ch)
{
	struct pl cur = ch->qop;
	bool any = false;
	while (cur.l) {
		long comma = pl_chr(&cur, ',');
		size_t n = comma < 0 ? cur.l : (size_t)comma;
		struct pl opt = pl_trim(pl_from(cur.p, n));
		adv(&cur, comma < 0 ? n : n + 1);
		any = any || opt.l;
		ch->qop_auth = ch->qop_auth || pl_caseeq_str(&opt, "auth");
	}
	if (!any)
		return EBADMSG;
	return ch->qop_auth ? 0 : ENOTSUP;
}

static int chal_check(struct chal_raw *r)
{
	struct sip_auth_chal *ch = &r->ch;
	if (!ch->realm.p || !ch->nonce.p || !ch->nonce.l)
		return EBADMSG;
	ch->alg = SIP_AUTH_MD5;
	if (ch->algorithm.p && alg_find(&ch->algorithm, &ch->alg))
		return ENOTSUP; /* another challenge of the response may do */
	/* A token by the grammar; a quoted "true" is read the same, leniently. */
	ch->stale = r->stale.p && pl_caseeq_str(&r->stale, "true");
	return ch->qop.p ? qop_check(ch) : 0;
}

int sip_auth_chal_parse(struct sip_auth_chal *ch, const struct pl *hval)
{
	if (!ch || !hval)
		return EINVAL;
	struct chal_raw r;
	memset(&r, 0, sizeof(r));
	struct pl scheme;
	int err = params_parse(hval, &scheme, chal_fields, sizeof(chal_fields) / sizeof(chal_fields[0]), &r);
	if (!err)
		err = chal_check(&r);
	if (err)
		memset(ch, 0, sizeof(*ch));
	else
		*ch = r.ch;
	return err;
}

int sip_auth_chal_pick(const struct sip_msg *resp, struct sip_auth_chal *ch, bool *proxy)
{
	if (!resp || !ch || !proxy)
		return EINVAL;
	memset(ch, 0, sizeof(*ch));
	if (resp->req || (resp->scode != 401 && resp->scode != 407))
		return ENOENT;
	/* One challenge per header field (RFC 3261 §25.1): commas inside a value
	 * separate its parameters, not challenges. */
	enum sip_hdr_id id = resp->scode == 407 ? SIP_HDR_PROXY_AUTHENTICATE : SIP_HDR_WWW_AUTHENTICATE;
	for (const struct sip_hdr *h = sip_msg_hdr(resp, id); h; h = sip_msg_hdr_next(resp, h)) {
		if (sip_auth_chal_parse(ch, &h->val) == 0) {
			*proxy = resp->scode == 407;
			return 0;
		}
	}
	return ENOENT;
}

/* One auth-param of an answer: a quoted-string (escaped) or a token. */
struct cred_param {
	const char *name;
	struct pl val; /* skipped when val.p is NULL */
	bool quoted;
};

static int cred_write(struct mbuf *mb, bool proxy, const struct cred_param *ps, size_t n)
{
	size_t end0 = mb->end, pos0 = mb->pos;
	int err = mbuf_printf(mb, "%s: Digest ", proxy ? "Proxy-Authorization" : "Authorization");
	const char *sep = "";
	for (size_t i = 0; i < n && !err; i++) {
		if (!ps[i].val.p)
			continue;
		const char *q = ps[i].quoted ? "\"" : "";
		err = mbuf_printf(mb, "%s%s=%s", sep, ps[i].name, q);
		if (!err)
			err = ps[i].quoted ? print_quoted(mb, &ps[i].val) : mbuf_write_pl(mb, &ps[i].val);
		if (!err)
			err = mbuf_write_str(mb, q);
		sep = ", ";
	}
	if (!err)
		err = mbuf_write_mem(mb, "\r\n", 2);
	if (err) {
		mb->end = end0;
		mb->pos = pos0;
	}
	return err;
}

int sip_auth_cred_print(struct mbuf *mb, bool proxy, const struct sip_auth_chal *ch, const struct pl *method,
			const char *uri, const char *user, const char *password, uint32_t nc, const char *cnonce)
{
	if (!mb || !ch || !method || !method->l || !uri || !user || !password ||
	    (size_t)ch->alg >= NALGS || !ch->realm.p || !ch->nonce.p)
		return EINVAL;
	const struct alg_info *ai = &algs[ch->alg];
	bool qop = ch->qop_auth;
	struct pl u = pl_cstr(user), pw = pl_cstr(password), cn = pl_cstr(cnonce ? cnonce : "");
	struct digest_in in = { .alg = ch->alg, .method = *method, .uri = pl_cstr(uri), .cnonce = cn };
	/* The server's parser holds us to the same limits as everyone else. */
	if (!u.l || u.l > SIP_AUTH_MAX_FIELD || !text_ok(&u) || !text_ok(&pw) || !in.uri.l ||
	    in.uri.l > SIP_AUTH_MAX_URI || !text_ok(&in.uri) || cn.l > SIP_AUTH_MAX_FIELD ||
	    !text_ok(&cn) || !text_ok(method))
		return EINVAL;
	if (((qop || ai->sess) && !cn.l) || (qop && !nc))
		return EINVAL;

	/* The challenge's values are hashed and printed as text, not as received. */
	char rbuf[SIP_AUTH_MAX_FIELD], nbuf[SIP_AUTH_MAX_FIELD], obuf[SIP_AUTH_MAX_FIELD];
	struct pl realm, opaque = PL_INIT;
	if (sip_auth_unquote(&ch->realm, rbuf, sizeof(rbuf), &realm) ||
	    sip_auth_unquote(&ch->nonce, nbuf, sizeof(nbuf), &in.nonce) ||
	    (ch->opaque.p && sip_auth_unquote(&ch->opaque, obuf, sizeof(obuf), &opaque)))
		return ENOSPC;
	/* A hand-made challenge may hold what the parser would have refused. */
	if (!text_ok(&realm) || !text_ok(&in.nonce) || !text_ok(&opaque))
		return EINVAL;

	char ncs[9];
	if (qop) {
		const uint8_t be[4] = { (uint8_t)(nc >> 24), (uint8_t)(nc >> 16), (uint8_t)(nc >> 8), (uint8_t)nc };
		hex_encode(be, sizeof(be), ncs);
		in.nc = pl_from(ncs, 8);
		in.qop = PL("auth");
	}
	char ha1[SIP_AUTH_HEX_SIZE], resp[SIP_AUTH_HEX_SIZE];
	int err = sip_auth_ha1_compute(ha1, sizeof(ha1), ch->alg, &u, &realm, password);
	if (!err) {
		struct pl a1 = pl_from(ha1, ai->hexlen);
		err = response_digest(resp, sizeof(resp), &in, &a1);
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (err)
		return err;

	const struct cred_param ps[] = {
		{ "username", u, true },
		{ "realm", realm, true },
		{ "nonce", in.nonce, true },
		{ "uri", in.uri, true },
		{ "response", pl_from(resp, ai->hexlen), true },
		{ "algorithm", pl_cstr(ai->name), false },
		{ "opaque", opaque, true },
		{ "qop", qop ? in.qop : (struct pl)PL_INIT, false },
		{ "nc", qop ? in.nc : (struct pl)PL_INIT, false },
		/* -sess without qop (RFC 2617) still needs the server to know cnonce. */
		{ "cnonce", qop || ai->sess ? cn : (struct pl)PL_INIT, true },
	};
	return cred_write(mb, proxy, ps, sizeof(ps) / sizeof(ps[0]));
}
