/* pbxd's own SRTP and SRTCP (internal to src/media): RFC 3711's
 * AES_CM_128_HMAC_SHA1_80 with its key derivation, and RFC 7714's
 * AEAD_AES_128_GCM, on OpenSSL's libcrypto.
 *
 * A session is one direction's master key and salt (what the DTLS exporter
 * gives for it, RFC 5764 §4.2): the keys are derived and the cipher and MAC
 * contexts keyed once, at media_srtp_new(); a packet then only sets an IV and
 * runs the cipher (and HMAC) once. Streams (SSRCs) are made at their first
 * packet, at most MEDIA_SRTP_STREAMS of them: on receive only once that
 * packet has authenticated, so forged packets take no room.
 *
 * Packets are processed in place. pkt holds len bytes in a buffer of cap:
 * protect appends the tag (and SRTCP's index) and needs MEDIA_SRTP_MAX_TRAILER
 * bytes of room; unprotect removes them. Returns
 *   0        done, *len updated;
 *   EBADMSG  malformed, too short, or did not authenticate;
 *   EALREADY received before (a replay), or too old for the replay window;
 *   ENOBUFS  no room for the trailer (protect);
 *   ENOSPC   a new SSRC beyond MEDIA_SRTP_STREAMS;
 *   EOVERFLOW  the SRTCP index is exhausted (2^31 packets: rekey).
 * After a failed unprotect the packet's bytes are unspecified (AES-GCM
 * decrypts before it knows); its stream's state is unchanged.
 *
 * Protect does not refuse a packet sent twice (a relayed retransmission);
 * unprotect keeps a replay window of MEDIA_SRTP_WINDOW packets per stream.
 * One thread uses a session (the media worker of its relay). */
#ifndef MEDIA_SRTP_H
#define MEDIA_SRTP_H

#include <stddef.h>
#include <stdint.h>

enum media_srtp_suite {
	MEDIA_SRTP_AES_CM_SHA1_80 = 1, /* key 16, salt 14, tag 10 (RFC 3711, RFC 5764's SRTP_AES128_CM_SHA1_80) */
	MEDIA_SRTP_AEAD_AES_128_GCM,   /* key 16, salt 12, tag 16 (RFC 7714) */
};

enum {
	MEDIA_SRTP_STREAMS = 16,
	MEDIA_SRTP_WINDOW = 128, /* RFC 3711's default; 2.56 s of 20 ms audio */
	MEDIA_SRTP_MAX_TRAILER = 20, /* GCM's SRTCP: tag 16 + E||index 4 */
};

struct media_srtp;

/* key_len must be 16; salt_len 14 (AES-CM) or 12 (GCM). Refcounted: mem_deref(). EINVAL, ENOMEM or EIO. */
int media_srtp_new(struct media_srtp **sp, int suite, const uint8_t *key, size_t key_len, const uint8_t *salt,
		   size_t salt_len);
int media_srtp_protect(struct media_srtp *s, uint8_t *pkt, size_t *len, size_t cap);
int media_srtp_unprotect(struct media_srtp *s, uint8_t *pkt, size_t *len);
int media_srtp_protect_rtcp(struct media_srtp *s, uint8_t *pkt, size_t *len, size_t cap);
int media_srtp_unprotect_rtcp(struct media_srtp *s, uint8_t *pkt, size_t *len);

#endif
