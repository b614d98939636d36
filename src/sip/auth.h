/* SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760). Server side: the
 * challenge a 401/407 carries, the parser for the credentials that come back, and
 * the check of those credentials. One struct sip_auth guards every method that
 * needs it (REGISTER, INVITE, MESSAGE, SUBSCRIBE, REFER) for every tenant realm.
 * Client side (at the end): reading a trunk's challenge and answering it, for
 * pbxd's own REGISTERs and INVITEs to carriers; it keeps no state.
 *
 * Nonces are stateless: each one carries its issue time and an HMAC over that time
 * and the realm, so any nonce we issued can be checked without remembering it, and
 * a restart (new key) invalidates every outstanding nonce. The only state kept is a
 * bounded table of the highest nonce-count seen per nonce, against replays.
 *
 * A struct sip_auth is not thread-safe: it belongs to the thread that owns the
 * SIP stack, like every other pbxd object. */
#ifndef SIP_AUTH_H
#define SIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/pl.h"

struct sip_msg;

/* Limits on what is read from the network; longer is malformed. */
enum {
	SIP_AUTH_MAX_HVAL = 8192,  /* a whole credentials or challenge header value */
	SIP_AUTH_MAX_PARAMS = 32,  /* parameters in one credentials or challenge value */
	SIP_AUTH_MAX_FIELD = 256,  /* any parameter value but uri and domain */
	SIP_AUTH_MAX_URI = 2048,   /* digest-uri; a challenge's domain list */
	SIP_AUTH_HEX_SIZE = 65,    /* a hex digest (SHA-256 is the longest) plus NUL */
};

/* Digest algorithms of RFC 7616 §6.1 (RFC 8760 for SIP). Absent means MD5. */
enum sip_auth_alg {
	SIP_AUTH_MD5 = 0,
	SIP_AUTH_MD5_SESS,
	SIP_AUTH_SHA256,
	SIP_AUTH_SHA256_SESS,
	SIP_AUTH_SHA512_256,
	SIP_AUTH_SHA512_256_SESS,
};

enum sip_auth_result {
	SIP_AUTH_OK,
	SIP_AUTH_FAIL,      /* wrong digest, realm, qop or a replayed nonce-count: 401/403 */
	SIP_AUTH_STALE,     /* right digest on a nonce that can no longer be used:
	                       challenge again with stale=true */
	SIP_AUTH_BAD_NONCE, /* not a nonce we issued for this realm: challenge again */
};

struct sip_auth;

/* Parsed Authorization / Proxy-Authorization value. Every field is a slice of the
 * header value; quoted values are given without their quotes but otherwise as
 * received (backslash escapes, folded lines): use sip_auth_unquote() for the text
 * itself, e.g. to look the username up. Absent fields have p == NULL. */
struct sip_auth_cred {
	struct pl scheme;
	struct pl username;
	struct pl realm;
	struct pl nonce;
	struct pl uri;
	struct pl response;
	struct pl algorithm;
	struct pl cnonce;
	struct pl opaque;
	struct pl qop;
	struct pl nc;
	enum sip_auth_alg alg; /* decoded algorithm */
	uint32_t ncv;          /* decoded nc, 0 when absent */
};

/* Creates the authenticator with a fresh random HMAC key; nonces older than
 * nonce_lifetime_s seconds are stale. Returns 0, EINVAL, ENOMEM or EIO (no
 * randomness). Free with mem_deref(). */
int sip_auth_alloc(struct sip_auth **ap, uint32_t nonce_lifetime_s);

/* Which algorithms are challenged, most preferred first (RFC 8760 §2.4: a client
 * takes the first it supports). Default SHA-256 then MD5. Many deployed phones
 * and SIPp answer only the first challenge and only know MD5, so a PBX may put
 * MD5 first. Only MD5, SHA-256 and SHA-512-256 (not -sess); at most 4. 0 or EINVAL. */
int sip_auth_offer_set(struct sip_auth *a, const enum sip_auth_alg *algs, size_t n);
/* Parses "MD5,SHA-256" into algs; 0, or EINVAL for an unknown or -sess name. */
int sip_auth_offer_parse(const char *list, enum sip_auth_alg *algs, size_t max, size_t *n);

/* Appends the challenge header lines (each ending CRLF) for realm at time now_s:
 * WWW-Authenticate (Proxy-Authenticate when proxy), one per offered algorithm in
 * order (see sip_auth_offer_set); stale=true when stale. Returns 0, EINVAL (realm
 * empty, too long, or with control characters) or the mbuf's error. */
int sip_auth_challenge_print(struct mbuf *mb, struct sip_auth *a, bool proxy,
			     const struct pl *realm, bool stale, uint64_t now_s);
/* As sip_auth_challenge_print, for a stateless answer to a request that has proved
 * nothing (its source may be forged, and every byte is then reflected): without
 * opaque (optional, RFC 7616 §3.3; a nonce's HMAC already ties it to this run, and
 * sip_auth_verify accepts credentials without one), and offering the first
 * algorithm always but each further one only while the lines written stay within
 * room bytes. The caller sizes room so that the whole answer stays within a small
 * multiple of the request: a phone's REGISTER gets every algorithm, a minimal
 * probe only the first. */
int sip_auth_challenge_print_lean(struct mbuf *mb, struct sip_auth *a, bool proxy,
				  const struct pl *realm, bool stale, uint64_t now_s, size_t room);

/* Parses an Authorization / Proxy-Authorization header value. Returns 0, ENOTSUP
 * when the scheme is not Digest, or EBADMSG when malformed (including a missing
 * username, realm, nonce, uri or response, a bad nc, qop without cnonce and nc,
 * an unknown algorithm, a duplicate parameter, or anything over the limits). */
int sip_auth_cred_parse(struct sip_auth_cred *c, const struct pl *hval);

/* Removes backslash escapes and turns each folded line break into one SP, writing
 * into buf; *out is the result (a slice of buf, not NUL-terminated). Returns 0 or
 * ENOSPC. */
int sip_auth_unquote(const struct pl *val, char *buf, size_t size, struct pl *out);

/* Lowercase hex H(user:realm:password) into out (SIP_AUTH_HEX_SIZE bytes suffice),
 * NUL-terminated: what a store keeps instead of the password. For the -sess
 * algorithms this is the base HA1; the per-session step happens at verification.
 * Returns 0, ENOSPC or EIO (digest unavailable, e.g. MD5 in FIPS mode). */
int sip_auth_ha1_compute(char *out, size_t size, enum sip_auth_alg alg, const struct pl *user,
			 const struct pl *realm, const char *password);

/* The response the client should have sent for credentials c on a request with
 * method, given the hex HA1 (as from sip_auth_ha1_compute): RFC 7616 §3.4.1 with
 * qop=auth, RFC 2069 without qop. Lowercase hex into out, NUL-terminated. Returns
 * 0, EINVAL (HA1 not hex of the algorithm's length, qop other than auth), ENOSPC
 * or EIO. */
int sip_auth_response_compute(char *out, size_t size, const struct sip_auth_cred *c,
			      const struct pl *method, const char *ha1_hex);

/* Checks parsed credentials for a request with method, against the realm the
 * request is for and the user's password, at time now_s. In order: nonce
 * authentic for this realm and opaque ours (else BAD_NONCE), realm and qop
 * (else FAIL), the digest (compared in constant time, else FAIL), nonce age (else
 * STALE), nonce-count above the highest seen for this nonce (else FAIL; with no
 * qop, RFC 2069, a nonce is good for one request and reuse is STALE). The caller
 * still checks that c->uri matches the Request-URI (RFC 3261 §22.4). */
enum sip_auth_result sip_auth_verify(struct sip_auth *a, const struct sip_auth_cred *c,
				     const struct pl *method, const struct pl *realm,
				     const char *password, uint64_t now_s);

/* As sip_auth_verify, with the stored hex HA1 for c->alg instead of the password
 * (an HA1 of another algorithm's length is FAIL). */
enum sip_auth_result sip_auth_verify_ha1(struct sip_auth *a, const struct sip_auth_cred *c,
					 const struct pl *method, const struct pl *realm,
					 const char *ha1_hex, uint64_t now_s);

/* The RFC 7616 name of alg ("MD5", "SHA-256", ...). */
const char *sip_auth_alg_name(enum sip_auth_alg alg);

/* ---- client side ---- */

/* One challenge (a WWW-Authenticate or Proxy-Authenticate value). Every pl is a
 * slice of the value as received, without quotes (escapes and folds kept, as in
 * struct sip_auth_cred); absent ones have p == NULL. */
struct sip_auth_chal {
	struct pl realm, nonce, opaque, algorithm, qop; /* qop: the list as received, unquoted */
	enum sip_auth_alg alg;  /* decoded; MD5 when absent */
	bool stale;
	bool qop_auth;          /* "auth" among the qop options */
};

/* Parses one challenge value. 0; ENOTSUP when the scheme is not Digest, the
 * algorithm is unknown, or qop is offered without "auth" (auth-int only); EBADMSG
 * when malformed (no realm or nonce, an empty nonce or qop list, duplicate
 * parameters, over the limits of SIP_AUTH_MAX_*). Unknown parameters (domain,
 * charset, userhash...) are checked against the limits and ignored. On error *ch
 * is zeroed. */
int sip_auth_chal_parse(struct sip_auth_chal *ch, const struct pl *hval);

/* The challenge of a 401/407 response to answer: among every WWW-Authenticate
 * (401) or Proxy-Authenticate (407) header of resp, the first that parses, i.e.
 * whose algorithm this code supports (RFC 8760 §2.4: a server lists its preferred
 * first). *proxy says which kind. 0, ENOENT (none usable, or not a 401/407) or
 * EINVAL. Only one challenge is picked: a 407 that carries challenges of several
 * proxies' realms (RFC 3261 §22.3) gets an answer for the first only. */
int sip_auth_chal_pick(const struct sip_msg *resp, struct sip_auth_chal *ch, bool *proxy);

/* Appends the line "Authorization: Digest ..." CRLF (Proxy-Authorization when proxy)
 * answering ch for a request with method and Request-URI uri, as user with
 * password: username, realm, nonce, uri, response, algorithm (always, by its RFC
 * 7616 name), opaque when the challenge had one, and when qop=auth was offered:
 * qop=auth, nc (8 hex digits of nc) and cnonce. The -sess algorithms use cnonce in
 * HA1 and send it with or without qop. The challenge's values are unquoted and
 * every quoted value is printed escaped (RFC 3261 §25.1, RFC 7616 §3.4). Returns 0;
 * EINVAL (empty cnonce with qop or a -sess algorithm, nc 0 with qop, empty user or
 * uri or method, control characters in user/password/uri/cnonce, user or cnonce
 * over SIP_AUTH_MAX_FIELD, uri over SIP_AUTH_MAX_URI); ENOSPC (a challenge value
 * too long to unquote); EIO (digest unavailable); or the mbuf's error (EMSGSIZE,
 * ENOMEM), in which case nothing is appended. */
int sip_auth_cred_print(struct mbuf *mb, bool proxy, const struct sip_auth_chal *ch, const struct pl *method,
			const char *uri, const char *user, const char *password, uint32_t nc, const char *cnonce);

#endif
