/* AES-128 in CTR and GCM on the CPU's own AES and carry-less multiply
 * instructions, for SRTP's per-packet work (srtp.c): the key schedule and the
 * GHASH key live in the caller's memory, next to the rest of its keys, and a
 * packet costs no library dispatch. Media-internal; srtp.c falls back to
 * OpenSSL's EVP where the CPU lacks the instructions. */
#ifndef PBXD_MEDIA_AES_H
#define PBXD_MEDIA_AES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MEDIA_AES_ROUND_KEYS = 11 };

struct media_aes {
	_Alignas(16) uint8_t rk[MEDIA_AES_ROUND_KEYS][16]; /* the expanded key */
	_Alignas(16) uint8_t h[16];                         /* GCM: E(K, 0), in GHASH's bit order */
};

/* True when this CPU has AES-NI and PCLMULQDQ (and media_aes_hw_set did not
 * turn them off); without them nothing else here may be called. */
bool media_aes_hw(void);
/* For tests: run srtp.c on the EVP path (false) or back on these (true). */
void media_aes_hw_set(bool on);

/* Expands key; gcm also derives the GHASH key. */
void media_aes_init(struct media_aes *a, const uint8_t key[16], bool gcm);
/* Wipes the keys. */
void media_aes_wipe(struct media_aes *a);

/* AES-CTR in place over p[0..n), the counter block starting at iv and its last
 * 32 bits counting up (SRTP's AES-CM, RFC 3711 §4.1.1: iv's last 16 bits are 0
 * and a packet is far below 2^16 blocks). */
void media_aes_ctr(const struct media_aes *a, const uint8_t iv[16], uint8_t *p, size_t n);

/* AES-GCM (NIST SP 800-38D) with a 12-byte IV in place over p[0..n), the
 * additional data a1 || a2 (a2 may be NULL with a2_len 0). enc: encrypts and
 * writes the 16-byte tag; else checks tag first and decrypts only when it
 * matches. 0, or EBADMSG for a wrong tag (p untouched). */
int media_aes_gcm(const struct media_aes *a, bool enc, const uint8_t iv[12], const uint8_t *a1, size_t a1_len,
		  const uint8_t *a2, size_t a2_len, uint8_t *p, size_t n, uint8_t tag[16]);

#endif
