/* libFuzzer target for SRTP and SRTCP unprotect (src/media/srtp.c), what a
 * WebRTC side does to every packet from a checked address. The input is a
 * flags byte (bit 0: AES-GCM, else AES-CM; bit 1: RTCP), then packets, each
 * a 2-byte big-endian length and its bytes (the last may be short). Each
 * packet, in a buffer of exactly its length, is unprotected on one session
 * (streams, ROC and replay window carry over from packet to packet); it
 * cannot authenticate (the session's key is not the one the fuzzer could
 * have seen), so it must be refused. Then the same bytes, taken as
 * plain RTP/RTCP, are protected on another session and unprotected on a third
 * and must come back as they were, once: a replay is refused. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "media/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[16] = "fuzz-srtp-key-16";
static const uint8_t salt[14] = "fuzz-salt-14b!";

/* other: a key no packet of the input was protected with */
static struct media_srtp *session(int suite, bool other)
{
	uint8_t k[16];
	memcpy(k, key, sizeof(k));
	k[0] ^= other;
	struct media_srtp *s = NULL;
	if (media_srtp_new(&s, suite, k, sizeof(k), salt, suite == MEDIA_SRTP_AEAD_AES_128_GCM ? 12 : 14))
		abort();
	return s;
}

static void one(struct media_srtp *rx, struct media_srtp *tx, struct media_srtp *rx2, bool rtcp, const uint8_t *p,
		size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	memcpy(b, p, n);
	size_t len = n;
	int e = rtcp ? media_srtp_unprotect_rtcp(rx, b, &len) : media_srtp_unprotect(rx, b, &len);
	if (e == 0 || len != n || (e != EBADMSG && e != EALREADY && e != ENOSPC))
		abort(); /* forged without the key, or a length changed on failure */
	free(b);

	size_t cap = n + MEDIA_SRTP_MAX_TRAILER;
	b = malloc(cap);
	memcpy(b, p, n);
	len = n;
	e = rtcp ? media_srtp_protect_rtcp(tx, b, &len, cap) : media_srtp_protect(tx, b, &len, cap);
	if (e) {
		if (e != EBADMSG && e != ENOSPC)
			abort();
		free(b);
		return;
	}
	uint8_t *again = malloc(len);
	memcpy(again, b, len);
	size_t plen = len;
	e = rtcp ? media_srtp_unprotect_rtcp(rx2, b, &len) : media_srtp_unprotect(rx2, b, &len);
	/* a sequence number from before the stream's window (RTP's index is the
	 * sender's guess, as the receiver's) is refused; anything else passes */
	if (e == 0) {
		if (len != n || memcmp(b, p, n) != 0)
			abort();
		e = rtcp ? media_srtp_unprotect_rtcp(rx2, again, &plen) : media_srtp_unprotect(rx2, again, &plen);
		if (e != EALREADY)
			abort();
	} else if (e != EALREADY && e != ENOSPC) {
		abort();
	}
	free(again);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int suite = data[0] & 1 ? MEDIA_SRTP_AEAD_AES_128_GCM : MEDIA_SRTP_AES_CM_SHA1_80;
	bool rtcp = data[0] & 2;
	struct media_srtp *rx = session(suite, true), *tx = session(suite, false), *rx2 = session(suite, false);
	size_t at = 1;
	for (int k = 0; k < 64 && at < size; k++) {
		size_t n = size - at;
		if (n >= 2) {
			size_t want = (size_t)data[at] << 8 | data[at + 1];
			at += 2;
			n = want < size - at ? want : size - at;
		} else {
			at += n;
			n = 0;
		}
		one(rx, tx, rx2, rtcp, data + at, n);
		at += n;
	}
	mem_deref(rx);
	mem_deref(tx);
	mem_deref(rx2);
	return 0;
}
