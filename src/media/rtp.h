/* The RTP fixed header (RFC 3550 §5.1) as the media engine reads it (internal
 * to src/media): one reading of its length for SRTP, DTMF and the transcoder. */
#ifndef MEDIA_RTP_H
#define MEDIA_RTP_H

#include <stddef.h>
#include <stdint.h>

/* The header's length with its CSRCs and extension into *hl: 0, or EBADMSG
 * when p is not version 2 or is shorter than its header says. */
int media_rtp_header_len(const uint8_t *p, size_t len, size_t *hl);

static inline uint32_t media_rtp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
