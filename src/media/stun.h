/* STUN (RFC 5389) as ICE-lite needs it (RFC 8445 §7.3): binding requests parsed
 * and checked (MESSAGE-INTEGRITY with the short-term password, FINGERPRINT,
 * USERNAME, the ICE attributes), success and error responses built. No I/O, so
 * it is unit-tested on RFC 5769's vectors and fuzzed alone (fuzz/fuzz_stun.c). */
#ifndef MEDIA_STUN_H
#define MEDIA_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sa.h"

enum {
	STUN_HDR = 20,
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_SUCCESS = 0x0101,
	STUN_BINDING_ERROR = 0x0111,
	STUN_BINDING_INDICATION = 0x0011,
};

struct stun_msg {
	uint16_t type;
	uint8_t tid[12];
	const uint8_t *buf; /* the message parsed: len bytes */
	size_t len;
	const uint8_t *username; /* NULL when absent */
	size_t username_len;
	size_t integrity_at;  /* offset of MESSAGE-INTEGRITY's header; 0: absent */
	size_t fingerprint_at; /* offset of FINGERPRINT's header; 0: absent */
	uint32_t priority;
	bool use_candidate, controlling, controlled;
	uint64_t tiebreaker;
	/* a comprehension-required attribute (< 0x8000) this code does not know */
	uint16_t unknown_required;
};

/* Whether the datagram may be STUN (RFC 7983: first byte 0..3, the magic
 * cookie, a length that fits): the demultiplexing test, before parsing. */
bool stun_is(const uint8_t *p, size_t len);
/* Parses p[0..len) into m (which points into p). 0, or EBADMSG: not a
 * well-formed STUN message (bad header, an attribute past the end, anything
 * but FINGERPRINT after MESSAGE-INTEGRITY, a FINGERPRINT not last). */
int stun_parse(const uint8_t *p, size_t len, struct stun_msg *m);
/* MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the short-term password) checks. */
bool stun_integrity_ok(const struct stun_msg *m, const void *key, size_t keylen);
/* FINGERPRINT checks (false when absent). */
bool stun_fingerprint_ok(const struct stun_msg *m);

/* A binding success response to tid: XOR-MAPPED-ADDRESS mapped, SOFTWARE when
 * given, MESSAGE-INTEGRITY with key, FINGERPRINT. Returns its length, 0 when
 * cap is too small. */
size_t stun_binding_success(uint8_t *out, size_t cap, const uint8_t tid[12], const struct sa *mapped,
			    const char *software, const void *key, size_t keylen);
/* A binding error response (400 Bad Request, 401 Unauthorized, 487 Role
 * Conflict...), with MESSAGE-INTEGRITY when key is given, and FINGERPRINT. */
size_t stun_binding_error(uint8_t *out, size_t cap, const uint8_t tid[12], uint16_t code, const char *reason,
			  const void *key, size_t keylen);

/* What an ICE agent's connectivity check carries (for tests and, later, for
 * pbxd's own checks as a full agent). */
struct stun_check {
	const char *username; /* "remote-ufrag:local-ufrag" of the receiver */
	uint32_t priority;
	bool use_candidate, controlling;
	uint64_t tiebreaker;
	const char *software; /* NULL: none */
};
size_t stun_binding_request(uint8_t *out, size_t cap, const uint8_t tid[12], const struct stun_check *c,
			    const void *key, size_t keylen);
/* The XOR-MAPPED-ADDRESS of a response, into *out: 0 or ENOENT. */
int stun_xor_mapped(const struct stun_msg *m, struct sa *out);

#endif
